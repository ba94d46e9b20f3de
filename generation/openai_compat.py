"""``POST /v1/chat/completions`` in OpenAI's own wire format, so OpenAI clients can point here.

Requests follow OpenAI's schema (fields this service does not use, such as ``top_p`` or ``user``,
are accepted and ignored, as OpenAI-compatible servers do); answers and errors are OpenAI's
shapes (``chat.completion``, ``chat.completion.chunk`` SSE ending with ``data: [DONE]``, and
``{"error": {"message", "type", "param", "code"}}``).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

from asgiref.sync import async_to_sync
from django.http import HttpResponse
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.request import Request

from embeddings.serializers import OpenAIErrorSerializer
from mlservice.api.renderers import dumps
from mlservice.api.sse import DONE, prefetch, sse_response
from mlservice.api.views import OpenAIView
from mlservice.core.errors import BadRequest, ServiceError
from services.generation_service import GenerationService
from services.llm.base import ChatDelta

from . import openai_rag
from .openai_chunks import chat_chunk, openai_error_event, usage_chunk
from .serializers import OpenAIChatCompletionRequestSerializer, OpenAIChatCompletionSerializer

ROLES = {"system": "system", "developer": "system", "user": "user", "assistant": "assistant"}


class OpenAIRequestError(ValueError):
    def __init__(self, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.param = param


def parse_request(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise OpenAIRequestError("The request body must be a JSON object.")
    _refuse_tools(body)
    model = body.get("model")
    # Omitted (or null): DEFAULT_LLM_MODEL, else the configured provider's default, as on every
    # generative route (OpenAI itself requires it; OpenAI-compatible servers default it).
    if model is not None and (not isinstance(model, str) or not model.strip()):
        raise OpenAIRequestError("model must be a non-empty string", "model")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise OpenAIRequestError("messages must be a non-empty array", "messages")
    parsed = [_message(item, index) for index, item in enumerate(messages)]
    temperature = _number(body, "temperature", 0, 2)
    max_tokens = body.get("max_completion_tokens", body.get("max_tokens"))
    if max_tokens is not None and (isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1):
        raise OpenAIRequestError("max_tokens must be a positive integer", "max_tokens")
    if body.get("n", 1) != 1:
        raise OpenAIRequestError("only n=1 is supported", "n")
    stream = body.get("stream", False)
    if not isinstance(stream, bool):
        raise OpenAIRequestError("stream must be a boolean", "stream")
    response_format = body.get("response_format") or {}
    options = body.get("stream_options") or {}
    return {
        "model": model,
        "messages": parsed,
        "temperature": temperature,
        "max_tokens": max_tokens,
        "json_mode": isinstance(response_format, dict) and response_format.get("type") == "json_object",
        "stream": stream,
        "include_usage": isinstance(options, dict) and options.get("include_usage") is True,
    }


_NO_TOOLS = (
    "{param}: tool and function calling is not supported by this server "
    "(the providers behind it are called without tools); send the request without {param}"
)


def _refuse_tools(body: dict[str, Any]) -> None:
    """Tools are refused out loud: answering as if none were offered would mislead an agent."""
    for param in ("tools", "functions"):
        if body.get(param) not in (None, []):
            raise OpenAIRequestError(_NO_TOOLS.format(param=param), param)
    for param in ("tool_choice", "function_call"):
        # "none" (and "auto" with no tools) ask for no tool call: the answer is the same without tools.
        if body.get(param) not in (None, "none", "auto"):
            raise OpenAIRequestError(_NO_TOOLS.format(param=param), param)


def _message(item: Any, index: int) -> dict[str, str]:
    param = f"messages.[{index}]"
    if isinstance(item, dict) and item.get("role") in ("tool", "function"):
        raise OpenAIRequestError(
            f"{param}.role {item['role']}: tool and function results are not supported by this server", param
        )
    # A non-string role (an object, a list) cannot be looked up in ROLES: it is the same 400.
    if not isinstance(item, dict) or not isinstance(item.get("role"), str) or item["role"] not in ROLES:
        raise OpenAIRequestError(f"{param}.role must be one of system, developer, user, assistant", param)
    content = item.get("content")
    if isinstance(content, list):  # content parts: keep the text ones
        texts = [part.get("text") for part in content if isinstance(part, dict) and part.get("type") == "text"]
        if len(texts) != len(content) or not all(isinstance(t, str) for t in texts):
            raise OpenAIRequestError(f"{param}.content: only text parts are supported", param)
        content = "".join(texts)
    if not isinstance(content, str):
        raise OpenAIRequestError(f"{param}.content must be a string or an array of text parts", param)
    return {"role": ROLES[item["role"]], "content": content}


def _number(body: dict[str, Any], key: str, low: float, high: float) -> float | None:
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise OpenAIRequestError(f"{key} must be a number between {low} and {high}", key)
    return float(value)


class OpenAIChatCompletionsView(OpenAIView):
    # OpenAI clients send `Authorization: Bearer <key>`; access control is the project's API-key layer.
    # Every failure (auth, bad JSON, validation, provider) is raised: the /v1 exception handler
    # (mlservice.api.exceptions.openai_exception_handler) answers it in OpenAI's envelope.
    @extend_schema(
        request={"application/json": OpenAIChatCompletionRequestSerializer},
        responses={
            (200, "application/json"): OpenApiResponse(
                response=OpenAIChatCompletionSerializer, description="chat.completion (stream: false)"
            ),
            (200, "text/event-stream"): OpenApiResponse(
                response={"type": "string"},
                description="stream: true: `data: {chat.completion.chunk}` events (no event names): the first "
                'with delta {"role": "assistant", "content": ""}, then delta {"content"} chunks, one with '
                "`finish_reason` and an empty delta, with stream_options.include_usage a last chunk with empty "
                "`choices` and `usage`, then `data: [DONE]`. A chunk is {id, object: chat.completion.chunk, "
                "created, model, system_fingerprint, choices: [{index, delta, logprobs, finish_reason}]}; with "
                "`collection` the first carries `sources` and the finishing one `citations`. A failure after the "
                'first chunk is one `data: {"error": {...}}` event, and the stream ends.',
            ),
            400: OpenApiResponse(
                OpenAIErrorSerializer,
                description="Invalid request (`param` names the field); also for a request with `tools`, "
                "`functions`, a forced `tool_choice` or tool messages (tool calling is not supported)",
            ),
        },
        summary="OpenAI-compatible chat completions (official OpenAI clients work against it)",
        description=openai_rag.SCHEMA_DESCRIPTION,
    )
    def post(self, request: Request) -> HttpResponse:
        try:
            params = parse_request(request.data)
            rag = openai_rag.parse_rag(request.data)
        except (OpenAIRequestError, openai_rag.RagRequestError) as exc:
            raise BadRequest(str(exc), param=exc.param) from exc
        service = GenerationService.get_instance()
        call = {key: params[key] for key in ("model", "temperature", "max_tokens", "json_mode")}
        completion_id = f"chatcmpl-{uuid.uuid4().hex}"
        created = int(time.time())
        if rag is not None:  # an extra `collection`: answer from it, with sources (generation/openai_rag.py)
            try:
                events = openai_rag.rag_events(params, rag)
            except openai_rag.RagRequestError as exc:
                raise BadRequest(str(exc), param=exc.param) from exc
            if params["stream"]:
                return openai_rag.stream(events, completion_id, created, params["include_usage"])
            return openai_rag.completion(events, completion_id, created)
        if params["stream"]:
            deltas = prefetch(service.stream_deltas(params["messages"], **call))
            # A deadline or unexpected failure mid-stream is written in OpenAI's in-band error shape too.
            return sse_response(_chunks(deltas, completion_id, created, params), error_event=openai_error_event)
        body = async_to_sync(service.openai_chat_completion)(params["messages"], completion_id, created, **call)
        return HttpResponse(dumps(body), status=200, content_type="application/json")


def _chunks(deltas: Iterator[ChatDelta], completion_id: str, created: int, params: dict[str, Any]) -> Iterator[bytes]:
    model = params["model"] or GenerationService.get_instance().default_model()

    def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
        return chat_chunk(completion_id, created, model, delta, finish)

    yield chunk({"role": "assistant", "content": ""})
    last = ChatDelta(done=True)
    try:
        for delta in deltas:
            if delta.done:
                last = delta
                model = delta.model or model
            elif delta.content:
                yield chunk({"content": delta.content})
    except ServiceError as exc:
        # Headers are sent: report the failure in-band, the way OpenAI does.
        yield openai_error_event(exc.status, exc.message, exc.param)
        return
    yield chunk({}, last.finish_reason or "stop")
    if params["include_usage"]:
        yield usage_chunk(completion_id, created, model, last.usage)
    yield DONE
