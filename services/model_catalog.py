"""Every model this instance can serve right now, for OpenAI's ``GET /v1/models``.

Built from the services that serve the models, so the list never claims more than a request
could use: the local embedding model, the local LLM when its package is installed, the local
Whisper model when it is installed, and the models of each configured provider (OpenAI,
Anthropic, an OpenAI-compatible server). Names that are only aliases (``local``, ``whisper-1``
running locally) are accepted by the routes but not listed.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass

from mlservice.core.errors import ServiceError
from services import embedding_service, llm_service, transcription_service
from services.llm.config import llm_config
from services.transcription.config import transcription_config
from services.transcription.openai_engine import OPENAI_MODELS as OPENAI_TRANSCRIPTION_MODELS

# OpenAI reports when each model was created; ours are as old as this process's catalogue. A
# fixed value per process keeps list and retrieve consistent.
_STARTED_AT = int(time.time())
# Who serves a chat route, in OpenAI's ``owned_by`` words.
_OWNERS = {"openai": "openai", "anthropic": "anthropic", "compatible": "openai-compatible", "local": "local"}


@dataclass(frozen=True)
class CatalogModel:
    id: str
    owned_by: str
    capability: str  # "chat", "embeddings" or "transcription"
    created: int = _STARTED_AT

    def as_openai(self) -> dict[str, object]:
        return {"id": self.id, "object": "model", "created": self.created, "owned_by": self.owned_by}


def available_models(openai_chat_models: Iterable[str] = ()) -> list[CatalogModel]:
    """Chat, embedding and transcription models, each id once, in that order.

    ``openai_chat_models``: extra OpenAI chat model names to offer when an OpenAI key is set
    (those ``/generation/models`` advertises); each is listed only if a request for it would be
    served by that name.
    """
    found: dict[str, CatalogModel] = {}
    for model in (*_chat_models(openai_chat_models), *_embedding_models(), *_transcription_models()):
        found.setdefault(model.id, model)
    return list(found.values())


def find_model(model_id: str, openai_chat_models: Iterable[str] = ()) -> CatalogModel | None:
    return next((m for m in available_models(openai_chat_models) if m.id == model_id), None)


def _chat_models(openai_chat_models: Iterable[str]) -> list[CatalogModel]:
    config = llm_config()
    candidates = [config.default_model]
    if config.openai_configured:
        candidates.append(config.openai_default_model)
    if config.openai_api_key:
        candidates.extend(openai_chat_models)
    if config.anthropic_api_key:
        candidates.append(config.anthropic_default_model)
    llm = llm_service.get_instance()
    if "local" in llm.configured_kinds():  # installed, not merely configured
        candidates.append(llm.resolve("local").model)
    models = []
    for name in filter(None, (c.strip() for c in candidates)):
        try:
            route = llm.resolve(name)
        except ServiceError:  # no provider for it
            continue
        # A name that would fall back to another model is not one this instance serves.
        if route.model == name:
            models.append(CatalogModel(name, _OWNERS[route.kind], "chat"))
    return models


def _embedding_models() -> list[CatalogModel]:
    return [CatalogModel(info.id, info.provider, "embeddings") for info in embedding_service.get_instance().models()]


def _transcription_models() -> list[CatalogModel]:
    service = transcription_service.get_instance()
    backend = transcription_config().backend
    models = []
    if backend != "openai" and service.local.is_available():
        models.append(CatalogModel(service.local.model_name, "local", "transcription"))
    if backend != "local" and service.openai.is_available():
        models.extend(CatalogModel(name, "openai", "transcription") for name in OPENAI_TRANSCRIPTION_MODELS)
    return models
