"""Shared types of the LLM providers.

Every provider speaks the same small interface: ``chat`` returns a :class:`ChatResult`,
``stream_chat`` yields :class:`ChatDelta` items whose last one carries ``usage`` and
``finish_reason``. Provider failures are raised as the API's ``UpstreamError`` (502) or
``ServiceUnavailable`` (503) so a view never has to know which SDK was used.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol


def empty_usage() -> dict[str, int]:
    return {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}


def make_usage(prompt_tokens: int | None, completion_tokens: int | None) -> dict[str, int]:
    prompt = int(prompt_tokens or 0)
    completion = int(completion_tokens or 0)
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


@dataclass(frozen=True)
class ChatResult:
    content: str
    model: str
    usage: dict[str, int] = field(default_factory=empty_usage)
    finish_reason: str | None = None
    # With ChatRequest.top_logprobs: the answer's first token's likeliest alternatives, as
    # (token, log-probability), likeliest first; empty where the provider does not report them.
    first_token_logprobs: tuple[tuple[str, float], ...] = ()


@dataclass(frozen=True)
class ChatDelta:
    """A piece of streamed text. The final item has ``done=True`` and carries usage and model."""

    content: str = ""
    usage: dict[str, int] | None = None
    finish_reason: str | None = None
    model: str | None = None
    done: bool = False


@dataclass(frozen=True)
class ChatRequest:
    messages: list[dict[str, str]]
    model: str
    temperature: float
    max_tokens: int
    json_mode: bool = False
    top_logprobs: int = 0  # > 0: report that many alternatives of the first answer token (local provider)
    # With json_mode: a JSON Schema the local provider compiles into its grammar, so lengths and
    # item counts are bounded as the tokens are written; remote providers get plain JSON mode.
    json_schema: dict[str, Any] | None = None


class ChatProvider(Protocol):
    name: str

    def chat(self, request: ChatRequest) -> ChatResult: ...

    def stream_chat(self, request: ChatRequest) -> Iterator[ChatDelta]: ...
