"""Settings shared by every environment. Everything configurable is read through ``env``."""

from __future__ import annotations

from pathlib import Path

import dj_database_url

from .env import env_bool, env_float, env_int, env_list, env_str

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
    "mlservice.api",
    "requestlog",
    "health",
    "complexity",
    "embeddings",
    "rag",
    "analysis",
    "generation",
    "transcription",
]

# Kept short on purpose: every middleware costs on every request (shared/spec/serving-bench.md).
MIDDLEWARE = [
    "mlservice.api.middleware.RequestContextMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "mlservice.urls"
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
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],
    "UNAUTHENTICATED_USER": None,
    "EXCEPTION_HANDLER": "mlservice.api.exceptions.contract_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "SynthStack ML Service (Django)",
    "DESCRIPTION": (
        "Drop-in replacement for the SynthStack ML service. Every endpoint answers at its "
        "unprefixed path and under /api/v1/; request fields are accepted in camelCase or snake_case."
    ),
    "VERSION": SERVICE_VERSION,
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "PREPROCESSING_HOOKS": ["mlservice.api.schema.only_versioned_paths"],
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

# --- Embeddings (issue 3)

# --- RAG (issue 4)

# --- LLM, analysis, generation (issue 5)
# Default model per provider when DEFAULT_LLM_MODEL is empty (OpenAI key first, then Anthropic).
OPENAI_DEFAULT_MODEL = env_str("OPENAI_DEFAULT_MODEL", "gpt-4o-mini")
ANTHROPIC_DEFAULT_MODEL = env_str("ANTHROPIC_DEFAULT_MODEL", "claude-haiku-4-5")
# A model name the router cannot serve (gpt-* with no OpenAI key, claude-* with no Anthropic key)
# goes to the default provider instead of failing; the response names the model actually used.
LLM_FALLBACK_TO_DEFAULT = env_bool("LLM_FALLBACK_TO_DEFAULT", True)
# The bundled local generative model (llama.cpp GGUF); off = no local generation.
LLM_LOCAL_ENABLED = env_bool("LLM_LOCAL_ENABLED", True)
LLM_LOCAL_THREADS = env_int("LLM_LOCAL_THREADS", 2, min_value=1)
LLM_LOCAL_CONTEXT = env_int("LLM_LOCAL_CONTEXT", 4096, min_value=256)
# Analysis: "auto" uses a cloud/compatible LLM when one is configured, local methods otherwise;
# "local" always uses the local methods; "llm" requires an LLM (503 without one).
ANALYSIS_BACKEND = env_str("ANALYSIS_BACKEND", "auto").lower()
ANALYSIS_MAX_TEXT_CHARS = env_int("ANALYSIS_MAX_TEXT_CHARS", 100_000, min_value=100)
IMAGE_MODEL = env_str("IMAGE_MODEL", "dall-e-3")


# --- Transcription (issue 6)

# --- Request logging (contract section 7)
ENABLE_REQUEST_LOGGING = env_bool("ENABLE_REQUEST_LOGGING", True)
ENABLE_USAGE_ANALYTICS = env_bool("ENABLE_USAGE_ANALYTICS", True)
ENABLE_DB_CACHE = env_bool("ENABLE_DB_CACHE", True)
# Write log rows in the request thread (tests) instead of the background writer.
REQUEST_LOG_SYNC = env_bool("REQUEST_LOG_SYNC", False)
REQUEST_LOG_QUEUE_SIZE = env_int("REQUEST_LOG_QUEUE_SIZE", 10_000, min_value=100)
REQUEST_LOG_MAX_PAYLOAD_BYTES = env_int("REQUEST_LOG_MAX_PAYLOAD_BYTES", 64 * 1024, min_value=0)

LOG_LEVEL = env_str("LOG_LEVEL", "INFO").upper()
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
    },
    "filters": {"request_id": {"()": "mlservice.api.middleware.RequestIdLogFilter"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["request_id"]},
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.request": {"level": "ERROR"},
        "django.server": {"level": "WARNING"},
    },
}
