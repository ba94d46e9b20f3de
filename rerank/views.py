"""``POST /rerank`` and ``POST /v1/rerank``: thin views over ``services.rerank_service``.

The body decides the dialect: ``documents`` is Cohere v2 / Jina (answer ``{id, model, results:
[{index, relevance_score, document?}], usage, meta}``), ``texts`` is TEI (answer a bare list
``[{index, score, text?}]``). Both answer 200, best first. Errors are the contract's body at
/rerank (and /api/v1/rerank) and OpenAI's envelope at /v1/rerank (``{"error": {"message", ...}}``,
which Cohere's and Jina's clients surface as the message).
"""

from __future__ import annotations

import uuid
from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from mlservice.api.views import ContractView
from services import rerank_service
from services.rerank_service import RerankOutcome

from . import serializers as s

DESCRIPTION = """Scores each document against the query with the configured reranker (RERANK_PROVIDER:
Cohere, Jina or Voyage with a key, TEI or Infinity at RERANK_URL, else the local method) and answers
them best first, with `relevance_score` in 0..1.

Two request dialects, chosen by the body:

* `documents` (strings or `{"text": ...}`), with `top_n`, `return_documents`, `model`: Cohere v2 /
  Jina format; the answer is `{"id", "model", "results": [{"index", "relevance_score", "document"?}],
  "usage": {"total_tokens"}, "meta": {...}}`.
* `texts`, with `return_text` (and `raw_scores`, `truncate`, accepted): TEI format; the answer is a
  bare list `[{"index", "score", "text"?}]` (not the schema below, which is the Cohere/Jina body).

Limits: RERANK_MAX_DOCUMENTS documents (400), RERANK_MAX_DOCUMENT_CHARS characters per document and
for the query, RERANK_MAX_TOTAL_CHARS in all (413)."""


class RerankView(ContractView):
    request_serializer = s.RerankRequestSerializer

    @extend_schema(
        request=s.RerankRequestSerializer,
        responses={200: s.RerankResponseSerializer},
        summary="Rerank documents against a query (Cohere/Jina or TEI format)",
        description=DESCRIPTION,
    )
    def post(self, request: Request) -> Response:
        data = self.validated(request)
        tei = "texts" in data
        documents: list[str] = data["texts"] if tei else data["documents"]
        top_n = data.get("top_n")
        outcome = rerank_service.get_instance().rerank(
            data["query"], documents, top_n=None if tei else (int(top_n) if top_n is not None else None),
            model=data.get("model") or None,
        )  # fmt: skip
        if tei:
            return Response(_tei_body(outcome, documents, bool(data.get("return_text"))))
        return Response(_cohere_body(outcome, documents, bool(data.get("return_documents"))))


def _tei_body(outcome: RerankOutcome, documents: list[str], return_text: bool) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    for result in outcome.results:
        item: dict[str, Any] = {"index": result.index, "score": result.score}
        if return_text:
            item["text"] = documents[result.index]
        items.append(item)
    return items


def _cohere_body(outcome: RerankOutcome, documents: list[str], return_documents: bool) -> dict[str, Any]:
    results: list[dict[str, Any]] = []
    for result in outcome.results:
        item: dict[str, Any] = {"index": result.index, "relevance_score": result.score}
        if return_documents:
            item["document"] = {"text": documents[result.index]}
        results.append(item)
    tokens = outcome.tokens or 0
    return {
        "id": str(uuid.uuid4()),
        "model": outcome.model,
        "results": results,
        "usage": {"total_tokens": tokens},
        "meta": {"api_version": {"version": "2"}, "billed_units": {"search_units": 1}, "provider": outcome.provider},
    }
