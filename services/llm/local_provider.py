"""The local LLM: a GGUF model (``services/llm/local_models.py``) served in-process by llama.cpp.

``xllamacpp`` runs llama.cpp's own server inside this process and takes OpenAI-shaped chat
requests as dicts, so chat templates, JSON mode (a grammar) and streaming are llama.cpp's. The
server starts once per process, on first use, and stops at exit. It also opens an HTTP listener
on 127.0.0.1 (a random port) that cannot be turned off: a random API key keeps it closed.

Runs are bounded by the ``local-llm`` model gate (``services/model_gate.py``): the server gets
as many parallel slots as the gate lets requests in, and a request past the gate's queue gets a
503 with ``Retry-After`` instead of waiting without bound.
"""

from __future__ import annotations

import atexit
import logging
import queue
import secrets
import threading
from collections.abc import Iterator
from typing import Any

from mlservice import metrics
from mlservice.core.errors import BadRequest, ServiceError, ServiceUnavailable, UpstreamError
from services.model_gate import gate_for

from . import local_models
from .base import ChatDelta, ChatRequest, ChatResult, make_usage
from .config import llm_config

logger = logging.getLogger("mlservice.llm")

GATE = "local-llm"
_END = object()  # the streaming thread's last queue item


class LocalChatProvider:
    name = "Local LLM"

    def __init__(self) -> None:
        self._server: Any = None
        self._model: local_models.LocalModel | None = None
        self._lock = threading.Lock()
        atexit.register(self.close)

    # --- server lifecycle -------------------------------------------------------------------
    def _ensure_server(self) -> tuple[Any, str]:
        """The running server and the name of its model, started on first use."""
        with self._lock:
            if self._server is None:
                model = local_models.resolve_model()
                self._server = _start_server(model)
                self._model = model
            assert self._model is not None
            return self._server, self._model.name

    def close(self) -> None:
        """Stop llama.cpp's loop and free the model (the native destructor joins its threads)."""
        with self._lock:
            server, self._server = self._server, None
        del server

    # --- chat -------------------------------------------------------------------------------
    def chat(self, request: ChatRequest) -> ChatResult:
        with gate_for(GATE).slot():
            server, name = self._ensure_server()
            try:
                with metrics.model_timer("llm", "local", name):
                    answer = server.handle_chat_completions(self._body(request))
            except (TypeError, ValueError, RuntimeError) as exc:
                raise UpstreamError(f"The local LLM failed: {exc}") from exc
        _raise_for_error(answer)
        choice = (answer.get("choices") or [{}])[0]
        usage = answer.get("usage") or {}
        return ChatResult(
            content=(choice.get("message") or {}).get("content") or "",
            model=name,
            usage=make_usage(usage.get("prompt_tokens"), usage.get("completion_tokens")),
            finish_reason=choice.get("finish_reason"),
            first_token_logprobs=_first_token_logprobs(choice),
        )

    def stream_chat(self, request: ChatRequest) -> Iterator[ChatDelta]:
        """Loads the model now (so a missing package raises here, as other providers' settings do)."""
        self._ensure_server()
        return self._stream({**self._body(request), "stream": True, "stream_options": {"include_usage": True}})

    def _stream(self, body: dict[str, Any]) -> Iterator[ChatDelta]:
        """llama.cpp streams through a blocking callback: a thread runs it and hands chunks over."""
        with gate_for(GATE).slot():
            server, name = self._ensure_server()
            chunks: queue.Queue[Any] = queue.Queue()
            cancelled = threading.Event()

            def on_chunk(chunk: dict[str, Any]) -> bool:
                chunks.put(chunk)
                return cancelled.is_set()  # True stops the generation (the client went away)

            def run() -> None:
                try:
                    server.handle_chat_completions(body, on_chunk)
                except Exception as exc:  # noqa: BLE001 - handed to the reader, which raises it
                    chunks.put(exc)
                finally:
                    chunks.put(_END)

            worker = threading.Thread(target=run, name="local-llm-stream", daemon=True)
            worker.start()
            try:
                with metrics.model_timer("llm", "local", name):
                    yield from _deltas(chunks, name)
            finally:
                cancelled.set()
                worker.join()

    @staticmethod
    def _body(request: ChatRequest) -> dict[str, Any]:
        body: dict[str, Any] = {
            "messages": _merge_consecutive_roles(request.messages),
            "temperature": request.temperature,
            # A CPU model writes about 25 tokens/s: the cap keeps one answer within seconds.
            "max_tokens": min(request.max_tokens, llm_config().local_max_tokens),
        }
        if request.json_mode and request.json_schema:
            body["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "answer", "schema": request.json_schema},
            }
        elif request.json_mode:
            body["response_format"] = {"type": "json_object"}  # llama.cpp enforces it with a grammar
        if request.top_logprobs:
            body["logprobs"], body["top_logprobs"] = True, request.top_logprobs
        return body


def _first_token_logprobs(choice: dict[str, Any]) -> tuple[tuple[str, float], ...]:
    """llama.cpp's OpenAI-style ``logprobs.content[0].top_logprobs`` as (token, logprob) pairs."""
    tokens = (choice.get("logprobs") or {}).get("content") or []
    if not tokens:
        return ()
    return tuple(
        (str(item.get("token", "")), float(item["logprob"]))
        for item in tokens[0].get("top_logprobs") or []
        if isinstance(item.get("logprob"), int | float)
    )


def _deltas(chunks: queue.Queue[Any], model: str) -> Iterator[ChatDelta]:
    usage, finish_reason = make_usage(0, 0), None
    while (chunk := chunks.get()) is not _END:
        if isinstance(chunk, Exception):
            raise UpstreamError(f"The local LLM failed: {chunk}")
        _raise_for_error(chunk)
        if chunk.get("usage"):
            usage = make_usage(chunk["usage"].get("prompt_tokens"), chunk["usage"].get("completion_tokens"))
        for choice in chunk.get("choices") or []:
            finish_reason = choice.get("finish_reason") or finish_reason
            content = (choice.get("delta") or {}).get("content")
            if content:
                yield ChatDelta(content=content)
    yield ChatDelta(usage=usage, finish_reason=finish_reason, model=model, done=True)


def _start_server(model: local_models.LocalModel) -> Any:
    import xllamacpp

    config = llm_config()
    slots = gate_for(GATE).concurrency
    params = xllamacpp.CommonParams()
    params.model.path = str(model.path)
    params.n_parallel = slots
    params.n_ctx = config.local_context_tokens * slots  # llama.cpp splits it between the slots
    params.cpuparams.n_threads = config.local_threads
    params.cpuparams_batch.n_threads = config.local_prompt_threads
    params.n_threads_http = 1
    params.warmup = False
    params.offline = True  # never fetch anything
    params.ui = False
    params.verbosity = -1  # llama.cpp logs every request to stderr otherwise
    # The listener cannot be disabled; nobody knows this key, so it answers 401 to everyone.
    params.api_keys = [secrets.token_urlsafe(32)]
    logger.info("starting the local LLM %s (%s, %d slot(s))", model.name, model.path, slots)
    try:
        return xllamacpp.Server(params)
    except Exception as exc:
        raise ServiceUnavailable(f"LOCAL_LLM_MODEL={model.name}: llama.cpp could not load {model.path}: {exc}") from exc


def _merge_consecutive_roles(messages: list[dict[str, str]]) -> list[dict[str, str]]:
    """Messages in llama.cpp's form: consecutive messages of one role joined into one.

    OpenAI's API takes any sequence of roles, but chat templates refuse some (Qwen's: "Cannot have
    2 or more assistant messages at the end of the list", found by schemathesis as a 500); joined,
    the model reads the same text in an order every template accepts.
    """
    merged: list[dict[str, str]] = []
    for message in messages:
        content = _utf8(message["content"])
        if merged and merged[-1]["role"] == message["role"]:
            merged[-1] = {**merged[-1], "content": f"{merged[-1]['content']}\n\n{content}"}
        else:
            merged.append({**message, "content": content})
    return merged


def _utf8(text: str) -> str:
    """JSON may carry lone surrogates (``"\\ud800"``); llama.cpp takes only valid UTF-8."""
    return text.encode("utf-8", "replace").decode("utf-8")


def _raise_for_error(answer: dict[str, Any]) -> None:
    error = answer.get("error") if isinstance(answer.get("error"), dict) else None
    if error is None and "code" in answer and "message" in answer:
        error = answer
    if error is None:
        return
    status, message = error.get("code"), str(error.get("message") or error)
    failure: ServiceError
    if status == 400:
        hint = " (LOCAL_LLM_CONTEXT_TOKENS)" if error.get("type") == "exceed_context_size_error" else ""
        failure = BadRequest(f"The local LLM rejected the request: {message}{hint}")
    elif status == 503:
        failure = ServiceUnavailable(f"The local LLM is not ready: {message}")
    else:
        failure = UpstreamError(f"The local LLM failed ({status}): {message}")
    logger.warning("local LLM error: %s", failure.message)
    raise failure
