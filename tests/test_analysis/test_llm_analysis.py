"""Analysis through a configured LLM (a fake OpenAI server): strict JSON, one retry, then 502."""

from __future__ import annotations

import json

import pytest


def scripted(*answers: str):
    """A reply function that gives the answers in turn (the last one repeats)."""
    queue = list(answers)

    def reply(body: dict) -> str:
        return queue.pop(0) if len(queue) > 1 else queue[0]

    return reply


def test_summarize_with_llm(post_json, openai_fake) -> None:
    openai_fake.reply = scripted(json.dumps({"summary": "Short.", "keyPoints": ["a", "b", "c"]}))
    response = post_json("/analysis/summarize", {"text": "A long text.", "maxLength": 50})
    assert response.status_code == 201
    body = response.json()
    assert body == {
        "success": True,
        "summary": "Short.",
        "keyPoints": ["a", "b", "c"],
        "model": "gpt-4o-mini",
        "tokensUsed": body["tokensUsed"],
        "method": "llm:gpt-4o-mini-fake-0001",
    }
    assert body["tokensUsed"] > 0
    sent = openai_fake.requests[-1]["body"]
    assert sent["response_format"] == {"type": "json_object"} and sent["temperature"] == 0.3
    assert "under 50 words" in sent["messages"][0]["content"]
    assert sent["messages"][1] == {"role": "user", "content": "A long text."}


def test_invalid_json_is_retried_once_with_the_reason(post_json, openai_fake) -> None:
    openai_fake.reply = scripted(
        "Sure! The sentiment is positive.",
        '```json\n{"sentiment": "Positive", "score": 0.8, "confidence": 0.9}\n```',
    )
    response = post_json("/analysis/sentiment", {"text": "I love it", "model": "gpt-4o"})
    assert response.status_code == 201
    body = response.json()
    assert (body["sentiment"], body["score"], body["confidence"]) == ("positive", 0.8, 0.9)
    assert body["model"] == "gpt-4o" and "aspects" not in body
    assert len(openai_fake.requests) == 2
    retry_messages = openai_fake.requests[1]["body"]["messages"]
    assert retry_messages[2] == {"role": "assistant", "content": "Sure! The sentiment is positive."}
    assert "not valid JSON" in retry_messages[3]["content"]


def test_two_invalid_answers_are_a_502(post_json, openai_fake) -> None:
    openai_fake.reply = scripted('{"sentiment": "great", "score": 3, "confidence": 1}')
    response = post_json("/analysis/sentiment", {"text": "I love it"})
    assert response.status_code == 502
    error = response.json()["error"]
    assert "invalid answer for sentiment twice" in error and '"sentiment" must be one of' in error
    assert len(openai_fake.requests) == 2


def test_classify_rejects_categories_not_offered(post_json, openai_fake) -> None:
    openai_fake.reply = scripted(
        json.dumps({"classifications": [{"category": "Weather", "confidence": 0.9}]}),
        json.dumps({"classifications": [{"category": "sports", "confidence": 0.95}]}),
    )
    body = post_json("/analysis/classify", {"text": "Goal!", "categories": ["Sports", "Business"]}).json()
    assert body["classifications"] == [{"category": "Sports", "confidence": 0.95}]
    assert body["textPreview"] == "Goal!" and body["method"].startswith("llm:")


def test_keywords_and_aspects(post_json, openai_fake) -> None:
    openai_fake.reply = scripted(json.dumps({"keywords": ["a", "b", "a", "c", "d"]}))
    body = post_json("/analysis/keywords", {"text": "text", "maxKeywords": 3}).json()
    assert body["keywords"] == ["a", "b", "c"]
    openai_fake.reply = scripted(
        json.dumps(
            {
                "sentiment": "mixed",
                "score": 0.1,
                "confidence": 0.7,
                "aspects": [{"aspect": "battery", "sentiment": "positive", "score": 0.9}],
            }
        )
    )
    body = post_json("/analysis/sentiment", {"text": "text", "includeAspects": True}).json()
    assert body["aspects"] == [{"aspect": "battery", "sentiment": "positive", "score": 0.9}]
    assert "aspects" in openai_fake.requests[-1]["body"]["messages"][0]["content"]


def test_analyze_calls_the_llm_for_each_analysis(post_json, openai_fake) -> None:
    def reply(body: dict) -> str:
        system = body["messages"][0]["content"]
        if "Summarize" in system:
            return json.dumps({"summary": "S", "keyPoints": []})
        if "sentiment" in system:
            return json.dumps({"sentiment": "neutral", "score": 0, "confidence": 0.5})
        return json.dumps({"keywords": ["k"]})

    openai_fake.reply = reply
    body = post_json("/analysis/text", {"text": "one two three", "model": "gpt-4o-mini"}).json()
    assert body["summary"]["summary"] == "S" and body["keywords"]["keywords"] == ["k"]
    assert body["sentiment"]["sentiment"] == "neutral" and body["model"] == "gpt-4o-mini"
    assert len(openai_fake.requests) == 3


def test_generate_with_context_and_streaming(post_json, openai_fake) -> None:
    body = post_json("/analysis/generate", {"prompt": "Write", "context": "About cats", "maxTokens": 50}).json()
    assert body["content"] == "Echo: Write" and body["tokensUsed"] > 0 and body["model"] == "gpt-4o-mini"
    assert "Context:\nAbout cats" in openai_fake.requests[-1]["body"]["messages"][0]["content"]
    response = post_json("/analysis/generate", {"prompt": "Write more", "stream": True})
    raw = b"".join(response.streaming_content).decode()
    assert "event: delta" in raw and raw.rstrip().endswith("data: [DONE]")
    done = next(block for block in raw.split("\n\n") if block.startswith("event: done"))
    assert json.loads(done.split("data: ", 1)[1])["content"] == "Echo: Write more"


def test_local_backend_can_be_forced(post_json, openai_fake, settings) -> None:
    settings.ANALYSIS_BACKEND = "local"
    body = post_json("/analysis/keywords", {"text": "Graph based keyphrase extraction of documents."}).json()
    assert body["method"] == "local:singlerank-embedrank"
    assert openai_fake.requests == []


@pytest.mark.parametrize(("status", "code"), [(429, 503), (500, 502), (401, 503)])
def test_provider_errors_reach_the_client(post_json, openai_fake, status, code) -> None:
    openai_fake.fail_next(status, "provider says no", times=3)
    response = post_json("/analysis/summarize", {"text": "text"})
    assert response.status_code == code
    assert "provider says no" in response.json()["error"]


def test_a_summary_that_copies_the_text_is_asked_for_again(post_json, openai_fake) -> None:
    text = " ".join(f"Sentence {n} says something about the city council and its new plan." for n in range(6))
    openai_fake.reply = scripted(
        json.dumps({"summary": text, "keyPoints": ["a"]}),
        json.dumps({"summary": "The council has a plan.", "keyPoints": ["plan"]}),
    )
    body = post_json("/analysis/summarize", {"text": text, "maxLength": 20}).json()
    assert body["summary"] == "The council has a plan." and body["keyPoints"] == ["plan"]
    retry = openai_fake.requests[1]["body"]["messages"][3]["content"]
    assert "repeats the text word for word" in retry


def test_a_summary_longer_than_asked_is_kept(post_json, openai_fake) -> None:
    long_summary = " ".join(["word"] * 45)
    openai_fake.reply = scripted(json.dumps({"summary": long_summary, "keyPoints": ["a"]}))
    body = post_json("/analysis/summarize", {"text": "A text. " * 40, "maxLength": 20}).json()
    assert body["summary"] == long_summary and len(openai_fake.requests) == 1
