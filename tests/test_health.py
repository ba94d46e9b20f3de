import pytest
from django.test import override_settings

from services import health_service

HEALTH_PATHS = ["/health", "/api/v1/health"]
READY_PATHS = ["/health/ready", "/ready", "/api/v1/health/ready", "/api/v1/ready"]
LIVE_PATHS = ["/health/live", "/live", "/api/v1/live"]


@pytest.mark.parametrize("path", HEALTH_PATHS)
def test_health_has_contract_keys(api, path):
    response = api.get(path)
    assert response.status_code == 200
    body = response.json()
    assert list(body) == ["status", "timestamp", "version", "services", "config"]
    assert body["version"] == "0.1.0"
    assert body["services"]["complexity"] is True
    assert set(body["services"]) == {"embeddings", "rag", "transcription", "analysis", "complexity"}
    assert body["status"] in {"ok", "degraded"}
    assert {"hasOpenAiKey", "hasQdrantUrl", "embeddingModel", "defaultLlmModel"} <= set(body["config"])


@override_settings(OPENAI_API_KEY="sk-test", QDRANT_URL="http://qdrant:6333")
def test_health_reports_configuration(api):
    config = api.get("/health").json()["config"]
    assert config["hasOpenAiKey"] is True
    assert config["hasQdrantUrl"] is True


@pytest.mark.parametrize("path", READY_PATHS)
def test_ready_checks_database_and_cache(api, path):
    response = api.get(path)
    assert response.status_code == 200
    body = response.json()
    assert body["ready"] is True
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["cache"]["ok"] is True


def test_ready_is_503_when_cache_is_down(api):
    dead_redis = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
            "OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2},
        }
    }
    with override_settings(CACHES=dead_redis):  # Django rebuilds its cache handlers on this change
        response = api.get("/ready")
    body = response.json()
    assert response.status_code == 503
    assert body["ready"] is False
    assert body["checks"]["cache"]["ok"] is False
    assert "Error" in body["checks"]["cache"]["error"]


def test_ready_is_503_when_a_registered_dependency_fails(api):
    service = health_service.get_instance()

    def broken() -> None:
        raise ConnectionError("vector store unreachable")

    service.register_check("test-dependency", broken)
    try:
        response = api.get("/health/ready")
    finally:
        service._checks.pop("test-dependency")
    assert response.status_code == 503
    assert response.json()["checks"]["test-dependency"] == {
        "ok": False,
        "latencyMs": pytest.approx(response.json()["checks"]["test-dependency"]["latencyMs"]),
        "error": "ConnectionError: vector store unreachable",
    }


def test_ready_is_503_when_database_is_down(api, monkeypatch):
    from django.db import connection

    def refuse(*args, **kwargs):
        raise OSError("connection refused")

    # Django's database layer fails (as when PostgreSQL is stopped); our code is not patched.
    with monkeypatch.context() as patch:
        patch.setattr(type(connection._connections[connection._alias]), "cursor", refuse)
        body = health_service.get_instance().readiness()[1]
    assert body["ready"] is False
    assert body["checks"]["database"]["error"] == "OSError: connection refused"


@pytest.mark.parametrize("path", LIVE_PATHS)
def test_live(api, path):
    body = api.get(path).json()
    assert body["live"] is True
    assert body["timestamp"].endswith("Z")


def test_capability_flags_come_from_registrations(api):
    service = health_service.get_instance()
    previous = service._capabilities.get("rag")
    service.register_capability("rag", lambda: False)
    try:
        body = api.get("/health").json()
    finally:
        if previous is None:
            service._capabilities.pop("rag")
        else:
            service.register_capability("rag", previous)
    assert body["services"]["rag"] is False
    assert body["status"] == "degraded"


def test_health_config_shows_the_effective_defaults(api, settings):
    # Nothing set: the values the service really uses, not the empty environment.
    settings.EMBEDDING_MODEL = ""
    settings.DEFAULT_LLM_MODEL = ""
    settings.OPENAI_API_KEY = ""
    settings.OPENAI_BASE_URL = ""
    settings.ANTHROPIC_API_KEY = ""
    settings.DEFAULT_TEMPERATURE = 0.7
    settings.DEFAULT_MAX_TOKENS = 2000
    from services import llm_service

    local_default = llm_service.get_instance().default_model()  # the packaged local LLM, when enabled
    config = api.get("/health").json()["config"]
    assert config["embeddingModel"] == "all-MiniLM-L6-v2"
    assert config["defaultLlmModel"] == (local_default or "gpt-4o-mini")
    assert config["defaultTemperature"] == 0.7
    assert config["defaultMaxTokens"] == 2000


def test_health_config_follows_the_configuration(api, settings):
    settings.OPENAI_API_KEY = "sk-test"
    settings.EMBEDDING_MODEL = ""
    settings.DEFAULT_LLM_MODEL = ""
    config = api.get("/health").json()["config"]
    # As the reference with a key: OpenAI's embedding model and the OpenAI default LLM.
    assert config["embeddingModel"] == "text-embedding-3-small"
    assert config["defaultLlmModel"] == "gpt-4o-mini"
    settings.DEFAULT_LLM_MODEL = "gpt-4"
    settings.DEFAULT_TEMPERATURE = 0.2
    settings.DEFAULT_MAX_TOKENS = 512
    settings.EMBEDDING_MODEL = "text-embedding-3-large"
    config = api.get("/health").json()["config"]
    assert config["defaultLlmModel"] == "gpt-4"
    assert config["embeddingModel"] == "text-embedding-3-large"
    assert (config["defaultTemperature"], config["defaultMaxTokens"]) == (0.2, 512)
