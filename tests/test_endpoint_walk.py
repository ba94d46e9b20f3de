"""A walk over every operation of the OpenAPI schema with no provider key (issues 13 and 15).

Each operation that ``GET /api/v1/schema/`` lists gets one real, valid request from ``WALK``
(keyed by operationId, at the path the schema lists), and the test asserts that

- it answers 2xx with real content (spot checks: 384 floats per embedding, a sentiment label, the
  indexed document found again, words of the spoken clip), except ``/generation/image``, which has
  no local model and answers its clear 503 naming the settings;
- the body validates against the response schema documented for that operation, status and
  content type (``$ref``s resolved from ``components``; OpenAPI 3.0's ``nullable`` turned into
  JSON Schema), and carries no property the schema does not document;
- ``WALK`` covers the schema exactly: a new operation without an entry fails
  ``test_the_walk_covers_every_operation``.

The endpoints that stream (``stream: true``) are walked once more, in ``STREAMS``: the answer is
``text/event-stream``, documented as such, and its events arrive and end.

No key is set for any provider, so the local models answer: MiniLM embeddings, the packaged local
LLM (``LOCAL_LLM_MODEL``, capped at a few tokens), Whisper tiny.en on a 1.7 s LibriSpeech clip
(Whisper base, the default, for the translation: tiny.en cannot translate). About 25 s in all.
"""

from __future__ import annotations

import base64
import copy
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from django.conf import settings as django_settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from rest_framework.test import APIClient

from services.llm import local_models

LOCAL_LLM = "qwen2.5-coder-0.5b-instruct"
LIBRISPEECH = Path(django_settings.BASE_DIR).parent / "shared" / "eval" / "librispeech"
CLIP = LIBRISPEECH / "1089-134691-0000.flac"  # "HE COULD WAIT NO LONGER", 1.7 s
# Whisper base joined once per machine, shared with tests/test_transcription (its conftest.py).
WHISPER_MODELS_DIR = Path(tempfile.gettempdir()) / f"mlservice-test-whisper-models-{os.getuid()}"
CAPITAL = [
    {"role": "system", "content": "Answer with one word."},
    {"role": "user", "content": "What is the capital of France?"},
]
EIFFEL = "The Eiffel Tower in Paris was completed in 1889 for the World's Fair."
NOTES_MD = b"# Lighthouse notes\n\nThe lighthouse on Skerry Point was automated in 1987.\n"
COLLECTION = "walk"
PROVIDER_KEYS = (
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "ANTHROPIC_API_KEY",
    "ANTHROPIC_BASE_URL",
    "COHERE_API_KEY",
    "JINA_API_KEY",
    "VOYAGE_API_KEY",
    "RERANK_URL",
    "QDRANT_URL",
)


# --- the schema, and its response schemas as JSON Schema -----------------------------------------
@pytest.fixture(scope="module")
def schema(django_db_blocker: Any) -> dict[str, Any]:
    """The schema as served, fetched once (its request-log row is rolled back)."""
    with django_db_blocker.unblock(), transaction.atomic():
        response = APIClient().get("/api/v1/schema/", HTTP_ACCEPT="application/json")
        transaction.set_rollback(True)
    assert response.status_code == 200 and response["Content-Type"].startswith("application/json")
    return json.loads(response.content)


def schema_operations(schema: dict[str, Any]) -> dict[str, tuple[str, str, dict[str, Any]]]:
    """operationId -> (method, path, operation)."""
    return {
        op["operationId"]: (method.upper(), path, op)
        for path, item in schema["paths"].items()
        for method, op in item.items()
        if method in {"get", "put", "post", "patch", "delete"}
    }


def _to_json_schema(node: Any) -> Any:
    """An OpenAPI 3.0 schema object as JSON Schema 2020-12: ``nullable`` becomes a null
    alternative, ``#/components/schemas/X`` becomes ``#/$defs/X``, and every object that lists its
    ``properties`` without saying anything about others allows no others (an undocumented key in
    a real answer is a mismatch too)."""
    if isinstance(node, list):
        return [_to_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in {"nullable", "readOnly", "writeOnly", "example", "discriminator", "xml", "externalDocs"}:
            continue
        if key == "properties":
            out[key] = {name: _to_json_schema(sub) for name, sub in value.items()}
        elif key == "$ref":
            out[key] = value.replace("#/components/schemas/", "#/$defs/")
        else:
            out[key] = _to_json_schema(value)
    if "properties" in out and "additionalProperties" not in out:
        out["additionalProperties"] = False
    if node.get("nullable"):
        return {"anyOf": [out, {"type": "null"}]}
    return out


def documented_response(
    schema: dict[str, Any], operation: dict[str, Any], status: int, content_type: str
) -> dict[str, Any] | None:
    """The JSON Schema documented for ``status`` and ``content_type`` (None: documented without
    a body schema); fails when the status or the content type is not documented."""
    responses = operation["responses"]
    assert str(status) in responses, f"status {status} is not documented (documented: {sorted(responses)})"
    content = responses[str(status)].get("content")
    if content is None:
        return None
    media = content_type.split(";")[0].strip()
    candidates = [m for m in content if m == media or (m.endswith("/*") and media.startswith(m[:-1]))]
    assert candidates, f"{status} answers {media}, documented: {sorted(content)}"
    body_schema = _to_json_schema(copy.deepcopy(content[candidates[0]].get("schema", {})))
    return {**body_schema, "$defs": _to_json_schema(schema["components"]["schemas"])}


def assert_valid(body: Any, json_schema: dict[str, Any]) -> None:
    validator = jsonschema.Draft202012Validator(json_schema, format_checker=jsonschema.FormatChecker())
    errors = sorted(validator.iter_errors(body), key=lambda e: list(e.absolute_path))
    problems = [f"at {'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message[:300]}" for e in errors]
    assert not problems, "the real answer disagrees with the documented schema:\n" + "\n".join(problems)


# --- the walk's table ----------------------------------------------------------------------------
@dataclass
class Call:
    """One request; ``settings`` apply for the test (restored after it), ``setup`` runs first
    (other calls through the API) and may return values for the path's ``{placeholders}``;
    ``check`` spot-checks the real answer's content (asserts, or returns something true)."""

    body: Any = None
    multipart: bool = False
    query: str = ""
    status: int = 200
    setup: Callable[[APIClient, Path], dict[str, str] | None] | None = None
    check: Callable[[Any], Any] = lambda body: None
    settings: dict[str, Any] = field(default_factory=dict)


def _index(api: APIClient, source: str = "eiffel.txt", content: str = EIFFEL, **extra: Any) -> dict[str, Any]:
    response = api.post(
        "/rag/index",
        {"content": content, "source": source, "collection": COLLECTION, **extra},
        format="json",
    )
    assert response.status_code == 201, response.content
    return response.json()


def indexed(api: APIClient, tmp: Path) -> dict[str, str]:
    return {"collection": COLLECTION, "document_id": _index(api, documentId="eiffel-1")["documentId"]}


def audio_upload(tmp: Path) -> SimpleUploadedFile:
    return SimpleUploadedFile(CLIP.name, CLIP.read_bytes(), content_type="audio/flac")


def in_upload_folder(api: APIClient, tmp: Path) -> None:
    shutil.copy(CLIP, Path(django_settings.TRANSCRIPTION_UPLOAD_DIR) / "clip.flac")


def queued_job(api: APIClient, tmp: Path) -> dict[str, str]:
    response = api.post("/transcription/transcribe", {"file": audio_upload(tmp)}, format="multipart")
    assert response.status_code == 202, response.content
    return {"job_id": response.json()["job"]["id"]}


def first_model(api: APIClient, tmp: Path) -> dict[str, str]:
    models = api.get("/v1/models").json()["data"]
    return {"model_id": next(m["id"] for m in models if m["id"] == LOCAL_LLM)}


def said(text: str) -> bool:
    return "wait" in text.lower() and "longer" in text.lower()


def _embedding_check(body: Any) -> None:
    assert body["dimensions"] == 384 and len(body["embedding"]) == 384
    assert all(isinstance(x, float) for x in body["embedding"]) and any(x != 0 for x in body["embedding"])


def _batch_check(body: Any) -> None:
    assert body["count"] == 2 and body["dimensions"] == 384
    assert [len(e) for e in body["embeddings"]] == [384, 384] and body["embeddings"][0] != body["embeddings"][1]


def _rerank_check(body: Any) -> None:
    assert body["results"][0]["index"] == 0
    assert body["results"][0]["relevance_score"] > body["results"][1]["relevance_score"]


def _text_analysis_check(body: Any) -> None:
    assert body["wordCount"] == 10 and body["sentiment"]["sentiment"] == "positive"
    assert body["summary"]["summary"] and body["keywords"]["keywords"]


def _search_check(body: Any) -> None:
    assert body["totalFound"] >= 1 and body["results"][0]["source"] == "eiffel.txt"
    assert "1889" in body["results"][0]["content"]


def _query_check(body: Any) -> None:
    assert body["answerType"] == "generative" and body["model"] == LOCAL_LLM and body["answer"].strip()
    assert body["sources"][0]["source"] == "eiffel.txt"


RERANK = {
    "query": "What is the capital of France?",
    "documents": ["Paris is the capital of France.", "Bananas are rich in potassium."],
}
HAPPY = "I love this phone, the battery is wonderful and fast."
NEWS = (
    "The city council approved a new budget on Monday. The plan adds money for parks and schools. "
    "Officials said road repairs will start in spring. Residents welcomed the decision at the meeting."
)

WALK: dict[str, Call] = {
    # service index, health, metrics
    "api_v1_retrieve": Call(check=lambda b: b["links"]["schema"] == "/api/v1/schema/" and b["links"]["openai"]),
    "api_v1_health_retrieve": Call(check=lambda b: b["status"] in ("ok", "degraded") and b["services"]["complexity"]),
    "api_v1_health_live_retrieve": Call(check=lambda b: b["live"] is True),
    "api_v1_live_retrieve": Call(check=lambda b: b["live"] is True),
    "api_v1_health_ready_retrieve": Call(check=lambda b: b["ready"] is True),
    "api_v1_ready_retrieve": Call(check=lambda b: b["ready"] is True),
    "api_v1_metrics_retrieve": Call(check=lambda b: "# TYPE" in b and "mlservice" in b),
    # complexity
    "api_v1_complexity_estimate_create": Call(
        body={"title": "Fix typo in README"}, check=lambda b: b["complexityScore"] == 1 and b["reasoning"]
    ),
    "api_v1_complexity_pre_estimate_create": Call(
        body={
            "title": "Rewrite the billing system",
            "description": "Migrate every invoice " * 40,
            "issue_type": "feature",
        },
        check=lambda b: b["complexityScore"] >= 2 and b["estimatedHours"] > 0,
    ),
    "api_v1_complexity_analyze_create": Call(
        body={"lines_added": 400, "lines_removed": 50, "files_changed": 12, "pre_complexity_score": 2},
        check=lambda b: b["actualComplexity"] >= 2 and b["accuracyScore"] is not None,
    ),
    "api_v1_complexity_post_analyze_create": Call(
        body={"lines_added": 5, "files_changed": 1}, check=lambda b: b["actualComplexity"] == 1 and b["analysis"]
    ),
    "api_v1_complexity_adjustment_create": Call(
        body={"pre_level": 2, "actual_level": 4}, check=lambda b: b["multiplier"] > 1 and b["reason"]
    ),
    "api_v1_complexity_calculate_adjustment_create": Call(
        body={"pre_level": 3, "actual_level": 3}, check=lambda b: b["multiplier"] == 1.1 and b["bonusPercent"] == 10
    ),
    "api_v1_complexity_scale_retrieve": Call(check=lambda b: [lvl["level"] for lvl in b["scale"]] == [1, 2, 3, 4, 5]),
    "api_v1_complexity_health_retrieve": Call(check=lambda b: b["status"] == "ok"),
    # embeddings
    "api_v1_embeddings_generate_create": Call(body={"text": "hello world"}, check=_embedding_check),
    "api_v1_embeddings_batch_create": Call(body={"texts": ["a cat", "a stock market"]}, check=_batch_check),
    "api_v1_embeddings_similarity_create": Call(
        body={"text1": "a small cat", "text2": "a little kitten"}, check=lambda b: 0.5 < b["similarity"] <= 1
    ),
    "api_v1_embeddings_models_retrieve": Call(check=lambda b: any(m["dimensions"] == 384 for m in b["models"])),
    "v1_embeddings_create": Call(
        body={"input": ["hello", "world"], "model": "all-MiniLM-L6-v2"},
        check=lambda b: [len(d["embedding"]) for d in b["data"]] == [384, 384],
    ),
    # rerank
    "api_v1_rerank_create": Call(body=RERANK, check=_rerank_check),
    "v1_rerank_create": Call(body=RERANK, check=_rerank_check),
    # analysis (fast local methods; generate uses the local LLM)
    "api_v1_analysis_sentiment_create": Call(body={"text": HAPPY}, check=lambda b: b["sentiment"] == "positive"),
    "api_v1_analysis_summarize_create": Call(body={"text": NEWS}, check=lambda b: b["summary"] and b["keyPoints"]),
    "api_v1_analysis_keywords_create": Call(
        body={"text": NEWS, "max_keywords": 5}, check=lambda b: 0 < len(b["keywords"]) <= 5
    ),
    "api_v1_analysis_classify_create": Call(
        body={"text": "The striker scored twice in the final match.", "categories": ["sports", "cooking"]},
        check=lambda b: b["classifications"][0]["category"] == "sports",
    ),
    "api_v1_analysis_text_create": Call(body={"text": HAPPY}, check=_text_analysis_check),
    "api_v1_analysis_analyze_create": Call(
        body={"text": HAPPY, "analyses": ["sentiment"]}, check=lambda b: b["sentiment"]["sentiment"] == "positive"
    ),
    "api_v1_analysis_generate_create": Call(
        body={"prompt": "Name the capital of France in one word.", "temperature": 0},
        check=lambda b: "Paris" in b["content"] and b["method"] == f"llm:{LOCAL_LLM}",
    ),
    # generation and chat (the local LLM)
    "api_v1_generation_text_create": Call(
        body={"prompt": "What is the capital of France? One word.", "temperature": 0, "max_tokens": 100},
        check=lambda b: "Paris" in b["content"] and b["model"] == LOCAL_LLM and b["tokens_used"] > 0,
    ),
    "api_v1_chat_completions_create": Call(
        body={"messages": CAPITAL, "temperature": 0, "max_tokens": 100},
        check=lambda b: "Paris" in b["content"] and b["choices"][0]["message"]["content"] == b["content"],
    ),
    "v1_chat_completions_create": Call(
        body={"model": "gpt-4o-mini", "messages": CAPITAL, "temperature": 0, "max_tokens": 8},
        check=lambda b: "Paris" in b["choices"][0]["message"]["content"] and b["model"] == LOCAL_LLM,
    ),
    "api_v1_generation_models_retrieve": Call(check=lambda b: b["models"]["text"] and b["models"]["image"]),
    "api_v1_generation_image_create": Call(
        body={"prompt": "a lighthouse at dusk"},
        status=503,
        check=lambda b: b["success"] is False and "OPENAI_API_KEY" in b["error"] and b["statusCode"] == 503,
    ),
    "v1_models_list": Call(check=lambda b: LOCAL_LLM in [m["id"] for m in b["data"]]),
    "v1_models_retrieve": Call(setup=first_model, check=lambda b: b["id"] == LOCAL_LLM and b["object"] == "model"),
    # RAG (an embedded store in tmp_path; the local LLM answers /rag/query)
    "api_v1_rag_index_create": Call(
        body={"content": EIFFEL, "source": "eiffel.txt", "collection": COLLECTION},
        check=lambda b: b["collection"] == COLLECTION and b["documentId"],
    ),
    "api_v1_rag_index_batch_create": Call(
        body={
            "collection": COLLECTION,
            "documents": [{"content": EIFFEL, "source": "a.txt"}, {"content": "Rome is in Italy.", "source": "b.txt"}],
        },
        check=lambda b: len(b["documentIds"]) == 2,
    ),
    "api_v1_rag_index_project_document_create": Call(
        body={
            "document_id": "doc-7",
            "project_id": "p1",
            "filename": "plan.md",
            "content": EIFFEL,
            "file_type": "md",
        },
        check=lambda b: b["chunksCreated"] == 1 and b["collection"] == "project_p1",
    ),
    "api_v1_rag_documents_create": Call(
        multipart=True,
        body=lambda tmp: {"files": _markdown_file(tmp), "collection": COLLECTION},
        check=lambda b: b["documents"][0]["chunksCreated"] >= 1,
    ),
    "api_v1_rag_search_create": Call(
        setup=indexed, body={"query": "When was the Eiffel Tower built?", "collection": COLLECTION}, check=_search_check
    ),
    "api_v1_rag_query_create": Call(
        setup=indexed,
        body={"query": "When was the Eiffel Tower completed?", "collection": COLLECTION, "context_limit": 1},
        check=_query_check,
    ),
    "api_v1_rag_collections_retrieve": Call(setup=indexed, check=lambda b: COLLECTION in b["collections"]),
    "api_v1_rag_stats_retrieve": Call(
        setup=indexed, check=lambda b: b["stats"]["collections"][COLLECTION]["pointsCount"] == 1
    ),
    "api_v1_rag_collection_destroy": Call(setup=indexed, check=lambda b: COLLECTION in b["message"]),
    "api_v1_rag_collections_destroy": Call(setup=indexed, check=lambda b: COLLECTION in b["message"]),
    "api_v1_rag_collections_documents_destroy": Call(setup=indexed, check=lambda b: b["chunksDeleted"] == 1),
    "api_v1_rag_documents_destroy": Call(
        setup=indexed, query=f"collection={COLLECTION}", check=lambda b: b["chunksDeleted"] == 1
    ),
    # transcription (Whisper tiny.en, local)
    "api_v1_transcription_transcribe_create": Call(
        multipart=True,
        body=lambda tmp: {"file": audio_upload(tmp)},
        check=lambda b: said(b["transcription"]["text"]),
    ),
    "api_v1_transcription_audio_base64_create": Call(
        body={"audio": base64.b64encode(CLIP.read_bytes()).decode(), "filename": "clip.flac"},
        check=lambda b: said(b["transcription"]["text"]),
    ),
    "api_v1_transcription_audio_create": Call(
        setup=in_upload_folder, body={"file_path": "clip.flac"}, check=lambda b: said(b["transcription"]["text"])
    ),
    "api_v1_transcription_convert_create": Call(
        multipart=True,
        body=lambda tmp: {"file": audio_upload(tmp), "target_format": "wav"},
        check=lambda b: b[:4] == b"RIFF" and len(b) > 40_000,
    ),
    "api_v1_transcription_estimate_cost_create": Call(
        body={"duration_seconds": 120}, check=lambda b: b["estimatedCost"] == 0.012
    ),
    "api_v1_transcription_jobs_retrieve": Call(
        setup=queued_job,
        settings={"TRANSCRIPTION_ASYNC_THRESHOLD_SECONDS": 1.0},  # the 1.7 s clip becomes a job (run inline)
        check=lambda b: b["job"]["status"] == "completed" and said(b["job"]["transcription"]["text"]),
    ),
    "api_v1_transcription_formats_retrieve": Call(check=lambda b: len(b["formats"]) == 10),
    "api_v1_transcription_languages_retrieve": Call(
        check=lambda b: {"code": "en", "name": "English"} in b["languages"]
    ),
    "api_v1_transcription_health_retrieve": Call(check=lambda b: b["available"] is True),
    "v1_audio_transcriptions_create": Call(
        multipart=True,
        body=lambda tmp: {"file": audio_upload(tmp), "model": "whisper-1"},
        check=lambda b: said(b["text"]),
    ),
    "v1_audio_translations_create": Call(  # tiny.en cannot translate: Whisper base, the default
        multipart=True,
        body=lambda tmp: {"file": audio_upload(tmp), "model": "whisper-1"},
        settings={"TRANSCRIPTION_LOCAL_MODEL": "base", "TRANSCRIPTION_LOCAL_MODELS_DIR": WHISPER_MODELS_DIR},
        check=lambda b: said(b["text"]),
    ),
}


def _markdown_file(tmp: Path) -> SimpleUploadedFile:
    return SimpleUploadedFile("notes.md", NOTES_MD, content_type="text/markdown")


# --- fixtures: no key anywhere, local models, folders in tmp_path ---------------------------------
@pytest.fixture
def offline(settings: Any, tmp_path: Path) -> Iterator[None]:
    for key in PROVIDER_KEYS:
        setattr(settings, key, "")
    settings.LOCAL_LLM_MODEL = LOCAL_LLM
    settings.LOCAL_LLM_MAX_TOKENS = 8  # a cap: /generation/text's minimum max_tokens is 100
    settings.EMBEDDING_MODEL = "all-MiniLM-L6-v2"
    settings.RAG_VECTOR_STORE = "embedded"
    settings.RAG_EMBEDDED_PATH = tmp_path / "rag.sqlite3"
    settings.RAG_ANSWER_MODE = "auto"
    settings.TRANSCRIPTION_BACKEND = "auto"
    settings.TRANSCRIPTION_LOCAL_MODEL = "tiny.en"  # half base's CPU; the walk checks the wire, not WER
    settings.TRANSCRIPTION_JOB_RUNNER = "auto"
    settings.CELERY_TASK_ALWAYS_EAGER = True
    for name in ("TRANSCRIPTION_TEMP_DIR", "TRANSCRIPTION_JOB_DIR", "TRANSCRIPTION_UPLOAD_DIR"):
        folder = tmp_path / name.lower()
        folder.mkdir()
        setattr(settings, name, folder)
    if not local_models.is_installed():
        pytest.fail(f"{LOCAL_LLM} is not installed: `make install` installs it (requirements/base.txt)")
    if not CLIP.is_file():
        pytest.fail(f"LibriSpeech sample not found at {CLIP}")
    yield


def test_the_walk_covers_every_operation(schema: dict[str, Any]) -> None:
    listed = set(schema_operations(schema))
    missing = sorted(listed - set(WALK))
    assert not missing, f"operations in the schema with no entry in WALK (add a request and a check): {missing}"
    stale = sorted(set(WALK) - listed)
    assert not stale, f"WALK entries for operations the schema no longer lists: {stale}"


def test_the_validator_rejects_what_the_schema_does_not_say(schema: dict[str, Any]) -> None:
    operations = schema_operations(schema)
    live = documented_response(schema, operations["api_v1_live_retrieve"][2], 200, "application/json")
    assert live is not None
    assert_valid({"live": True, "timestamp": "2026-01-01T00:00:00.000Z"}, live)
    for wrong in ({"live": "yes", "timestamp": "t"}, {"live": True}, {"live": True, "timestamp": "t", "extra": 1}):
        with pytest.raises(AssertionError, match="disagrees"):
            assert_valid(wrong, live)
    job = documented_response(schema, operations["api_v1_transcription_jobs_retrieve"][2], 200, "application/json")
    assert job is not None
    transcription = {"text": "hi", "language": None, "duration": 1, "model": "m"}  # language: nullable
    assert_valid(transcription, {**job, "$ref": "#/$defs/Transcription"})
    with pytest.raises(AssertionError, match="disagrees"):
        assert_valid({**transcription, "text": None}, {**job, "$ref": "#/$defs/Transcription"})
    with pytest.raises(AssertionError, match="status 418 is not documented"):
        documented_response(schema, operations["api_v1_live_retrieve"][2], 418, "application/json")
    with pytest.raises(AssertionError, match="answers text/html"):
        documented_response(schema, operations["api_v1_live_retrieve"][2], 200, "text/html")


@pytest.mark.slow
@pytest.mark.parametrize("operation_id", sorted(WALK))
def test_every_operation_answers_with_real_content_matching_its_schema(
    operation_id: str, schema: dict[str, Any], offline: None, settings: Any, tmp_path: Path
) -> None:
    operations = schema_operations(schema)
    assert operation_id in operations, f"{operation_id} is not in the schema"
    method, path, operation = operations[operation_id]
    call = WALK[operation_id]
    for name, value in call.settings.items():
        setattr(settings, name, value)
    api = APIClient()
    values = call.setup(api, tmp_path) if call.setup else None
    for name, value in (values or {}).items():
        path = path.replace("{" + name + "}", value)
    assert "{" not in path, f"{path}: a path parameter has no value (the entry's setup provides them)"
    url = f"{path}?{call.query}" if call.query else path
    body = call.body(tmp_path) if callable(call.body) else call.body
    if method == "GET":
        response = api.get(url)
    elif method == "DELETE":
        response = api.delete(url)
    else:
        response = getattr(api, method.lower())(url, body, format="multipart" if call.multipart else "json")
    content = b"".join(response.streaming_content) if response.streaming else response.content
    assert response.status_code == call.status, f"{method} {url}: {response.status_code} {content[:500]!r}"

    content_type = response["Content-Type"]
    documented = documented_response(schema, operation, response.status_code, content_type)
    if content_type.startswith("application/json"):
        answer = json.loads(content)
    elif content_type.startswith("text/"):
        answer = content.decode()
    else:
        answer = content
    if call.status >= 400:  # the error shape of contract 2.4
        assert set(answer) >= {"success", "error", "statusCode"}, answer
    assert documented is not None, f"{response.status_code} {content_type} is documented without a body schema"
    if not isinstance(answer, bytes):  # binary: the content type was checked against the documented one
        assert_valid(answer, documented)
    verdict = call.check(answer)
    assert verdict is None or verdict, f"{method} {url}: unexpected content {str(answer)[:800]}"


# --- the streaming answers -----------------------------------------------------------------------
STREAMS: dict[str, dict[str, Any]] = {
    "api_v1_generation_text_create": {"prompt": "What is the capital of France? One word.", "max_tokens": 100},
    "api_v1_chat_completions_create": {"messages": CAPITAL, "max_tokens": 100, "temperature": 0},
    "api_v1_analysis_generate_create": {"prompt": "Name the capital of France in one word.", "temperature": 0},
    "api_v1_rag_query_create": {"query": "When was the Eiffel Tower completed?", "collection": COLLECTION},
    "v1_chat_completions_create": {"model": "gpt-4o-mini", "messages": CAPITAL, "max_tokens": 8, "temperature": 0},
}
# Streams the schema does not document yet, with where the declaration lives: the test fails once
# one is documented, so that the entry goes.
UNDOCUMENTED_STREAMS: dict[str, str] = {}


def sse_events(content: bytes) -> list[tuple[str, str]]:
    """(event name or "message", data) for each event of a text/event-stream body."""
    events = []
    for block in content.decode().split("\n\n"):
        lines = [line for line in block.splitlines() if line and not line.startswith(":")]
        if not lines:
            continue
        name = next((line[len("event:") :].strip() for line in lines if line.startswith("event:")), "message")
        data = "\n".join(line[len("data:") :].strip() for line in lines if line.startswith("data:"))
        events.append((name, data))
    return events


def test_every_streaming_operation_is_walked(schema: dict[str, Any]) -> None:
    """An operation whose request takes ``stream`` has an entry in STREAMS."""
    streaming = set()
    for operation_id, (_, _, op) in schema_operations(schema).items():
        for media in op.get("requestBody", {}).get("content", {}).values():
            ref = media.get("schema", {}).get("$ref", "")
            component = schema["components"]["schemas"].get(ref.rsplit("/", 1)[-1], {})
            if "stream" in component.get("properties", {}):
                streaming.add(operation_id)
    assert streaming == set(STREAMS), f"missing: {sorted(streaming - set(STREAMS))}"


@pytest.mark.slow
@pytest.mark.parametrize("operation_id", sorted(STREAMS))
def test_streaming_answers_are_documented_event_streams(
    operation_id: str, schema: dict[str, Any], offline: None, tmp_path: Path
) -> None:
    _, path, operation = schema_operations(schema)[operation_id]
    api = APIClient()
    if "/rag/" in path:
        indexed(api, tmp_path)
    response = api.post(path, {**STREAMS[operation_id], "stream": True}, format="json")
    assert response.status_code == 200 and response.streaming, response.content[:500]
    content_type = response["Content-Type"]
    assert content_type.startswith("text/event-stream")
    events = sse_events(b"".join(response.streaming_content))
    assert len(events) >= 3 and events[-1] == ("message", "[DONE]"), events

    if operation_id in UNDOCUMENTED_STREAMS:
        with pytest.raises(AssertionError, match="documented"):
            documented_response(schema, operation, 200, content_type)
    else:
        documented_response(schema, operation, 200, content_type)
    if operation_id == "v1_chat_completions_create":  # OpenAI's chunks, no event names
        chunks = [json.loads(data) for _, data in events[:-1]]
        assert {chunk["object"] for chunk in chunks} == {"chat.completion.chunk"}
        assert "Paris" in "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
        return
    names = [name for name, _ in events[:-1]]
    assert "delta" in names and names[-1] == "done", names
    text = "".join(json.loads(data)["content"] for name, data in events if name == "delta")
    assert text.strip(), events
    # The done event carries the whole answer: the body documented for the JSON answer.
    done = json.loads(events[-2][1])
    if operation_id == "api_v1_rag_query_create":  # "{<the JSON answer>, "usage"}", as its description says
        assert done.pop("usage")["total_tokens"] > 0
        assert done["answerType"] == "generative" and done["sources"][0]["source"] == "eiffel.txt"
    assert_valid(done, documented_response(schema, operation, 200, "application/json") or {})
    assert done["success"] is True
