"""Rerankers behind an HTTP API: a TEI or Infinity server (``RERANK_URL``) or a hosted API
(Cohere, Jina, Voyage: an API key), called with httpx (already installed with the OpenAI SDK).

Each provider asks for every document's score and the service sorts and cuts (``top_n``), so all
providers behave alike. Failures follow the project's provider error policy
(``services/provider_errors.py``): rejected input 400, bad key or rate limit 503, other upstream
statuses and timeouts 502, unreachable 503.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import httpx

from mlservice.core.errors import ServiceError, UpstreamError
from mlservice.core.provider_errors import map_provider_error

from .base import RerankScores

PUBLIC_URLS = {
    "cohere": "https://api.cohere.com",
    "jina": "https://api.jina.ai",
    "voyage": "https://api.voyageai.com",
}
DEFAULT_MODELS = {
    "cohere": "rerank-v3.5",
    "jina": "jina-reranker-v2-base-multilingual",
    "voyage": "rerank-2",
    "tei": "tei",  # TEI serves one model and takes no model name
    "infinity": "",  # Infinity picks its only model when none is named
}
KEY_SETTINGS = {"cohere": "COHERE_API_KEY", "jina": "JINA_API_KEY", "voyage": "VOYAGE_API_KEY"}
LABELS = {"tei": "TEI", "infinity": "Infinity", "cohere": "Cohere", "jina": "Jina", "voyage": "Voyage"}


# Named like the OpenAI/Anthropic SDK exceptions, which is what map_provider_error reads.
class APIStatusError(Exception):
    def __init__(self, status_code: int, body: Any, message: str) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.body = body
        self.message = message


class APITimeoutError(Exception):
    pass


class APIConnectionError(Exception):
    pass


class HTTPReranker:
    """One class for the five APIs: they differ in path, body and where the scores are."""

    def __init__(self, provider: str, url: str, api_key: str, model: str, timeout: float, batch_size: int) -> None:
        self.name = provider
        self.url = (url or PUBLIC_URLS.get(provider, "")).rstrip("/")
        self.api_key = api_key
        self.model = model or DEFAULT_MODELS[provider]
        # Self-hosted servers cap a request's documents (TEI's --max-client-batch-size is 32 by
        # default); hosted APIs take up to 1,000 documents in one call.
        self.batch_size = batch_size if provider in ("tei", "infinity") else 1000
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.Client(timeout=timeout, headers=headers, trust_env=False)

    def default_model(self) -> str:
        return self.model

    def rerank(self, query: str, documents: list[str], model: str | None = None) -> RerankScores:
        model = model or self.model
        scores: list[float] = []
        tokens: int | None = None
        answered_model = model
        for start in range(0, len(documents), self.batch_size):
            batch = documents[start : start + self.batch_size]
            payload = self._post(self._path(), self._body(query, batch, model))
            batch_scores, batch_model, batch_tokens = self._parse(payload, len(batch))
            scores.extend(batch_scores)
            answered_model = batch_model or answered_model
            if batch_tokens is not None:
                tokens = (tokens or 0) + batch_tokens
        return RerankScores(scores=scores, model=answered_model or self.name, tokens=tokens)

    # --- the five wire formats -----------------------------------------------------------------
    def _path(self) -> str:
        return {"cohere": "/v2/rerank", "jina": "/v1/rerank", "voyage": "/v1/rerank"}.get(self.name, "/rerank")

    def _body(self, query: str, documents: list[str], model: str) -> dict[str, Any]:
        if self.name == "tei":
            return {"query": query, "texts": documents, "raw_scores": False, "truncate": True}
        if self.name == "voyage":
            return {"model": model, "query": query, "documents": documents, "truncation": True}
        body: dict[str, Any] = {"query": query, "documents": documents}
        if model:
            body["model"] = model
        if self.name in ("jina", "infinity"):
            body["return_documents"] = False
        return body

    def _parse(self, payload: Any, count: int) -> tuple[list[float], str | None, int | None]:
        """Scores in document order, the model that answered and the billed tokens."""
        try:
            if self.name == "tei":
                items, model, tokens = payload, None, None
                pairs = [(int(item["index"]), float(item["score"])) for item in items]
            else:
                items = payload["data"] if self.name == "voyage" else payload["results"]
                pairs = [(int(item["index"]), float(item["relevance_score"])) for item in items]
                model = payload.get("model")
                usage = payload.get("usage") or {}
                tokens = usage.get("total_tokens")
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise UpstreamError(f"{LABELS[self.name]} answered a rerank response we cannot read: {exc!r}") from exc
        scores: list[float | None] = [None] * count
        for index, score in pairs:
            if 0 <= index < count:
                scores[index] = score
        if any(score is None for score in scores):
            raise UpstreamError(f"{LABELS[self.name]} left documents out of its rerank response")
        return [float(score) for score in scores if score is not None], model, _int_or_none(tokens)

    def _post(self, path: str, body: dict[str, Any]) -> Any:
        label = LABELS[self.name]
        key_setting = KEY_SETTINGS.get(self.name, "RERANK_URL")
        try:
            response = self._client.post(self.url + path, json=body)
            if response.status_code >= 400:
                raise APIStatusError(response.status_code, _json_or_text(response), _error_text(response))
            return response.json()
        except ServiceError:
            raise
        except APIStatusError as exc:
            raise map_provider_error(exc, label, "rerank", key_setting, "RERANK_URL") from exc
        except httpx.TimeoutException as exc:
            wrapped: Exception = APITimeoutError(str(exc) or "timed out")
        except httpx.TransportError as exc:
            wrapped = APIConnectionError(str(exc) or type(exc).__name__)
        except ValueError as exc:  # not JSON
            raise UpstreamError(f"{label} answered a rerank response that is not JSON") from exc
        raise map_provider_error(wrapped, label, "rerank", key_setting, "RERANK_URL") from wrapped


def _json_or_text(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return response.text[:300]


def _error_text(response: httpx.Response) -> str:
    body = _json_or_text(response)
    if isinstance(body, dict):
        # OpenAI-style {"error": {"message"}}, TEI {"error", "error_type"}, Cohere {"message"},
        # Voyage {"detail"}.
        inner = body.get("error")
        if isinstance(inner, dict):
            inner = inner.get("message")
        for candidate in (inner, body.get("message"), body.get("detail")):
            if candidate:
                return str(candidate)[:300]
    return str(body)[:300] or response.reason_phrase


def _int_or_none(value: Any) -> int | None:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def providers() -> Sequence[str]:
    return tuple(LABELS)
