"""The local LLM (issue 15): packaged GGUF files joined and verified once, routing with no key,
and a few short real generations through every endpoint that uses it.

The fast tests build fake chunk packages in ``tmp_path``; the ``slow`` ones load the packaged
default model (CI runs them too: the suite has no ``-m "not slow"``) with tiny ``max_tokens``.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import pytest
from django.test import override_settings

from mlservice.core.errors import ServiceUnavailable
from services import analysis_service, llm_service
from services.llm import local_models

DEFAULT_MODEL = "qwen2.5-coder-0.5b-instruct"


# --- packaged files: join, checksum, marker ------------------------------------------------------
@pytest.fixture
def fake_packages(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[local_models.PackagedModel, list[Path]]:
    """Three importable packages ``fakechunk_{1,2,3}``, each holding one chunk of a fake GGUF file."""
    site = tmp_path / "site"
    pieces = [b"GGUF" + b"a" * 1000, b"b" * 1500, b"c" * 7]
    chunks = []
    for n, piece in enumerate(pieces, 1):
        package = site / f"fakechunk_{n}"
        (package / "data").mkdir(parents=True)
        (package / "__init__.py").write_text("raise RuntimeError('package code must not run')\n")
        chunk = package / "data" / f"part{n}.bin"
        chunk.write_bytes(piece)
        chunks.append(chunk)
    monkeypatch.syspath_prepend(str(site))
    whole = b"".join(pieces)
    model = local_models.PackagedModel(
        name="fake-model",
        filename="fake-model.gguf",
        chunks=tuple((f"fakechunk_{n}", f"data/part{n}.bin") for n in (1, 2, 3)),
        size=len(whole),
        sha256=hashlib.sha256(whole).hexdigest(),
        install="fakechunk-1 ... fakechunk-3",
        licence="test",
    )
    monkeypatch.setitem(local_models.PACKAGED, model.name, model)
    return model, chunks


def test_chunks_are_joined_in_order_verified_once_and_rebuilt_when_damaged(
    fake_packages, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model, chunks = fake_packages
    hashes: list[Path] = []
    real_sha256 = local_models._sha256
    monkeypatch.setattr(local_models, "_sha256", lambda path: hashes.append(path) or real_sha256(path))
    models_dir = tmp_path / "models"

    path = local_models.materialise(model, models_dir)
    assert path == models_dir / "fake-model.gguf"
    assert path.read_bytes() == b"".join(chunk.read_bytes() for chunk in chunks)
    marker = json.loads((models_dir / "fake-model.gguf.verified.json").read_text())
    assert marker["sha256"] == model.sha256 and marker["size"] == model.size
    assert len(hashes) == 1
    assert local_models.materialise(model, models_dir) == path
    assert len(hashes) == 1, "a verified, unchanged file is not hashed again"

    path.write_bytes(b"GGUF" + b"x" * (model.size - 4))  # same size, wrong bytes
    assert local_models.materialise(model, models_dir).read_bytes()[4:1004] == b"a" * 1000
    assert not list(models_dir.glob("*.partial-*"))


def test_a_damaged_chunk_is_a_503_naming_the_setting_and_the_checksum(fake_packages, tmp_path: Path) -> None:
    model, chunks = fake_packages
    chunks[1].write_bytes(b"B" * 1500)
    with pytest.raises(ServiceUnavailable) as caught:
        local_models.materialise(model, tmp_path / "models")
    assert "LOCAL_LLM_MODEL=fake-model" in caught.value.message and model.sha256 in caught.value.message
    assert not (tmp_path / "models" / "fake-model.gguf.verified.json").exists()


def test_a_single_chunk_model_is_verified_where_it_lies(fake_packages, tmp_path: Path) -> None:
    _, chunks = fake_packages
    data = chunks[0].read_bytes()
    single = local_models.PackagedModel(
        "one", "one.gguf", (("fakechunk_1", "data/part1.bin"),), len(data), hashlib.sha256(data).hexdigest(), "x", "y"
    )
    assert local_models.materialise(single, tmp_path / "models") == chunks[0]
    assert not (tmp_path / "models" / "one.gguf").exists()


def test_an_unwritable_models_dir_is_a_503_naming_its_setting(fake_packages, settings, tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a folder")
    settings.LOCAL_LLM_MODEL = "fake-model"
    settings.LOCAL_LLM_MODELS_DIR = tmp_path / "file" / "models"
    with pytest.raises(ServiceUnavailable) as caught:
        local_models.resolve_model()
    assert f"LOCAL_LLM_MODELS_DIR={tmp_path / 'file' / 'models'}" in caught.value.message


def test_missing_package_is_a_503_naming_the_setting_and_the_package(fake_packages, settings) -> None:
    settings.LOCAL_LLM_MODEL = "fake-model"
    fake_packages[1][2].unlink()
    llm = llm_service.get_instance()
    assert llm.is_available() is False, "RAG then answers extractively instead of failing"
    assert llm.default_model() == "fake-model"
    with pytest.raises(ServiceUnavailable) as caught:
        llm.chat([{"role": "user", "content": "hi"}])
    assert "LOCAL_LLM_MODEL=fake-model" in caught.value.message and "fakechunk-3" in caught.value.message


def test_a_user_file_that_is_not_gguf_is_refused(settings, tmp_path: Path) -> None:
    bogus = tmp_path / "mine.gguf"
    bogus.write_bytes(b"not a model")
    settings.LOCAL_LLM_MODEL = str(bogus)
    with pytest.raises(ServiceUnavailable) as caught:
        llm_service.get_instance().chat([{"role": "user", "content": "hi"}])
    assert f"LOCAL_LLM_MODEL={bogus} is not a GGUF file" in caught.value.message
    settings.LOCAL_LLM_MODEL = str(tmp_path / "missing.gguf")
    assert llm_service.get_instance().is_available() is False


# --- routing ------------------------------------------------------------------------------------
def test_with_no_key_every_model_name_falls_back_to_the_local_llm(settings) -> None:
    settings.LOCAL_LLM_MODEL = DEFAULT_MODEL
    llm = llm_service.get_instance()
    assert llm.default_model() == DEFAULT_MODEL
    for name in (None, "gpt-4", "claude-haiku-4-5", "llama3.2", "local"):
        assert llm.resolve(name) == llm_service.Route("local", DEFAULT_MODEL)


def test_a_configured_key_wins_and_local_stays_reachable_by_name(settings, openai_fake) -> None:
    settings.LOCAL_LLM_MODEL = DEFAULT_MODEL
    llm = llm_service.get_instance()
    assert llm.resolve(None) == llm_service.Route("openai", "gpt-4o-mini")
    assert llm.resolve("gpt-4").kind == "openai"
    assert llm.resolve("local") == llm.resolve(DEFAULT_MODEL) == llm_service.Route("local", DEFAULT_MODEL)


def test_analysis_keeps_its_fast_local_methods_with_only_the_local_llm(settings) -> None:
    settings.LOCAL_LLM_MODEL = DEFAULT_MODEL
    service = analysis_service.get_instance()
    assert service.uses_llm() is False
    assert service.methods()["sentiment"] == "local:embedding-axis"
    assert service.methods()["generate"] == f"llm:{DEFAULT_MODEL}"


def test_requests_are_capped_and_made_valid_utf8_for_llama_cpp(settings) -> None:
    from services.llm.base import ChatRequest
    from services.llm.local_provider import LocalChatProvider

    settings.LOCAL_LLM_MAX_TOKENS = 64
    messages = [{"role": "user", "content": "a\ud800b"}]  # JSON can carry a lone surrogate
    body = LocalChatProvider._body(ChatRequest(messages, "local", 0.2, 2000, json_mode=True))
    assert body["messages"] == [{"role": "user", "content": "a?b"}]
    assert body["max_tokens"] == 64 and body["temperature"] == 0.2
    assert body["response_format"] == {"type": "json_object"}


def test_a_json_schema_reaches_llama_cpp_as_its_response_format() -> None:
    from services.llm.base import ChatRequest
    from services.llm.local_provider import LocalChatProvider

    schema = {"type": "object", "properties": {"a": {"type": "string", "maxLength": 5}}, "required": ["a"]}
    request = ChatRequest([{"role": "user", "content": "x"}], "local", 0.2, 50, json_mode=True, json_schema=schema)
    body = LocalChatProvider._body(request)
    assert body["response_format"] == {"type": "json_schema", "json_schema": {"name": "answer", "schema": schema}}


@pytest.mark.slow
def test_the_local_llm_keeps_to_a_bounded_schema(settings) -> None:
    settings.LOCAL_LLM_MODEL = "qwen2.5-coder-0.5b-instruct"
    schema = {
        "type": "object",
        "properties": {"items": {"type": "array", "items": {"type": "string", "maxLength": 12}, "maxItems": 2}},
        "required": ["items"],
        "additionalProperties": False,
    }
    messages = [{"role": "user", "content": 'List ten fruits as JSON: {"items": [...]}'}]
    result = llm_service.get_instance().chat(
        messages, temperature=0, max_tokens=200, json_mode=True, json_schema=schema
    )
    items = json.loads(result.content)["items"]
    assert 1 <= len(items) <= 2 and all(len(item) <= 12 for item in items), result.content


def test_consecutive_messages_of_one_role_reach_llama_cpp_as_one() -> None:
    from services.llm.base import ChatRequest
    from services.llm.local_provider import LocalChatProvider

    messages = [
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello."},
        {"role": "assistant", "content": "How can I help?"},
    ]
    body = LocalChatProvider._body(ChatRequest(messages, "local", 0.2, 50))
    assert body["messages"] == [
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello.\n\nHow can I help?"},
    ]


# --- real generations (the packaged default model) ---------------------------------------------
@pytest.fixture
def local_llm(settings):
    settings.LOCAL_LLM_MODEL = DEFAULT_MODEL
    settings.LOCAL_LLM_MAX_TOKENS = 12  # /generation/text's minimum max_tokens is 100
    if not local_models.is_installed():
        pytest.fail(f"{DEFAULT_MODEL} is not installed: `make install` installs it (requirements/base.txt)")
    return llm_service.get_instance()


CAPITAL = [
    {"role": "system", "content": "Answer with one word."},
    {"role": "user", "content": "What is the capital of France?"},
]


@pytest.mark.slow
def test_openai_compatible_chat_answers_offline(post_json, local_llm) -> None:
    response = post_json("/v1/chat/completions", {"model": "gpt-4o-mini", "messages": CAPITAL, "temperature": 0})
    assert response.status_code == 200
    body = json.loads(response.content)
    assert "Paris" in body["choices"][0]["message"]["content"]
    assert body["model"] == DEFAULT_MODEL
    assert body["usage"]["prompt_tokens"] > 10 and 0 < body["usage"]["completion_tokens"] <= 12


@pytest.mark.slow
def test_two_assistant_messages_at_the_end_are_answered_not_a_500(post_json, local_llm) -> None:
    # Found by schemathesis: Qwen's chat template refuses two trailing assistant messages.
    messages = [*CAPITAL, {"role": "assistant", "content": "Paris"}, {"role": "assistant", "content": ""}]
    response = post_json("/v1/chat/completions", {"model": "gpt-4o-mini", "messages": messages, "max_tokens": 5})
    assert response.status_code == 200, response.content
    assert json.loads(response.content)["choices"][0]["message"]["role"] == "assistant"


@pytest.mark.slow
def test_openai_compatible_chat_streams_chunks(post_json, local_llm) -> None:
    response = post_json(
        "/v1/chat/completions",
        {
            "model": "gpt-4o-mini",
            "messages": CAPITAL,
            "temperature": 0,
            "stream": True,
            "stream_options": {"include_usage": True},
        },
    )
    assert response.status_code == 200 and response["Content-Type"].startswith("text/event-stream")
    events = [block[len("data: ") :] for block in b"".join(response.streaming_content).decode().split("\n\n") if block]
    assert events[-1] == "[DONE]"
    chunks = [json.loads(event) for event in events[:-1]]
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"])
    assert "Paris" in text
    assert chunks[-2]["choices"][0]["finish_reason"] in ("stop", "length")
    assert chunks[-1]["model"] == DEFAULT_MODEL and chunks[-1]["usage"]["completion_tokens"] > 0


@pytest.mark.slow
def test_generation_chat_and_analysis_generate_answer_offline(post_json, local_llm) -> None:
    text = post_json("/generation/text", {"prompt": "What is the capital of France? One word.", "temperature": 0})
    assert text.status_code == 201 and "Paris" in text.json()["content"]
    assert text.json()["model"] == DEFAULT_MODEL and text.json()["tokens_used"] > 10

    chat = post_json("/chat/completions", {"messages": CAPITAL, "temperature": 0})
    assert chat.status_code == 201 and "Paris" in chat.json()["content"]

    generated = post_json("/analysis/generate", {"prompt": "Name the capital of France in one word.", "temperature": 0})
    assert generated.status_code == 201 and "Paris" in generated.json()["content"]
    assert generated.json()["method"] == f"llm:{DEFAULT_MODEL}"


@pytest.mark.slow
def test_rag_query_answers_generatively_with_the_local_llm(post_json, local_llm, tmp_path: Path) -> None:
    with override_settings(
        RAG_VECTOR_STORE="embedded", RAG_EMBEDDED_PATH=tmp_path / "rag.sqlite3", RAG_ANSWER_MODE="auto", QDRANT_URL=""
    ):
        post_json("/rag/index", {"content": "The Eiffel Tower was completed in 1889.", "source": "eiffel.txt"})
        response = post_json("/rag/query", {"query": "When was the Eiffel Tower completed?", "minScore": 0})
    body = response.json()
    assert response.status_code == 201, body
    assert body["answerType"] == "generative" and body["model"] == DEFAULT_MODEL and body["answer"].strip()
    assert all(c["source"] == "eiffel.txt" for c in body["citations"])


@pytest.mark.slow
def test_llama_cpp_listener_refuses_requests_without_its_random_key(local_llm) -> None:
    import urllib.error
    import urllib.request

    local_llm.chat(CAPITAL, model="local", temperature=0, max_tokens=1)  # the server is up
    address = local_llm._provider("local")._ensure_server()[0].listening_address
    assert address.startswith("http://127.0.0.1:")
    request = urllib.request.Request(f"{address}/v1/chat/completions", data=json.dumps({"messages": CAPITAL}).encode())
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.build_opener(urllib.request.ProxyHandler({})).open(request, timeout=10)
    assert caught.value.code == 401


@pytest.mark.slow
def test_closing_a_stream_stops_the_generation_and_frees_the_gate(local_llm, settings) -> None:
    from services.model_gate import gate_for

    settings.LOCAL_LLM_MAX_TOKENS = 400
    story = [{"role": "user", "content": "Write a long story about a lighthouse keeper."}]
    deltas = local_llm.stream_chat(story, model="local", temperature=0)
    assert next(deltas).content  # the client read one piece, then went away
    assert gate_for("local-llm").stats().running == 1
    started = time.perf_counter()
    deltas.close()
    assert time.perf_counter() - started < 5, "the generation stops at the next token, not after 400"
    assert gate_for("local-llm").stats().running == 0


@pytest.mark.slow
def test_prepare_llm_model_joins_and_verifies_ahead_of_serving(local_llm, capsys) -> None:
    from django.core.management import CommandError, call_command

    call_command("prepare_llm_model", "--no-load")
    out = capsys.readouterr().out
    assert out.startswith(f"{DEFAULT_MODEL}: ") and "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf verified" in out
    with override_settings(LOCAL_LLM_MODEL=""), pytest.raises(CommandError, match="LOCAL_LLM_MODEL is empty"):
        call_command("prepare_llm_model")
