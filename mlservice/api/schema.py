"""OpenAPI schema: the project's AutoSchema, hooks and extensions (the schema and docs views are in docs_views.py).

Everything about how operations are documented is decided here, centrally, so that the area apps
only declare what is specific to an endpoint (request/response serializers, a summary):

- tags: one per API area (the Django app that defines the view), ``OpenAI-compatible`` for /v1/*;
- summary: the view's ``@extend_schema(summary=...)``, else a fallback below;
- description: a docstring written on the view class (or its handler method) itself, never one
  inherited from a base class such as ``ContractView``; else a sentence made from the summary;
  then notes on the gateway alias path and on authentication;
- security: "Bearer *or* X-API-Key" (two alternative requirement objects); public probes have none.
"""

from __future__ import annotations

import inspect
import re
from typing import Any

from django.apps import apps
from django.urls import get_resolver
from drf_spectacular.extensions import (
    OpenApiAuthenticationExtension,
    OpenApiSerializerExtension,
    OpenApiSerializerFieldExtension,
)
from drf_spectacular.openapi import AutoSchema
from rest_framework.permissions import AllowAny

_DOC_PATHS = ("/api/v1/schema", "/api/v1/docs", "/api/v1/redoc")
API_PREFIX = "/api/v1/"
OPENAI_PREFIX = "/v1/"
_PATH_PARAM = re.compile(r"<(?:\w+:)?(\w+)>")

OPENAI_TAG = "OpenAI-compatible"
# App label -> (tag, tag description), in the order the docs list them.
AREA_TAGS: dict[str, tuple[str, str]] = {
    "health": ("Health", "Status, readiness and liveness probes, Prometheus metrics."),
    "complexity": ("Complexity", "Task-complexity estimation before and after the work (levels 1-5, points)."),
    "embeddings": ("Embeddings", "Text embeddings (local all-MiniLM-L6-v2 or OpenAI) and similarity."),
    "rag": ("RAG", "Document indexing, hybrid search and answers with citations over vector collections."),
    "analysis": ("Analysis", "Summaries, sentiment, keywords, classification and prompted generation."),
    "generation": ("Generation", "Text, image and chat generation through the configured LLM providers."),
    "transcription": ("Transcription", "Audio transcription (local Whisper or OpenAI), conversion and jobs."),
    "rerank": ("Rerank", "Reranking documents against a query (Cohere/Jina and TEI formats)."),
}
OPENAI_TAG_DESCRIPTION = "OpenAI wire format at /v1/*, for OpenAI SDKs (base_url=http://host/v1)."

# Summaries of operations whose view declares none (a view's own @extend_schema(summary=...) wins).
FALLBACK_SUMMARIES: dict[str, str] = {
    "analysis.views.SummarizeView": "Summarise a text, with key points",
    "analysis.views.SentimentView": "Sentiment of a text, optionally per aspect",
    "analysis.views.KeywordsView": "The most important keywords of a text",
    "analysis.views.GenerateView": "Generate text from a prompt and optional context",
    "analysis.views.ClassifyView": "Classify a text into the given categories",
    "generation.views.TextGenerationView": "Generate text from a prompt and optional system prompt",
    "generation.views.ImageGenerationView": "Generate an image from a prompt (DALL-E 3 through OpenAI)",
    "generation.views.ChatCompletionsView": "Chat completion in the gateway's format",
}

AUTH_NOTE = (
    "Needs an API key when keys are configured (ML_SERVICE_API_KEYS or `manage.py apikey create`): "
    "send either `Authorization: Bearer <key>` or `X-API-Key: <key>`."
)
PUBLIC_NOTE = "Public: answers without an API key and is never throttled."


def only_versioned_paths(endpoints: list[tuple[Any, ...]], **kwargs: Any) -> list[tuple[Any, ...]]:
    """Document each endpoint once: under /api/v1/ (the unprefixed TS paths are the same views),
    plus the OpenAI-compatible /v1/ routes."""
    return [
        ep
        for ep in endpoints
        if (ep[0].startswith(API_PREFIX) and not ep[0].startswith(_DOC_PATHS)) or ep[0].startswith(OPENAI_PREFIX)
    ]


def tag_descriptions(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """Postprocessing hook: list the tags in use, areas first in their usual order, each described."""
    used = {
        tag
        for operations in result.get("paths", {}).values()
        for op in operations.values()
        for tag in op.get("tags", [])
    }
    known = [*AREA_TAGS.values(), (OPENAI_TAG, OPENAI_TAG_DESCRIPTION)]
    tags = [{"name": name, "description": description} for name, description in known if name in used]
    tags += [{"name": name} for name in sorted(used - {name for name, _ in known})]
    result["tags"] = tags
    return result


def _own_doc(obj: Any) -> str:
    """The docstring written on ``obj`` itself (a class's ``__dict__``, a function's ``__doc__``):
    ``inspect.getdoc`` would fall back to a base class's internal docstring."""
    if obj is None:
        return ""
    doc = obj.__dict__.get("__doc__") if inspect.isclass(obj) else getattr(obj, "__doc__", None)
    return inspect.cleandoc(doc) if isinstance(doc, str) and doc.strip() else ""


def _humanize(name: str) -> str:
    """``ClassifyView`` -> ``Classify``, ``health_check`` -> ``Health check``."""
    name = re.sub(r"(APIView|View)$", "", name) or name
    words = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", name).replace("_", " ").split()
    return " ".join(words).capitalize()


class ServiceAutoSchema(AutoSchema):
    """The project's DEFAULT_SCHEMA_CLASS (see the module docstring)."""

    def _view_key(self) -> str:
        cls = self.view.__class__
        return f"{cls.__module__}.{cls.__qualname__}"

    def _handler(self) -> Any:
        return getattr(self.view, getattr(self.view, "action", None) or self.method.lower(), None)

    def get_tags(self) -> list[str]:
        if self.path.startswith(OPENAI_PREFIX):
            return [OPENAI_TAG]
        module = self.view.__class__.__module__
        config = apps.get_containing_app_config(module)
        label = config.label if config else module.split(".")[0]
        if label in AREA_TAGS:
            return [AREA_TAGS[label][0]]
        # A new module (docs/ADDING_MODULES.md) gets a tag from its app name: my_feature -> "My Feature".
        return [label.replace("_", " ").title()]

    def get_summary(self) -> str | None:
        if self._view_key() in FALLBACK_SUMMARIES:
            return FALLBACK_SUMMARIES[self._view_key()]
        own = _own_doc(self._handler()) or _own_doc(self.view.__class__)
        if own:
            return own.splitlines()[0].rstrip(".")
        return _humanize(self.view.__class__.__name__)

    def get_description(self) -> str:  # type: ignore[override]  # the stubs say str | None; we always give one
        own = _own_doc(self._handler()) or _own_doc(self.view.__class__)
        if own:
            return own
        summary = self.get_summary() or ""
        return f"{summary}." if summary and not summary.endswith((".", "!", "?")) else summary

    def get_auth(self) -> list[dict[str, list[Any]]]:
        if self._is_public():
            return []
        # DRF adds {} ("anonymous is fine") for AllowAny; the API-key requirements are alternatives.
        return [requirement for requirement in super().get_auth() if requirement]

    def _is_public(self) -> bool:
        return not self.view.get_authenticators() or any(isinstance(p, AllowAny) for p in self.view.get_permissions())

    def _gateway_alias(self) -> str | None:
        """The unprefixed gateway path serving the same view, if there is one (contract 9.1)."""
        if not self.path.startswith(API_PREFIX):
            return None
        alias = "/" + self.path[len(API_PREFIX) :]
        for pattern in get_resolver().url_patterns:
            # Root-level routes only (includes are prefixes); "<uuid:job_id>" reads "{job_id}" here.
            route = _PATH_PARAM.sub(r"{\1}", str(getattr(pattern, "pattern", "")))
            if getattr(getattr(pattern, "callback", None), "cls", None) is self.view.__class__ and "/" + route == alias:
                return alias
        return None

    def get_operation(self, *args: Any, **kwargs: Any) -> dict[str, Any] | None:
        operation = super().get_operation(*args, **kwargs)
        if operation is None:
            return None
        notes = [operation.get("description") or ""]
        alias = self._gateway_alias()
        responses = operation.get("responses", {})
        created = self.path.startswith(API_PREFIX) and "201" in responses and "200" not in responses
        if created:  # mlservice.api.views.ContractView.finalize_response: 200 under /api/v1/
            operation["responses"] = {("200" if code == "201" else code): body for code, body in responses.items()}
        if alias:
            answer = " (where a success answers 201, as the reference service does)" if created else ""
            notes.append(f"Also served at the gateway path `{alias}`{answer}.")
        notes.append(PUBLIC_NOTE if self._is_public() else AUTH_NOTE)
        operation["description"] = "\n\n".join(note for note in notes if note)
        return operation


class ContractSerializerExtension(OpenApiSerializerExtension):
    """Request bodies reject unknown keys (contract 2.3): say so with ``additionalProperties: false``,
    so clients and fuzzers generate bodies the API accepts."""

    target_class = "mlservice.api.serializers.ContractSerializer"
    match_subclasses = True

    def map_serializer(self, auto_schema: Any, direction: str) -> dict[str, Any]:
        schema = auto_schema._map_serializer(self.target, direction, bypass_extensions=True)
        if direction == "request":
            schema["additionalProperties"] = False
        return schema


class StrictNumberFieldExtension(OpenApiSerializerFieldExtension):
    target_class = "mlservice.api.fields.StrictNumberField"

    def map_serializer_field(self, auto_schema: Any, direction: str) -> dict[str, Any]:
        field = self.target
        schema: dict[str, Any] = {"type": "integer" if field.integer else "number"}
        if field.min_value is not None:
            schema["minimum"] = field.min_value
        if field.max_value is not None:
            schema["maximum"] = field.max_value
        return schema


class StrictBooleanFieldExtension(OpenApiSerializerFieldExtension):
    target_class = "mlservice.api.fields.StrictBooleanField"

    def map_serializer_field(self, auto_schema: Any, direction: str) -> dict[str, Any]:
        return {"type": "boolean"}


class ApiKeyAuthenticationExtension(OpenApiAuthenticationExtension):
    """One API key, presented in either of two headers: two alternative security requirements
    (OpenAPI ORs the objects of a ``security`` list and ANDs the schemes inside one object)."""

    target_class = "mlservice.api.auth.ApiKeyAuthentication"
    name = ["bearerAuth", "apiKeyHeader"]

    def get_security_requirement(self, auto_schema: Any) -> list[dict[str, list[Any]]]:
        return [{name: []} for name in self.name]

    def get_security_definition(self, auto_schema: Any) -> list[dict[str, Any]]:
        when = "Needed only when API keys are configured (ML_SERVICE_API_KEYS or `manage.py apikey create`)."
        return [
            {
                "type": "http",
                "scheme": "bearer",
                "description": f"The API key as `Authorization: Bearer <key>`; or use X-API-Key instead. {when}",
            },
            {
                "type": "apiKey",
                "in": "header",
                "name": "X-API-Key",
                "description": f"The API key as `X-API-Key: <key>`; or use the Bearer header instead. {when}",
            },
        ]
