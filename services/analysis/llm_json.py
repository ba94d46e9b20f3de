"""Ask the LLM for JSON and accept only the shape asked for.

The answer is parsed strictly (code fences tolerated) and checked by a validator. A bad answer
gets one retry with the error explained to the model; a second bad answer is a 502 that says
what was wrong, instead of a response filled with made-up defaults.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mlservice.core.errors import UpstreamError
from services import llm_service

logger = logging.getLogger("mlservice.analysis")

_FENCE = re.compile(r"^\s*```(?:json)?\s*(.*?)\s*```\s*$", re.DOTALL)


class InvalidAnswer(ValueError):
    """The model's answer is not the JSON object asked for; the message says why."""


@dataclass(frozen=True)
class JsonAnswer:
    data: dict[str, Any]
    model: str
    tokens_used: int


def parse_object(content: str) -> dict[str, Any]:
    text = content.strip()
    fenced = _FENCE.match(text)
    if fenced:
        text = fenced.group(1)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidAnswer(f"not valid JSON ({exc.msg} at character {exc.pos})") from exc
    if not isinstance(data, dict):
        raise InvalidAnswer("the JSON is not an object")
    return data


def ask_json(
    task: str,
    system_prompt: str,
    user_content: str,
    validate: Callable[[dict[str, Any]], dict[str, Any]],
    model: str | None,
    temperature: float,
    max_tokens: int = 1000,
    schema: dict[str, Any] | None = None,
) -> JsonAnswer:
    """``schema``: a JSON Schema the local model's grammar enforces (bounded lengths keep its answer
    within ``max_tokens``); the validator still checks every answer."""
    llm = llm_service.get_instance()
    messages = [{"role": "system", "content": system_prompt}, {"role": "user", "content": user_content}]
    tokens = 0
    problem = ""
    for attempt in (1, 2):
        result = llm.chat(
            messages, model=model, temperature=temperature, max_tokens=max_tokens, json_mode=True, json_schema=schema
        )
        tokens += result.usage.get("total_tokens", 0)
        try:
            return JsonAnswer(validate(parse_object(result.content)), result.model, tokens)
        except InvalidAnswer as exc:
            problem = str(exc)
            logger.warning("%s: model %s gave an invalid answer (attempt %d): %s", task, result.model, attempt, problem)
            messages = [
                *messages,
                {"role": "assistant", "content": result.content},
                {
                    "role": "user",
                    "content": f"That answer was rejected: {problem}. Reply again with only the JSON object described.",
                },
            ]
    raise UpstreamError(f"The language model returned an invalid answer for {task} twice: {problem}")


# --- validators: return the cleaned data or raise InvalidAnswer -----------------------------


def require_string(data: dict[str, Any], key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str):
        raise InvalidAnswer(f'"{key}" must be a string')
    return value


def require_number(data: dict[str, Any], key: str, low: float, high: float) -> float:
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidAnswer(f'"{key}" must be a number')
    if not low <= value <= high:
        raise InvalidAnswer(f'"{key}" must be between {low:g} and {high:g}')
    return float(value)


def require_string_list(data: dict[str, Any], key: str) -> list[str]:
    value = data.get(key)
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise InvalidAnswer(f'"{key}" must be a list of strings')
    return [item.strip() for item in value if item.strip()]


def require_object_list(data: dict[str, Any], key: str) -> list[dict[str, Any]]:
    value = data.get(key)
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise InvalidAnswer(f'"{key}" must be a list of objects')
    return value
