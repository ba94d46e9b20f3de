"""POST /v1/embeddings in OpenAI's wire format, exercised with the official openai client
against a real server (pytest-django's live_server)."""

from __future__ import annotations

import base64

import numpy as np
import openai
import pytest


@pytest.fixture
def client(live_server, settings, embedder) -> openai.OpenAI:
    settings.OPENAI_API_KEY = ""
    settings.OPENAI_BASE_URL = ""
    settings.EMBEDDING_MODEL = ""
    return openai.OpenAI(api_key="unused", base_url=f"{live_server.url}/v1", max_retries=0, timeout=30)


def test_openai_client_string_input_default_base64(client: openai.OpenAI, embedder) -> None:
    # The SDK asks for base64 when no encoding_format is given and decodes it itself.
    response = client.embeddings.create(input="The cat sat on the mat.", model="all-MiniLM-L6-v2")
    assert response.object == "list" and response.model == "all-MiniLM-L6-v2"
    [item] = response.data
    assert item.object == "embedding" and item.index == 0
    expected = embedder.embed_one("The cat sat on the mat.").vectors[0]
    np.testing.assert_allclose(np.asarray(item.embedding, dtype=np.float32), expected, atol=1e-6)
    assert response.usage.prompt_tokens == 7 and response.usage.total_tokens == 7


def test_openai_client_list_input_float(client: openai.OpenAI, embedder) -> None:
    texts = ["first input", "second input", "first input"]
    response = client.embeddings.create(input=texts, model="all-MiniLM-L6-v2", encoding_format="float", dimensions=384)
    assert [item.index for item in response.data] == [0, 1, 2]
    vectors = np.array([item.embedding for item in response.data], dtype=np.float32)
    np.testing.assert_allclose(vectors, embedder.embed(texts).vectors, atol=1e-6)
    np.testing.assert_array_equal(vectors[0], vectors[2])


def test_openai_client_errors(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as unknown:
        client.embeddings.create(input="x", model="text-embedding-4-huge")
    assert "Available models: all-MiniLM-L6-v2" in unknown.value.message
    assert unknown.value.body["type"] == "invalid_request_error"
    with pytest.raises(openai.BadRequestError, match="384-dimensional"):
        client.embeddings.create(input="x", model="all-MiniLM-L6-v2", dimensions=128)
    with pytest.raises(openai.InternalServerError) as unavailable:
        client.embeddings.create(input="x", model="text-embedding-3-small")
    assert unavailable.value.status_code == 503 and "OPENAI_API_KEY" in unavailable.value.message


def test_raw_wire_format(api, embedder, settings) -> None:
    settings.OPENAI_API_KEY = ""
    response = api.post(
        "/v1/embeddings", {"input": ["hello"], "model": "all-MiniLM-L6-v2", "encoding_format": "base64"}, format="json"
    )
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"object", "data", "model", "usage"}
    assert body["data"][0].keys() == {"object", "index", "embedding"}
    decoded = np.frombuffer(base64.b64decode(body["data"][0]["embedding"]), dtype="<f4")
    np.testing.assert_array_equal(decoded, embedder.embed_one("hello").vectors[0])
    # The default model applies when a client omits it.
    assert api.post("/v1/embeddings", {"input": "hello"}, format="json").json()["model"] == "all-MiniLM-L6-v2"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "input is required"),
        ({"input": ""}, "Cannot generate embedding for empty text"),
        ({"input": []}, "input must not be empty"),
        ({"input": [1, 2, 3]}, "input must be text: token arrays are not supported"),
        ({"input": ["ok", None]}, "input must be a string or an array of strings"),
        (
            {"input": "ok", "encoding_format": "int8"},
            "encoding_format must be one of the following values: float, base64",
        ),
        ({"input": "ok", "dimensions": 0}, "dimensions must not be less than 1"),
        ({"input": "ok", "temperature": 1}, "property temperature should not exist"),
    ],
)
def test_bad_bodies_get_openai_style_400(api, settings, body, message: str) -> None:
    settings.OPENAI_API_KEY = ""
    response = api.post("/v1/embeddings", body, format="json")
    assert response.status_code == 400, response.json()
    error = response.json()["error"]
    assert message in error["message"] and error["type"] == "invalid_request_error"


def test_too_many_inputs(api, settings) -> None:
    settings.EMBEDDING_MAX_INPUTS = 3
    response = api.post("/v1/embeddings", {"input": ["a", "b", "c", "d"]}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["message"] == "input must contain no more than 3 elements"


def test_malformed_json(api) -> None:
    response = api.generic("POST", "/v1/embeddings", "{not json", content_type="application/json")
    assert response.status_code == 400 and "Invalid JSON body" in response.json()["error"]["message"]
