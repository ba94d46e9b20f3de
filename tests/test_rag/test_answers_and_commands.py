"""/rag/query through a real (fake-server) OpenAI-compatible LLM, and the management commands."""

from __future__ import annotations

import json
import re

import pytest
from django.core.management import call_command
from django.test import override_settings


@pytest.fixture
def llm_api(embedded_api, openai_fake):
    # With an OpenAI key the embedding service would pick OpenAI embeddings: keep the local model.
    with override_settings(RAG_ANSWER_MODE="auto", EMBEDDING_MODEL="all-MiniLM-L6-v2"):
        yield openai_fake


def test_query_uses_the_llm_with_numbered_sources(post_json, llm_api) -> None:
    post_json("/rag/index", {"content": "The Eiffel Tower was completed in 1889.", "source": "eiffel.txt"})
    post_json("/rag/index", {"content": "The Eiffel Tower is 330 metres tall.", "source": "height.txt"})
    llm_api.reply = lambda body: "It was completed in 1889 [1] and is 330 m tall [2]."
    response = post_json(
        "/rag/query", {"query": "Tell me about the Eiffel Tower", "model": "gpt-4o-mini", "minScore": 0}
    )
    body = response.json()
    assert response.status_code == 201
    assert (
        body["answerType"] == "generative" and body["answer"] == "It was completed in 1889 [1] and is 330 m tall [2]."
    )
    assert body["model"] == "gpt-4o-mini-fake-0001"
    assert body["tokensUsed"] > 0
    sent = llm_api.requests[-1]["body"]
    assert sent["model"] == "gpt-4o-mini" and sent["temperature"] == 0.7
    user = sent["messages"][-1]["content"]
    assert re.search(r"\[Source 1: (eiffel|height)\.txt\]", user) and "Question: Tell me about the Eiffel Tower" in user
    assert [c["index"] for c in body["citations"]] == [1, 2]
    assert {c["source"] for c in body["citations"]} == {"eiffel.txt", "height.txt"}
    assert [s["source"] for s in body["sources"]] == [c["source"] for c in body["citations"]]


@pytest.mark.parametrize(
    ("answer", "cited"),
    [
        ("[Source 2: height.txt] It is 330 m tall.", [2]),  # the context header copied (local Qwen)
        ("Completed in 1889 and 330 m tall [1, 2].", [1, 2]),
        ("See [Sources 2, 1] and [source 1].", [1, 2]),
        ("Built in 1889 [1][7] (there is no source 7).", [1]),
        ("Bananas grow in the tropics [1889].", []),  # no marker, and nothing the sources support
    ],
)
def test_citations_are_read_in_the_forms_models_write_them(post_json, llm_api, answer, cited) -> None:
    post_json("/rag/index", {"content": "The Eiffel Tower was completed in 1889.", "source": "eiffel.txt"})
    post_json("/rag/index", {"content": "The Eiffel Tower is 330 metres tall.", "source": "height.txt"})
    llm_api.reply = lambda body: answer
    body = post_json("/rag/query", {"query": "Tell me about the Eiffel Tower", "minScore": 0}).json()
    assert body["answer"] == answer
    assert [c["index"] for c in body["citations"]] == cited
    assert [c["source"] for c in body["citations"]] == [body["sources"][n - 1]["source"] for n in cited]


def test_llm_provider_failure_is_a_clear_error(post_json, llm_api) -> None:
    post_json("/rag/index", {"content": "Some indexed text.", "source": "a"})
    llm_api.fail_next(500, "provider exploded", times=5)
    response = post_json("/rag/query", {"query": "text?", "model": "gpt-4o-mini", "minScore": 0})
    assert response.status_code in (502, 503) and response.json()["success"] is False


def test_index_documents_and_rag_search_commands(tmp_path, embedded_api, capsys) -> None:
    folder = tmp_path / "docs"
    (folder / "sub").mkdir(parents=True)
    (folder / "guide.md").write_text("# Deploying\n\nRun migrations before starting granian workers.")
    (folder / "page.html").write_text(
        "<html><head><style>p{}</style></head><body><p>Backups run every night at 2am.</p><script>x()</script></body></html>"
    )
    (folder / "sub" / "notes.txt").write_text("Redis holds the cache; PostgreSQL holds the data.")
    (folder / "rows.jsonl").write_text(
        json.dumps({"_id": "r1", "title": "On-call", "text": "Page the on-call engineer for outages."}) + "\n"
    )
    (folder / "ignored.bin").write_bytes(b"\x00\x01")
    call_command("index_documents", str(folder), "--collection", "ops")
    stats = embedded_api.stats()["collections"]["ops"]
    assert stats["pointsCount"] == 4
    call_command("index_documents", str(folder), "--collection", "ops")  # re-run replaces, no duplicates
    assert embedded_api.stats()["collections"]["ops"]["pointsCount"] == 4

    capsys.readouterr()
    call_command("rag_search", "when do backups run", "--collection", "ops", "--limit", "1")
    out = capsys.readouterr().out
    assert "page.html (chunk 1/1)" in out and "Backups run every night" in out and "x()" not in out
    call_command("rag_search", "who gets paged", "--collection", "ops", "--limit", "1", "--mode", "lexical")
    assert "r1" in capsys.readouterr().out


def test_index_documents_reads_pdf(tmp_path, embedded_api) -> None:
    from pypdf import PdfWriter
    from pypdf.generic import DecodedStreamObject, DictionaryObject, NameObject

    writer = PdfWriter()
    page = writer.add_blank_page(width=300, height=200)
    font = DictionaryObject(
        {
            NameObject("/Type"): NameObject("/Font"),
            NameObject("/Subtype"): NameObject("/Type1"),
            NameObject("/BaseFont"): NameObject("/Helvetica"),
        }
    )
    page[NameObject("/Resources")] = DictionaryObject(
        {NameObject("/Font"): DictionaryObject({NameObject("/F1"): writer._add_object(font)})}
    )
    stream = DecodedStreamObject()
    stream.set_data(b"BT /F1 12 Tf 20 100 Td (Invoices are archived for seven years.) Tj ET")
    page[NameObject("/Contents")] = writer._add_object(stream)
    path = tmp_path / "policy.pdf"
    with path.open("wb") as handle:
        writer.write(handle)
    call_command("index_documents", str(path), "--collection", "pdfs")
    from services.rag_service import SearchRequest

    hits = embedded_api.search(SearchRequest(query="how long are invoices kept", collection="pdfs", min_score=0))
    assert hits[0].source == "policy.pdf (chunk 1/1)" and "seven years" in hits[0].content


def test_index_documents_rejects_a_missing_path(tmp_path, embedded_api) -> None:
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="does not exist"):
        call_command("index_documents", str(tmp_path / "nope"))


def test_an_answer_without_citations_gets_the_sources_that_support_it(post_json, llm_api) -> None:
    post_json("/rag/index", {"content": "The Eiffel Tower was completed in 1889.", "source": "eiffel.txt"})
    post_json("/rag/index", {"content": "The Eiffel Tower is 330 metres tall.", "source": "height.txt"})
    llm_api.reply = lambda body: (
        "The Eiffel Tower was finished in 1889. It is 330 metres tall. I hope this helps you with your trip!"
    )
    body = post_json("/rag/query", {"query": "Tell me about the Eiffel Tower", "minScore": 0}).json()
    number = {source["source"]: n for n, source in enumerate(body["sources"], 1)}
    assert body["answer"] == (
        f"The Eiffel Tower was finished in 1889. [{number['eiffel.txt']}] "
        f"It is 330 metres tall. [{number['height.txt']}] I hope this helps you with your trip!"
    )
    assert sorted(c["source"] for c in body["citations"]) == ["eiffel.txt", "height.txt"]


def test_an_answer_the_sources_do_not_support_gets_no_citation(post_json, llm_api) -> None:
    post_json("/rag/index", {"content": "The Eiffel Tower was completed in 1889.", "source": "eiffel.txt"})
    answer = "Bananas are rich in potassium and grow in tropical climates."
    llm_api.reply = lambda body: answer
    body = post_json("/rag/query", {"query": "Tell me about the Eiffel Tower", "minScore": 0}).json()
    assert body["answer"] == answer and body["citations"] == []


def test_an_answer_is_kept_uncited_when_attribution_cannot_embed(post_json, llm_api, monkeypatch) -> None:
    from mlservice.core.errors import ServiceUnavailable
    from services.rag_service import RAGService

    post_json("/rag/index", {"content": "The Eiffel Tower was completed in 1889.", "source": "eiffel.txt"})
    answer = "The Eiffel Tower was finished in 1889."
    llm_api.reply = lambda body: answer
    real_embed = RAGService._embed

    def embed_query_only(texts: list[str]):
        if answer in texts:  # the attribution embeds the answer's sentences; nothing else does
            raise ServiceUnavailable("embedding provider down")
        return real_embed(texts)

    monkeypatch.setattr(RAGService, "_embed", staticmethod(embed_query_only))
    body = post_json("/rag/query", {"query": "When was the Eiffel Tower built?", "minScore": 0}).json()
    assert body["answer"] == answer and body["citations"] == [] and body["answerType"] == "generative"
