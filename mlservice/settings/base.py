"""Settings shared by every environment. Everything configurable is read through ``env``."""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url

from .env import env_bool, env_choice, env_float, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent.parent
# Local state (SQLite database, embedded vector store, model caches, uploads) lives here.
DATA_DIR = Path(env_str("MLSERVICE_DATA_DIR", str(BASE_DIR / "var"))).resolve()

SECRET_KEY = env_str("DJANGO_SECRET_KEY", "django-insecure-development-only-key-change-me")
DEBUG = env_bool("DJANGO_DEBUG", False)
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", ["*"])
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", [])

SERVICE_NAME = "django"
SERVICE_VERSION = "0.1.0"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    # Swagger UI and ReDoc assets served from our static files, not a CDN (docs work offline).
    "drf_spectacular_sidecar",
    "mlservice.api",
    "apikeys",
    "requestlog",
    "health",
    "complexity",
    "embeddings",
    "rag",
    "analysis",
    "generation",
    "transcription",
    "rerank",
]

# Kept short on purpose: every middleware costs on every request (shared/spec/serving-bench.md).
MIDDLEWARE = [
    "mlservice.api.middleware.RequestContextMiddleware",
    # Only with DEBUG on (it removes itself otherwise): JSON errors instead of Django's debug pages.
    "mlservice.api.error_pages.ContractErrorPagesMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "mlservice.api.middleware.BrowserSessionMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "mlservice.api.middleware.BrowserAuthenticationMiddleware",
    "mlservice.api.middleware.BrowserMessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

# --- CORS (django-cors-headers): off unless CORS_ALLOWED_ORIGINS lists origins (comma-separated,
# e.g. "https://app.example.com,http://localhost:3000"). The gateway calls us server-to-server;
# browsers calling directly need this. Off, neither the app nor its middleware is loaded.
CORS_ALLOWED_ORIGINS = env_list("CORS_ALLOWED_ORIGINS", [])
CORS_ALLOW_CREDENTIALS = env_bool("CORS_ALLOW_CREDENTIALS", False)
CORS_ALLOW_HEADERS = (
    "accept",
    "authorization",
    "content-type",
    "origin",
    "user-agent",
    "x-api-key",
    "x-csrftoken",
    "x-request-id",
    "x-requested-with",
)
CORS_EXPOSE_HEADERS = ["X-Request-ID", "Retry-After", "X-Error-Code"]
CORS_PREFLIGHT_MAX_AGE = env_int("CORS_PREFLIGHT_MAX_AGE", 86400, min_value=0)
if CORS_ALLOWED_ORIGINS:
    INSTALLED_APPS.append("corsheaders")
    # First, so preflights are answered before authentication and every response gets the headers.
    MIDDLEWARE.insert(0, "corsheaders.middleware.CorsMiddleware")

ROOT_URLCONF = "mlservice.urls"
# `python manage.py test` runs the pytest suite, the same tests as `pytest` (mlservice/test_runner.py).
TEST_RUNNER = "mlservice.test_runner.PytestTestRunner"
WSGI_APPLICATION = "mlservice.wsgi.application"
ASGI_APPLICATION = "mlservice.asgi.application"
# Gateway paths have no trailing slash; a redirect would turn POSTs into GETs.
APPEND_SLASH = False

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database: SQLite by default, PostgreSQL (or anything dj-database-url knows) via DATABASE_URL.
DATABASE_URL = env_str("DATABASE_URL", "")
DATABASES = {
    "default": dj_database_url.parse(
        DATABASE_URL or f"sqlite:///{DATA_DIR / 'db.sqlite3'}",
        conn_max_age=env_int("DB_CONN_MAX_AGE", 60, min_value=0),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    DATABASES["default"].setdefault("OPTIONS", {})["connect_timeout"] = env_int("DB_CONNECT_TIMEOUT", 3, min_value=1)
elif DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets readers proceed while the request-log writer commits.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 5, "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"}
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
IS_POSTGRES = DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"

# --- Cache: local memory by default, Redis via REDIS_URL (Django's own Redis backend).
REDIS_URL = env_str("REDIS_URL", "")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "mlservice",
            "TIMEOUT": env_int("CACHE_TIMEOUT", 7 * 24 * 3600, min_value=1),
            # Short socket timeouts: a stopped or hung Redis must degrade to "no cache" quickly.
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "mlservice",
            "TIMEOUT": env_int("CACHE_TIMEOUT", 7 * 24 * 3600, min_value=1),
            "OPTIONS": {"MAX_ENTRIES": 50_000},
        }
    }

# Throttle and admin-login counters must be shared by the worker processes (a per-process cache
# let 2 workers admit twice the limit): Redis when configured, else one SQLite file per machine,
# ~0.15 ms per check here where Django's file-based cache took ~4.5 ms (mlservice/api/sqlite_cache.py).
# Several instances without Redis each count on their own.
CACHES["throttle"] = (
    {**CACHES["default"]}
    if REDIS_URL
    else {
        "BACKEND": "mlservice.api.sqlite_cache.SQLiteCache",
        "LOCATION": env_str("THROTTLE_CACHE_PATH", str(DATA_DIR / "throttle.sqlite3")),
        "KEY_PREFIX": "mlservice",
        "TIMEOUT": 3600,
    }
)

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"

# Bodies: at least the TS service's 1 MiB for JSON; uploads have their own limit (transcription).
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("MAX_JSON_BODY_BYTES", 10 * 1024 * 1024, min_value=1024 * 1024)
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024

REST_FRAMEWORK = {
    "DEFAULT_RENDERER_CLASSES": ["mlservice.api.renderers.ORJSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["mlservice.api.parsers.ORJSONParser"],
    "DEFAULT_AUTHENTICATION_CLASSES": ["mlservice.api.auth.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["mlservice.api.auth.HasApiKeyWhenConfigured"],
    "DEFAULT_THROTTLE_CLASSES": ["mlservice.api.auth.ApiKeyRateThrottle", "mlservice.api.auth.IpRateThrottle"],
    # DRF rate strings such as "600/min"; empty = no limit. Per-IP limits behind a gateway count the
    # gateway as one client, so they are off unless asked for.
    "DEFAULT_THROTTLE_RATES": {
        "api_key": env_str("THROTTLE_RATE_PER_KEY", "") or None,
        "ip": env_str("THROTTLE_RATE_PER_IP", "") or None,
    },
    # Trusted proxies in front of the service; 0 ignores X-Forwarded-For (mlservice/api/client_ip.py).
    # Never None: to DRF, None means "believe the whole header", which any client can write.
    "NUM_PROXIES": env_int("NUM_PROXIES", 0, min_value=0, max_value=10),
    "UNAUTHENTICATED_USER": None,
    "EXCEPTION_HANDLER": "mlservice.api.exceptions.contract_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "mlservice.api.schema.ServiceAutoSchema",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "SynthStack ML Service (Django)",
    "DESCRIPTION": (
        "Drop-in replacement for the SynthStack ML service. Every endpoint answers at its "
        "unprefixed path and under /api/v1/; request fields are accepted in camelCase or snake_case.\n\n"
        "**Authentication.** Open when no API key is configured. Once keys are configured "
        "(ML_SERVICE_API_KEYS or `manage.py apikey create`), every route except the probes "
        "/health and /live needs one, sent either as `Authorization: Bearer <key>` or as "
        "`X-API-Key: <key>` (one of the two, not both).\n\n"
        'Errors have the shape `{"success": false, "error": "...", "statusCode": N}`; '
        'validation errors add `"message": [...]`.'
    ),
    "VERSION": SERVICE_VERSION,
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "PREPROCESSING_HOOKS": ["mlservice.api.schema.only_versioned_paths"],
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "mlservice.api.schema.tag_descriptions",
    ],
    # Assets from drf-spectacular-sidecar (collected into STATIC_ROOT), so the docs load offline.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "persistAuthorization": True, "displayRequestDuration": True},
}

# --- ML configuration (names follow the SynthStack docs and TS service).
OPENAI_API_KEY = env_str("OPENAI_API_KEY", "")
OPENAI_BASE_URL = env_str("OPENAI_BASE_URL", "")
ANTHROPIC_API_KEY = env_str("ANTHROPIC_API_KEY", "")
ANTHROPIC_BASE_URL = env_str("ANTHROPIC_BASE_URL", "")
QDRANT_URL = env_str("QDRANT_URL", "")
QDRANT_API_KEY = env_str("QDRANT_API_KEY", "")
# Empty means "choose": OpenAI's text-embedding-3-small with a key, the local MiniLM without one.
EMBEDDING_MODEL = env_str("EMBEDDING_MODEL", "")
EMBEDDING_DIMENSIONS = env_int("EMBEDDING_DIMENSIONS", 0, min_value=0)
DEFAULT_LLM_MODEL = env_str("DEFAULT_LLM_MODEL", "")
DEFAULT_TEMPERATURE = env_float("DEFAULT_TEMPERATURE", 0.7, min_value=0.0, max_value=2.0)
DEFAULT_MAX_TOKENS = env_int("DEFAULT_MAX_TOKENS", 2000, min_value=1)
PROVIDER_TIMEOUT_SECONDS = env_float("PROVIDER_TIMEOUT_SECONDS", 60.0, min_value=1.0)
PROVIDER_MAX_RETRIES = env_int("PROVIDER_MAX_RETRIES", 2, min_value=0, max_value=10)
# Load local models at process start so the first request does not pay for it.
WARM_MODELS_ON_START = env_bool("WARM_MODELS_ON_START", True)

# --- Serving model (issue 10; services/model_gate.py, README "Production")
# Local model work runs behind a gate per model: `concurrency` runs at once per worker process and
# at most `queue` more waiting; anything beyond is refused at once with 503 + Retry-After (TEI's
# --max-concurrent-requests, Ollama's OLLAMA_MAX_QUEUE). Slow upstream calls (OpenAI, Anthropic)
# hold no gate: they wait on a server thread, and there are many (SERVER_THREADS).
MODEL_GATES = {
    "local-embeddings": {
        "concurrency": env_int("EMBEDDING_MAX_CONCURRENT", 1, min_value=1, max_value=64),
        "queue": env_int("EMBEDDING_MAX_QUEUE", 32, min_value=0, max_value=10_000),
    },
    "local-whisper": {
        "concurrency": env_int("TRANSCRIPTION_MAX_CONCURRENT", 1, min_value=1, max_value=64),
        "queue": env_int("TRANSCRIPTION_MAX_QUEUE", 4, min_value=0, max_value=10_000),
    },
    "local-llm": {
        "concurrency": env_int("LOCAL_LLM_MAX_CONCURRENT", 1, min_value=1, max_value=64),
        "queue": env_int("LOCAL_LLM_MAX_QUEUE", 16, min_value=0, max_value=10_000),
    },
}
# Threads per server process for API requests (mlservice/serving.py): a thread waiting on an
# upstream costs memory, not a slot. Past SERVER_THREADS + SERVER_QUEUE requests in progress a
# process answers 503 + Retry-After at once. Probes have SERVER_PROBE_THREADS of their own.
SERVER_WORKERS = env_int("SERVER_WORKERS", 2, min_value=1, max_value=64)
SERVER_THREADS = env_int("SERVER_THREADS", 64, min_value=1, max_value=1024)
SERVER_QUEUE = env_int("SERVER_QUEUE", 256, min_value=0, max_value=100_000)
SERVER_PROBE_THREADS = env_int("SERVER_PROBE_THREADS", 2, min_value=1, max_value=16)
# A request body must arrive within SERVER_BODY_TIMEOUT_SECONDS, with no pause longer than the
# idle timeout (408 otherwise); slow clients wait on the event loop, never on a thread.
SERVER_BODY_TIMEOUT_SECONDS = env_float("SERVER_BODY_TIMEOUT_SECONDS", 60.0, min_value=1.0)
SERVER_BODY_IDLE_TIMEOUT_SECONDS = env_float("SERVER_BODY_IDLE_TIMEOUT_SECONDS", 15.0, min_value=0.5)
# A streamed answer (SSE) ends with an error event after this long, and the ASGI front stops it
# (closing it stops the generation) a little later still if no event came: no stream holds a
# server thread or a model slot without bound. A client that disconnects stops its stream at once.
SERVER_STREAM_TIMEOUT_SECONDS = env_float("SERVER_STREAM_TIMEOUT_SECONDS", 300.0, min_value=1.0, max_value=86_400.0)
# A connection whose request headers do not arrive within this long is closed (granian).
SERVER_HEADER_TIMEOUT_SECONDS = env_float("SERVER_HEADER_TIMEOUT_SECONDS", 10.0, min_value=1.0, max_value=300.0)
# Longest wait for a model slot before the request is refused (503 + Retry-After of about this).
MODEL_QUEUE_TIMEOUT_SECONDS = env_float("MODEL_QUEUE_TIMEOUT_SECONDS", 30.0, min_value=0.1, max_value=600.0)
# Local embeddings: concurrent requests are gathered into one model call for this long (dynamic
# batching, as Infinity and TEI do); 0 turns it off. At most EMBEDDING_BATCH_MAX_TEXTS per call.
EMBEDDING_BATCH_WINDOW_MS = env_float("EMBEDDING_BATCH_WINDOW_MS", 2.0, min_value=0.0, max_value=1000.0)
EMBEDDING_BATCH_MAX_TEXTS = env_int("EMBEDDING_BATCH_MAX_TEXTS", 64, min_value=1, max_value=4096)
# Texts waiting for the local embedding model per worker, beyond which a request is refused at once
# (503 + Retry-After): 600 texts of 200 words are about 7 s of one core's work.
EMBEDDING_MAX_QUEUED_TEXTS = env_int("EMBEDDING_MAX_QUEUED_TEXTS", 600, min_value=1, max_value=1_000_000)
# Request bodies in progress on the local-embedding routes per worker, counted by the ASGI front
# from Content-Length before a body is read (mlservice/serving.py RouteLane): past it a request is
# refused at once with 503 + Retry-After, so a burst of large batches never queues for a thread to
# parse it only to be refused (one request alone always passes). 1 MiB is about 800 texts of 200 words.
EMBEDDING_MAX_BODY_BYTES_IN_PROGRESS = env_int(
    "EMBEDDING_MAX_BODY_BYTES_IN_PROGRESS", 1024 * 1024, min_value=1024, max_value=1 << 40
)

# --- Embeddings (issue 3)
# Local all-MiniLM-L6-v2 backend: onnx-int8 (fastest; ~0.994 mean cosine to sentence-transformers),
# onnx (fused float32, identical vectors) or torch (sentence-transformers itself).
EMBEDDING_LOCAL_BACKEND = env_choice("EMBEDDING_LOCAL_BACKEND", ("onnx-int8", "onnx", "torch"), "onnx-int8")
# Intra-op threads per worker process; 0 = cores / 2 (the default two granian workers).
EMBEDDING_THREADS = env_int("EMBEDDING_THREADS", 0, min_value=0, max_value=64)
# onnx-int8: concurrent per-text runs within one request; 0 = the machine's cores, so a single
# large request uses them all (with several busy workers the OS shares the cores out).
EMBEDDING_REQUEST_LANES = env_int("EMBEDDING_REQUEST_LANES", 0, min_value=0, max_value=64)
# Texts per model call for the onnx and torch backends, sorted by length so each sub-batch is
# padded only to its longest text (onnx-int8 always runs one text per call; see services/embeddings/local.py).
EMBEDDING_BATCH_SIZE = env_int("EMBEDDING_BATCH_SIZE", 8, min_value=1, max_value=1024)
# Exported ONNX files are cached here (built once, on first use or `manage.py prepare_embedding_model`).
EMBEDDING_MODELS_DIR = Path(env_str("EMBEDDING_MODELS_DIR", str(DATA_DIR / "models"))).resolve()
EMBEDDING_OPENAI_BATCH_SIZE = env_int("EMBEDDING_OPENAI_BATCH_SIZE", 2048, min_value=1, max_value=2048)
# Extra model names an OpenAI-compatible server (OPENAI_BASE_URL) serves, e.g. "nomic-embed-text".
EMBEDDING_OPENAI_MODELS = env_list("EMBEDDING_OPENAI_MODELS", [])
EMBEDDING_CACHE_ENABLED = env_bool("EMBEDDING_CACHE_ENABLED", True)
EMBEDDING_CACHE_ALIAS = env_str("EMBEDDING_CACHE_ALIAS", "default")
EMBEDDING_CACHE_TIMEOUT = env_int("EMBEDDING_CACHE_TIMEOUT", 0, min_value=0)  # 0 = the cache's own default
# After a cache error, embed without cache for this long before trying the cache again.
EMBEDDING_CACHE_RETRY_SECONDS = env_int("EMBEDDING_CACHE_RETRY_SECONDS", 30, min_value=0)
# Inputs per request on the OpenAI-format endpoint POST /v1/embeddings (OpenAI's own limit).
EMBEDDING_MAX_INPUTS = env_int("EMBEDDING_MAX_INPUTS", 2048, min_value=1, max_value=100_000)
# Characters per embedded text (/embeddings/*, /v1/embeddings, RAG queries and whole documents) and
# per request over all its texts; longer is 413 before tokenising. A tokenizer reads all of a text
# although the local model keeps 256 tokens (about 1-2k characters; OpenAI's models 8191 tokens).
EMBEDDING_MAX_TEXT_CHARS = env_int("EMBEDDING_MAX_TEXT_CHARS", 100_000, min_value=1000)
EMBEDDING_MAX_REQUEST_CHARS = env_int("EMBEDDING_MAX_REQUEST_CHARS", 1_000_000, min_value=1000)

# --- RAG (issue 4)
# Vector store: auto = Qdrant when QDRANT_URL is set, pgvector on PostgreSQL, else embedded (DATA_DIR).
RAG_VECTOR_STORE = env_choice("RAG_VECTOR_STORE", ("auto", "embedded", "pgvector", "qdrant"), "auto")
RAG_EMBEDDED_PATH = Path(env_str("RAG_EMBEDDED_PATH", str(DATA_DIR / "rag" / "vectors.sqlite3")))
# Threads that share one dense scan of a large embedded collection; 0 = the machine's cores.
RAG_EMBEDDED_SCAN_THREADS = env_int("RAG_EMBEDDED_SCAN_THREADS", 0, min_value=0, max_value=64)
# Namespace of our collections inside a shared store (the TS service's "synthstack_").
RAG_COLLECTION_PREFIX = env_str("RAG_COLLECTION_PREFIX", "synthstack_")
RAG_MAX_CONTENT_CHARS = env_int("RAG_MAX_CONTENT_CHARS", 2_000_000, min_value=1000)
RAG_MAX_CHUNKS_PER_DOCUMENT = env_int("RAG_MAX_CHUNKS_PER_DOCUMENT", 5000, min_value=1)
RAG_MAX_BATCH_DOCUMENTS = env_int("RAG_MAX_BATCH_DOCUMENTS", 256, min_value=1)
# POST /rag/documents and index_documents (services/documents.py): bytes per file and per request
# (413 while the upload streams in), files per request, PDF pages and extracted characters per file.
RAG_UPLOAD_MAX_FILE_BYTES = env_int("RAG_UPLOAD_MAX_FILE_BYTES", 20 * 1024 * 1024, min_value=1024)
RAG_UPLOAD_MAX_REQUEST_BYTES = env_int("RAG_UPLOAD_MAX_REQUEST_BYTES", 50 * 1024 * 1024, min_value=1024)
RAG_UPLOAD_MAX_FILES = env_int("RAG_UPLOAD_MAX_FILES", 20, min_value=1, max_value=100)
RAG_DOCUMENT_MAX_PAGES = env_int("RAG_DOCUMENT_MAX_PAGES", 2000, min_value=1)
RAG_DOCUMENT_MAX_CHARS = env_int("RAG_DOCUMENT_MAX_CHARS", 2_000_000, min_value=1000)
RAG_DOCUMENT_MAX_SECONDS = env_float("RAG_DOCUMENT_MAX_SECONDS", 60.0, min_value=0.0)  # PDF text, checked per page
# Hybrid retrieval: candidates per ranker, then fusion: "zscore" (weighted sum of per-query
# standardised cosine and BM25 scores) or "rrf" (weighted reciprocal-rank fusion, RAG_RRF_K).
RAG_HYBRID_CANDIDATES = env_int("RAG_HYBRID_CANDIDATES", 100, min_value=5, max_value=1000)
RAG_FUSION = env_choice("RAG_FUSION", ("zscore", "rrf"), "zscore")
RAG_RRF_K = env_float("RAG_RRF_K", 60.0, min_value=1.0)
RAG_DENSE_WEIGHT = env_float("RAG_DENSE_WEIGHT", 1.0, min_value=0.0)
RAG_LEXICAL_WEIGHT = env_float("RAG_LEXICAL_WEIGHT", 1.0, min_value=0.0)
# pgvector: HNSW candidate list; filtered searches also use iterative scans (pgvector >= 0.8).
RAG_PGVECTOR_EF_SEARCH = env_int("RAG_PGVECTOR_EF_SEARCH", 100, min_value=10, max_value=1000)
# /rag/query: auto = the LLM service when it has a model, else an extractive answer.
RAG_ANSWER_MODE = env_choice("RAG_ANSWER_MODE", ("auto", "llm", "extractive"), "auto")
RAG_EXTRACTIVE_SENTENCES = env_int("RAG_EXTRACTIVE_SENTENCES", 3, min_value=1, max_value=20)
RAG_EXTRACTIVE_MAX_CANDIDATES = env_int("RAG_EXTRACTIVE_MAX_CANDIDATES", 200, min_value=1)

# --- Reranking (issue 14): POST /rerank, /v1/rerank and `rerank: true` on /rag/search and /rag/query.
# auto = Cohere, Jina or Voyage when its key is set, else TEI at RERANK_URL, else the local method.
RERANK_PROVIDER = env_choice(
    "RERANK_PROVIDER", ("auto", "local", "tei", "infinity", "cohere", "jina", "voyage"), "auto"
)
# TEI/Infinity server address; for Cohere/Jina/Voyage it replaces their public API address.
RERANK_URL = env_str("RERANK_URL", "")
RERANK_MODEL = env_str("RERANK_MODEL", "")  # empty: the provider's default (rerank-v3.5, rerank-2, ...)
COHERE_API_KEY = env_str("COHERE_API_KEY", "")
JINA_API_KEY = env_str("JINA_API_KEY", "")
VOYAGE_API_KEY = env_str("VOYAGE_API_KEY", "")
RERANK_BATCH_SIZE = env_int("RERANK_BATCH_SIZE", 32, min_value=1, max_value=1000)  # per TEI/Infinity request
RERANK_MAX_DOCUMENTS = env_int("RERANK_MAX_DOCUMENTS", 1000, min_value=1, max_value=100_000)
RERANK_MAX_DOCUMENT_CHARS = env_int("RERANK_MAX_DOCUMENT_CHARS", 20_000, min_value=100)
RERANK_MAX_TOTAL_CHARS = env_int("RERANK_MAX_TOTAL_CHARS", 1_000_000, min_value=1000)
# rag `rerank: true`: rerank max(limit * 4, this) retrieved candidates.
RAG_RERANK_CANDIDATES = env_int("RAG_RERANK_CANDIDATES", 20, min_value=1, max_value=1000)

# --- LLM, analysis, generation (issue 5)
# Default model per provider when DEFAULT_LLM_MODEL is empty (OpenAI key first, then Anthropic).
OPENAI_DEFAULT_MODEL = env_str("OPENAI_DEFAULT_MODEL", "gpt-4o-mini")
ANTHROPIC_DEFAULT_MODEL = env_str("ANTHROPIC_DEFAULT_MODEL", "claude-haiku-4-5")
# A model name the router cannot serve (gpt-* with no OpenAI key, claude-* with no Anthropic key)
# goes to the default provider instead of failing; the response names the model actually used.
LLM_FALLBACK_TO_DEFAULT = env_bool("LLM_FALLBACK_TO_DEFAULT", True)
# Analysis method when a request sends no `method`: "auto" uses a cloud/compatible LLM when one is
# configured, the fast local methods otherwise; "fast" (alias "local") always the fast local methods;
# "llm" any LLM, the local GGUF one included (503 without one). services/analysis_service.py.
ANALYSIS_BACKEND = env_choice("ANALYSIS_BACKEND", ("auto", "fast", "llm"), "auto", aliases={"local": "fast"})
ANALYSIS_MAX_TEXT_CHARS = env_int("ANALYSIS_MAX_TEXT_CHARS", 100_000, min_value=100)
IMAGE_MODEL = env_str("IMAGE_MODEL", "dall-e-3")

# --- Local LLM (issue 15): serves generation, chat, /analysis/generate and RAG answers with no key.
# A packaged model by name (qwen2.5-coder-0.5b-instruct, smollm2-135m-instruct; see README "Local
# models"), the path of any GGUF file, or "" to turn the local LLM off.
LOCAL_LLM_MODEL = env_str("LOCAL_LLM_MODEL", "qwen2.5-coder-0.5b-instruct")
# Packaged models split into chunks are joined (and sha256-checked) here once.
LOCAL_LLM_MODELS_DIR = Path(env_str("LOCAL_LLM_MODELS_DIR", str(DATA_DIR / "models"))).resolve()
# Threads per generation and for reading the prompt. 1 and 1: on 2 shared cores a second thread
# made both slower (llama.cpp's threads spin at barriers when the cores are busy elsewhere).
LOCAL_LLM_THREADS = env_int("LOCAL_LLM_THREADS", 1, min_value=1, max_value=64)
LOCAL_LLM_PROMPT_THREADS = env_int("LOCAL_LLM_PROMPT_THREADS", 1, min_value=1, max_value=64)
# Context window per parallel slot (slots = LOCAL_LLM_MAX_CONCURRENT): prompt plus answer.
LOCAL_LLM_CONTEXT_TOKENS = env_int("LOCAL_LLM_CONTEXT_TOKENS", 4096, min_value=256, max_value=131_072)
# Cap on max_tokens for the local model (a CPU writes ~25 tokens/s; DEFAULT_MAX_TOKENS is 2000).
LOCAL_LLM_MAX_TOKENS = env_int("LOCAL_LLM_MAX_TOKENS", 512, min_value=1, max_value=131_072)


# --- Transcription (issue 6)
# Engine: "auto" uses OpenAI when OPENAI_API_KEY is set (and the request asks for an OpenAI model
# or none), the local Whisper (TRANSCRIPTION_LOCAL_MODEL) otherwise; "local" and "openai" force one engine.
TRANSCRIPTION_BACKEND = env_choice("TRANSCRIPTION_BACKEND", ("auto", "local", "openai"), "auto")
TRANSCRIPTION_OPENAI_MODEL = env_str("TRANSCRIPTION_OPENAI_MODEL", "whisper-1")
# OpenAI's per-file cap; bigger files are sent as FLAC windows (see TRANSCRIPTION_CHUNK_SECONDS).
TRANSCRIPTION_OPENAI_MAX_FILE_BYTES = env_int("TRANSCRIPTION_OPENAI_MAX_FILE_BYTES", 25 * 1000 * 1000, min_value=1024)
# Packaged local Whisper (issue 15): base (multilingual: detects the language, translates) or tiny.en
# (English only, ~1/3 of base's CPU). Same WER on the 4 LibriSpeech clips (benchmarks/transcription.py):
# base is the default for what it can do, not for accuracy. services/transcription/whisper_models.py.
TRANSCRIPTION_LOCAL_MODEL = env_choice("TRANSCRIPTION_LOCAL_MODEL", ("base", "tiny.en"), "base")
# Where chunked models are joined and verified once (whisper-base/model.bin).
TRANSCRIPTION_LOCAL_MODELS_DIR = Path(env_str("TRANSCRIPTION_LOCAL_MODELS_DIR", str(DATA_DIR / "models"))).resolve()
# Silero VAD before Whisper: windows without speech are never decoded (silence and tones cost ~nothing).
TRANSCRIPTION_VAD = env_bool("TRANSCRIPTION_VAD", True)
# Empty: the packaged model above. A path: a user's own CTranslate2 Whisper folder (overrides it).
TRANSCRIPTION_LOCAL_MODEL_PATH = env_str("TRANSCRIPTION_LOCAL_MODEL_PATH", "")
# Empty: the model's own name (whisper-base, whisper-tiny.en), as responses report it.
TRANSCRIPTION_LOCAL_MODEL_NAME = env_str("TRANSCRIPTION_LOCAL_MODEL_NAME", "")
TRANSCRIPTION_LOCAL_THREADS = env_int("TRANSCRIPTION_LOCAL_THREADS", 2, min_value=1, max_value=64)
# CTranslate2's compute types (faster-whisper's compute_type).
TRANSCRIPTION_LOCAL_COMPUTE_TYPE = env_choice(
    "TRANSCRIPTION_LOCAL_COMPUTE_TYPE",
    (
        "int8",
        "int8_float32",
        "int8_float16",
        "int8_bfloat16",
        "int16",
        "float16",
        "bfloat16",
        "float32",
        "auto",
        "default",
    ),
    "int8",
)
TRANSCRIPTION_BEAM_SIZE = env_int("TRANSCRIPTION_BEAM_SIZE", 5, min_value=1, max_value=10)
# 25 MB is OpenAI's upload cap; larger uploads get 413 before they are read in full.
TRANSCRIPTION_MAX_UPLOAD_BYTES = env_int("TRANSCRIPTION_MAX_UPLOAD_BYTES", 25 * 1024 * 1024, min_value=1024)
# Measured by decoding (never from the header), decoding stops there: a 413 that states it.
TRANSCRIPTION_MAX_DURATION_SECONDS = env_float("TRANSCRIPTION_MAX_DURATION_SECONDS", 4 * 3600.0, min_value=1.0)
# /transcription/convert stops writing past this (413): a few KB of FLAC silence can become GB of
# 192 kHz WAV. 128 MiB is 12 min of 44.1 kHz stereo WAV, 70 min of 16 kHz mono WAV.
TRANSCRIPTION_CONVERT_MAX_OUTPUT_BYTES = env_int(
    "TRANSCRIPTION_CONVERT_MAX_OUTPUT_BYTES", 128 * 1024 * 1024, min_value=64 * 1024
)
# /transcription/audio only reads files inside this folder (contract 4.6.1 security note).
TRANSCRIPTION_UPLOAD_DIR = Path(env_str("TRANSCRIPTION_UPLOAD_DIR", str(DATA_DIR / "uploads"))).resolve()
# Scratch files (decoded/converted audio) and the audio of queued jobs (shared with the workers).
TRANSCRIPTION_TEMP_DIR = Path(env_str("TRANSCRIPTION_TEMP_DIR", str(DATA_DIR / "tmp" / "transcription"))).resolve()
TRANSCRIPTION_JOB_DIR = Path(env_str("TRANSCRIPTION_JOB_DIR", str(DATA_DIR / "transcription-jobs"))).resolve()
# Audio longer than this becomes a background job (202 + /transcription/jobs/<id>).
TRANSCRIPTION_ASYNC_THRESHOLD_SECONDS = env_float("TRANSCRIPTION_ASYNC_THRESHOLD_SECONDS", 120.0, min_value=1.0)
# /v1/audio/* (OpenAI's API has no jobs) transcribe within the request up to this; longer is 413.
TRANSCRIPTION_SYNC_MAX_SECONDS = env_float("TRANSCRIPTION_SYNC_MAX_SECONDS", 1800.0, min_value=1.0)
TRANSCRIPTION_CHUNK_SECONDS = env_float("TRANSCRIPTION_CHUNK_SECONDS", 30.0, min_value=5.0, max_value=600.0)
TRANSCRIPTION_CHUNK_OVERLAP_SECONDS = env_float(
    "TRANSCRIPTION_CHUNK_OVERLAP_SECONDS", 3.0, min_value=0.0, max_value=10.0
)
# Jobs run on Celery when a broker is configured, otherwise in a thread of the web process;
# "celery", "thread" or "eager" force one runner.
TRANSCRIPTION_JOB_RUNNER = env_choice("TRANSCRIPTION_JOB_RUNNER", ("auto", "celery", "thread", "eager"), "auto")
# `manage.py transcription_cleanup` (cron): finished jobs kept this long; queued/running jobs with
# no progress for TRANSCRIPTION_JOB_STALE_SECONDS are marked failed.
TRANSCRIPTION_JOB_RETENTION_DAYS = env_float("TRANSCRIPTION_JOB_RETENTION_DAYS", 7.0, min_value=0.0)
TRANSCRIPTION_JOB_STALE_SECONDS = env_float("TRANSCRIPTION_JOB_STALE_SECONDS", 6 * 3600.0, min_value=60.0)
TRANSCRIPTION_COST_PER_MINUTE = env_float("TRANSCRIPTION_COST_PER_MINUTE", 0.006, min_value=0.0)
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", REDIS_URL)
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TASK_IGNORE_RESULT = True  # results live in the job table, not a result backend
CELERY_TASK_ACKS_LATE = True  # a worker that dies mid-job leaves the message for another
CELERY_WORKER_PREFETCH_MULTIPLIER = 1  # jobs are long: do not hoard them
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_BROKER_CONNECTION_TIMEOUT = env_float("CELERY_BROKER_CONNECTION_TIMEOUT", 3.0, min_value=0.1)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True

# --- Request logging (contract section 7)
ENABLE_REQUEST_LOGGING = env_bool("ENABLE_REQUEST_LOGGING", True)
ENABLE_USAGE_ANALYTICS = env_bool("ENABLE_USAGE_ANALYTICS", True)
# Write log rows in the request thread (tests) instead of the background writer.
REQUEST_LOG_SYNC = env_bool("REQUEST_LOG_SYNC", False)
REQUEST_LOG_QUEUE_SIZE = env_int("REQUEST_LOG_QUEUE_SIZE", 10_000, min_value=100)
REQUEST_LOG_MAX_PAYLOAD_BYTES = env_int("REQUEST_LOG_MAX_PAYLOAD_BYTES", 64 * 1024, min_value=0)
# Rows hold client IPs and bodies: `manage.py requestlog_prune` (daily, from cron) deletes ours
# older than this. The per-day usage aggregates are kept.
REQUEST_LOG_RETENTION_DAYS = env_float("REQUEST_LOG_RETENTION_DAYS", 30.0, min_value=0.01)

# --- Production concerns (issue 7)
# API keys: comma-separated raw keys, and/or hashed keys in the database (admin, `manage.py apikey`).
ML_SERVICE_API_KEYS = env_list("ML_SERVICE_API_KEYS", [])
# Each worker checks a version stamp of the key table this often, so a key created or revoked on any
# instance takes effect everywhere within about a second; a full reload happens every
# API_KEY_CACHE_SECONDS regardless (changes made with raw SQL that skip updated_at).
API_KEY_CHECK_SECONDS = env_float("API_KEY_CHECK_SECONDS", 1.0, min_value=0.0, max_value=60.0)
API_KEY_CACHE_SECONDS = env_float("API_KEY_CACHE_SECONDS", 30.0, min_value=0.0)
# Admin login: after this many failed attempts within the window, from one client IP or for one
# username, the form refuses further attempts without checking the password (0 = no limit), so a
# password-guessing loop cannot keep the workers busy hashing (it pushed /live to 2-5 s).
ADMIN_LOGIN_MAX_FAILURES_PER_IP = env_int("ADMIN_LOGIN_MAX_FAILURES_PER_IP", 20, min_value=0)
ADMIN_LOGIN_MAX_FAILURES_PER_USERNAME = env_int("ADMIN_LOGIN_MAX_FAILURES_PER_USERNAME", 5, min_value=0)
ADMIN_LOGIN_FAILURE_WINDOW_SECONDS = env_int("ADMIN_LOGIN_FAILURE_WINDOW_SECONDS", 900, min_value=1)
# /health reuses its capability probes (model installed? provider configured?) this long.
HEALTH_CACHE_SECONDS = env_float("HEALTH_CACHE_SECONDS", 5.0, min_value=0.0)
# Swagger/ReDoc/schema pages behind a Django staff login (on by default in production).
DOCS_REQUIRE_LOGIN = env_bool("DOCS_REQUIRE_LOGIN", False)
LOGIN_URL = "admin:login"
# prometheus_client picks its storage when first imported, so the multiprocess folder (shared by
# the worker processes) must be in the environment before any import of it.
PROMETHEUS_MULTIPROC_DIR = env_str("PROMETHEUS_MULTIPROC_DIR", str(DATA_DIR / "prometheus"))
if PROMETHEUS_MULTIPROC_DIR:
    Path(PROMETHEUS_MULTIPROC_DIR).mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", PROMETHEUS_MULTIPROC_DIR)

LOG_LEVEL = env_choice("LOG_LEVEL", ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"), "INFO")
LOG_FORMAT = env_choice("LOG_FORMAT", ("plain", "json"), "plain")  # "json" for log pipelines
ACCESS_LOG = env_bool("ACCESS_LOG", False)
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
        "json": {"()": "mlservice.api.log_context.JsonFormatter"},
    },
    "filters": {"request_id": {"()": "mlservice.api.log_context.RequestIdLogFilter"}},
    "handlers": {
        "console": {
            "class": "mlservice.api.log_context.BackgroundStreamHandler",
            "formatter": "json" if LOG_FORMAT == "json" else "plain",
            "filters": ["request_id"],
        },
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    # Every line goes through the root's one handler. Django's default config gives "django" a
    # console handler of its own (active under DEBUG) and "django.server" one with propagation
    # off: naming them here drops those handlers, so no line is printed twice in development.
    # django.request lines come from RequestContextMiddleware, with the request id: 4xx at INFO,
    # a dependency down or not configured (502/503/504) at WARNING, a bug (500) at ERROR.
    "loggers": {
        "django": {"handlers": [], "level": LOG_LEVEL, "propagate": True},
        "django.server": {"handlers": [], "level": "WARNING", "propagate": True},
    },
}
