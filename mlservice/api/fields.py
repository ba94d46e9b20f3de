"""Strict serializer fields that validate like the TS service's class-validator DTOs.

DRF coerces by default ("10" becomes 10, "true" becomes True); the contract (section 2.3) does not,
and its messages are class-validator's. Messages here omit the field name: the exception handler
prefixes the name the client actually sent.
"""

from __future__ import annotations

import math
import re
from typing import Any

from rest_framework import serializers
from rest_framework.validators import ProhibitSurrogateCharactersValidator

from mlservice.core.limits import MAX_JSON_DEPTH, nesting_exceeds

_SURROGATE = re.compile("[\ud800-\udfff]")


class FastProhibitSurrogates(ProhibitSurrogateCharactersValidator):
    """DRF's check, with one regular-expression search instead of a Python loop per character
    (that loop took about 7 s for a 10 MB text, before any limit could refuse it)."""

    def __call__(self, value: Any) -> None:
        found = _SURROGATE.search(str(value))
        if found:
            raise serializers.ValidationError(self.message.format(code_point=ord(found.group())), code=self.code)


class StrictCharField(serializers.CharField):
    default_error_messages = {
        "invalid": "must be a string",
        "required": "must be a string",
        "null": "must be a string",
        "blank": "should not be empty",
        "max_length": "must be shorter than or equal to {max_length} characters",
        "min_length": "must be longer than or equal to {min_length} characters",
    }

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("trim_whitespace", False)
        kwargs.setdefault("allow_blank", True)
        super().__init__(**kwargs)
        self.validators = [
            FastProhibitSurrogates() if type(v) is ProhibitSurrogateCharactersValidator else v for v in self.validators
        ]

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class NonBlankCharField(StrictCharField):
    """A required text that must contain something other than whitespace (contract 9.5: 400, not 500)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs["allow_blank"] = False
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> str:
        value = super().to_internal_value(data)
        if not value.strip():
            self.fail("blank")
        return value


class StrictNumberField(serializers.Field):
    """A JSON number (int or float, never bool or string), optionally bounded."""

    default_error_messages = {
        "invalid": "must be a number conforming to the specified constraints",
        "required": "must be a number conforming to the specified constraints",
        "null": "must be a number conforming to the specified constraints",
        "min_value": "must not be less than {min_value}",
        "max_value": "must not be greater than {max_value}",
        "not_integer": "must be an integer number",
    }

    def __init__(
        self,
        *,
        min_value: float | None = None,
        max_value: float | None = None,
        integer: bool = False,
        **kwargs: Any,
    ) -> None:
        self.min_value = min_value
        self.max_value = max_value
        self.integer = integer
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> int | float:
        if isinstance(data, bool) or not isinstance(data, int | float) or not math.isfinite(data):
            self.fail("invalid")
        if self.integer and not float(data).is_integer():
            self.fail("not_integer")
        if self.min_value is not None and data < self.min_value:
            self.fail("min_value", min_value=_js(self.min_value))
        if self.max_value is not None and data > self.max_value:
            self.fail("max_value", max_value=_js(self.max_value))
        return int(data) if self.integer else data

    def to_representation(self, value: Any) -> Any:
        return value


class StrictBooleanField(serializers.Field):
    default_error_messages = {
        "invalid": "must be a boolean value",
        "required": "must be a boolean value",
        "null": "must be a boolean value",
    }

    def to_internal_value(self, data: Any) -> bool:
        if not isinstance(data, bool):
            self.fail("invalid")
        return data

    def to_representation(self, value: Any) -> Any:
        return value


class StrictChoiceField(StrictCharField):
    default_error_messages = {
        "invalid_choice": "must be one of the following values: {choices}",
    }

    def __init__(self, choices: list[str], **kwargs: Any) -> None:
        self.choices = list(choices)
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str) or data not in self.choices:
            self.fail("invalid_choice", choices=", ".join(self.choices))
        return data


class StringListField(serializers.ListField):
    """An array of strings, with class-validator's messages."""

    default_error_messages = {
        "not_a_list": "must be an array",
        "required": "must be an array",
        "null": "must be an array",
        "empty": "should not be empty",
        "max_length": "must contain no more than {max_length} elements",
        "min_length": "must contain at least {min_length} elements",
    }

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("child", serializers.CharField(trim_whitespace=False, allow_blank=True))
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> list[str]:
        if not isinstance(data, list):
            self.fail("not_a_list")
        if any(not isinstance(item, str) for item in data):
            raise serializers.ValidationError("each value in {field} must be a string")
        if self.max_length is not None and len(data) > self.max_length:
            self.fail("max_length", max_length=self.max_length)
        if self.min_length is not None and len(data) < self.min_length:
            self.fail("min_length", min_length=self.min_length)
        if not self.allow_empty and not data:
            self.fail("empty")
        return list(data)


class StrictDictField(serializers.DictField):
    default_error_messages = {
        "not_a_dict": "must be an object",
        "required": "must be an object",
        "null": "must be an object",
        "too_deep": "must not nest objects or arrays more than {max_depth} levels deep",
    }

    def __init__(self, *, max_depth: int = MAX_JSON_DEPTH, **kwargs: Any) -> None:
        kwargs.setdefault("child", serializers.JSONField())
        self.max_depth = max_depth
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        if not isinstance(data, dict):
            self.fail("not_a_dict")
        if nesting_exceeds(data, self.max_depth):
            self.fail("too_deep", max_depth=self.max_depth)
        return dict(data)


def _js(value: float) -> int | float:
    """Print bounds as JS does: 1, not 1.0."""
    return int(value) if float(value).is_integer() else value
