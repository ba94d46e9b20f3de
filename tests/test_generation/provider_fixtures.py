"""Fixtures that point the LLM service at fake provider servers (or at nothing at all).

Imported by the conftest of every app that talks to the LLM service.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .fake_providers import AnthropicHandler, FakeProvider, OpenAIHandler, serve


@pytest.fixture(autouse=True)
def no_llm(settings) -> None:
    """Start every test with no provider configured, whatever the developer's environment holds."""
    settings.OPENAI_API_KEY = ""
    settings.OPENAI_BASE_URL = ""
    settings.ANTHROPIC_API_KEY = ""
    settings.ANTHROPIC_BASE_URL = ""
    settings.DEFAULT_LLM_MODEL = ""
    settings.LOCAL_LLM_MODEL = ""  # the local LLM too: tests that use it turn it on themselves
    settings.PROVIDER_MAX_RETRIES = 1
    settings.PROVIDER_TIMEOUT_SECONDS = 10.0


@pytest.fixture
def openai_fake(settings, no_llm) -> Iterator[FakeProvider]:
    with serve(OpenAIHandler) as fake:
        settings.OPENAI_API_KEY = "sk-test"
        settings.OPENAI_BASE_URL = f"{fake.base_url}/v1"
        yield fake


@pytest.fixture
def anthropic_fake(settings, no_llm) -> Iterator[FakeProvider]:
    with serve(AnthropicHandler) as fake:
        settings.ANTHROPIC_API_KEY = "sk-ant-test"
        settings.ANTHROPIC_BASE_URL = fake.base_url
        yield fake
