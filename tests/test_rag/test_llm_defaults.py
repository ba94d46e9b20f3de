"""/rag/query's generative answer uses DEFAULT_LLM_MODEL, DEFAULT_TEMPERATURE and DEFAULT_MAX_TOKENS."""

from __future__ import annotations

from django.test import override_settings


def test_generative_answer_uses_the_configured_defaults(post_json, embedded_api, openai_fake, settings) -> None:
    settings.DEFAULT_LLM_MODEL = "gpt-4.1-nano"
    settings.DEFAULT_TEMPERATURE = 0.15
    settings.DEFAULT_MAX_TOKENS = 456
    # With an OpenAI key the embedding service would pick OpenAI embeddings: keep the local model.
    with override_settings(RAG_ANSWER_MODE="auto", EMBEDDING_MODEL="all-MiniLM-L6-v2"):
        post_json("/rag/index", {"content": "The Eiffel Tower was completed in 1889.", "source": "eiffel.txt"})
        openai_fake.reply = lambda body: "In 1889 [1]."
        response = post_json("/rag/query", {"query": "When was the Eiffel Tower completed?", "minScore": 0})
    body = response.json()
    assert response.status_code == 201, body
    assert body["answerType"] == "generative" and body["model"] == "gpt-4.1-nano-fake-0001"
    sent = openai_fake.requests[-1]["body"]
    assert sent["model"] == "gpt-4.1-nano"
    assert sent["temperature"] == 0.15
    assert sent.get("max_completion_tokens", sent.get("max_tokens")) == 456
