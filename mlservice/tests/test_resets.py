"""One settings receiver resets every cached service (issue 13)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from django.core.signals import setting_changed
from django.test import override_settings

from mlservice.core import resets
from mlservice.core.errors import BadRequest
from services import analysis_service, health_service, llm_service, model_gate, rerank_service, transcription_service
from services.llm import local_models
from services.llm.config import llm_config

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def registry(monkeypatch) -> list[str]:
    """A registry of this test's own resets (the real ones are restored afterwards)."""
    monkeypatch.setattr(resets, "_resets", [])
    return []


def test_reset_runs_only_for_its_settings(registry) -> None:
    resets.register_reset(lambda: registry.append("rag"), settings=("RAG_", "QDRANT_URL"))
    resets.register_reset(lambda: registry.append("all"))
    assert resets.reset_all("RAG_FUSION") == 2
    assert resets.reset_all("QDRANT_URL") == 2
    assert resets.reset_all("QDRANT_API_KEY") == 1
    assert registry == ["rag", "all", "rag", "all", "all"]


def test_registering_twice_keeps_one_entry(registry) -> None:
    def reset() -> None:
        registry.append("x")

    resets.register_reset(reset)
    resets.register_reset(reset)
    assert resets.registered() == [reset]


def test_override_settings_reaches_the_registry_through_the_one_receiver(registry) -> None:
    resets.register_reset(lambda: registry.append("rerank"), settings=("RERANK_",))
    with override_settings(RERANK_PROVIDER="local"):
        assert registry == ["rerank"]
    assert registry == ["rerank", "rerank"]  # leaving the override changes the setting back


def test_one_receiver_is_connected() -> None:
    ours = [key for key, *_ in setting_changed.receivers if key[0] == "mlservice.core.resets"]
    assert len(ours) == 1


def test_no_other_setting_changed_receiver_in_the_project() -> None:
    found = subprocess.run(
        ["git", "grep", "-lE", r"receiver\(setting_changed|setting_changed\.connect", "--", "*.py", ":!**/tests/**"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    ).stdout.split()
    assert found == ["mlservice/api/apps.py"]


def test_transcription_service_is_rebuilt_on_the_next_get_instance() -> None:
    before = transcription_service.get_instance()
    assert transcription_service.get_instance() is before
    with override_settings(TRANSCRIPTION_BACKEND="openai"):
        during = transcription_service.get_instance()
        assert during is not before
    assert transcription_service.get_instance() is not during


def test_model_gate_takes_the_overridden_limits() -> None:
    assert model_gate.gate_for("local-llm").concurrency == 1
    with override_settings(MODEL_GATES={"local-llm": {"concurrency": 3, "queue": 7}}, MODEL_QUEUE_TIMEOUT_SECONDS=4.0):
        gate = model_gate.gate_for("local-llm")
        assert (gate.concurrency, gate.queue, gate.queue_timeout) == (3, 7, 4.0)
    assert model_gate.gate_for("local-llm").concurrency == 1


def test_rerank_service_follows_the_provider() -> None:
    with override_settings(RERANK_PROVIDER="local"):
        local = rerank_service.get_instance()
        assert rerank_service.get_instance() is local
    with override_settings(RERANK_PROVIDER="tei", RERANK_URL="http://127.0.0.1:9"):
        assert rerank_service.get_instance() is not local


def test_health_forgets_its_cached_probes(monkeypatch) -> None:
    health = health_service.get_instance()
    health._cached = (0.0, {}, {})
    with override_settings(HEALTH_CACHE_SECONDS=60.0):
        assert health._cached is None
    assert health_service.get_instance() is health  # the apps' registered probes stay


def test_rerank_settings_are_read_once_and_rebuilt_on_change() -> None:
    config = rerank_service.rerank_config()
    assert rerank_service.rerank_config() is config
    with override_settings(RERANK_PROVIDER="local", RERANK_MAX_DOCUMENTS=3):
        assert rerank_service.rerank_config().max_documents == 3
        assert rerank_service.get_instance().provider_name == "local"
        with pytest.raises(BadRequest, match="no more than 3 elements"):
            rerank_service.check_rerank_input("query", ["a", "b", "c", "d"])
    assert rerank_service.rerank_config().max_documents == config.max_documents


def test_llm_settings_are_read_once_and_rebuilt_on_change() -> None:
    config = llm_config()
    assert llm_config() is config
    with override_settings(
        OPENAI_API_KEY="",
        OPENAI_BASE_URL="",
        ANTHROPIC_API_KEY="test-key",
        DEFAULT_LLM_MODEL="",
        DEFAULT_MAX_TOKENS=123,
        LOCAL_LLM_MODEL="off",
        LOCAL_LLM_CONTEXT_TOKENS=1024,
        IMAGE_MODEL="dall-e-2",
    ):
        during = llm_config()
        assert (during.default_max_tokens, during.local_context_tokens, during.image_model) == (123, 1024, "dall-e-2")
        assert llm_service.get_instance().default_model() == during.anthropic_default_model
        assert not local_models.is_enabled()
    assert llm_config() == config


def test_analysis_settings_are_read_once_and_rebuilt_on_change() -> None:
    config = analysis_service.analysis_config()
    assert analysis_service.analysis_config() is config
    with override_settings(ANALYSIS_BACKEND="fast", ANALYSIS_MAX_TEXT_CHARS=200):
        assert analysis_service.analysis_config() == analysis_service.AnalysisConfig("fast", 200)
        assert not analysis_service.get_instance().uses_llm()
    assert analysis_service.analysis_config() == config
