"""The base serializer for every request body in the contract.

Rules (contract sections 2.3 and 9.2):
- fields are declared in snake_case and accepted as snake_case or camelCase;
- keys that are neither are rejected with ``property <key> should not exist``;
- JSON ``null`` on an optional field means "absent" (its default applies), except for fields
  listed in ``Meta.null_is_value`` where the contract gives null its own meaning;
- error keys are reported under the name the client sent (camelCase when the field was missing).
"""

from __future__ import annotations

import copy
import re
from typing import Any

from rest_framework import serializers
from rest_framework.settings import api_settings

_CAMEL_BOUNDARY = re.compile(r"(?<=[a-z0-9])([A-Z])")


def camel_to_snake(name: str) -> str:
    return _CAMEL_BOUNDARY.sub(r"_\1", name).lower()


def snake_to_camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


class ContractSerializer(serializers.Serializer):
    """Validates a JSON object body with the contract's naming, unknown-key and null rules."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._sent_names: dict[str, str] = {}

    def get_fields(self) -> dict[str, serializers.Field]:
        # DRF deep-copies every declared field per instance (re-running each field's __init__),
        # which was half the cost of a small POST. A shallow copy still gives this instance its own
        # bound field objects (thread-safe); nested serializers keep the deep copy for their state.
        return {
            name: copy.deepcopy(field) if isinstance(field, serializers.BaseSerializer) else copy.copy(field)
            for name, field in self._declared_fields.items()
        }

    def null_is_value(self) -> frozenset[str]:
        meta = getattr(self, "Meta", None)
        return frozenset(getattr(meta, "null_is_value", ()))

    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, dict):
            raise serializers.ValidationError(
                {api_settings.NON_FIELD_ERRORS_KEY: ["request body must be a JSON object"]}
            )
        normalised, unknown = self._normalise_keys(data)
        if unknown:
            # Reported together with field errors, like class-validator's whitelist check.
            try:
                super().to_internal_value(normalised)
            except serializers.ValidationError as exc:
                field_errors = dict(exc.detail)
                unknown += list(field_errors.pop(api_settings.NON_FIELD_ERRORS_KEY, []))
                raise serializers.ValidationError({api_settings.NON_FIELD_ERRORS_KEY: unknown, **field_errors}) from exc
            raise serializers.ValidationError({api_settings.NON_FIELD_ERRORS_KEY: unknown})
        return super().to_internal_value(normalised)

    def _normalise_keys(self, data: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
        fields = self.fields
        keep_null = self.null_is_value()
        normalised: dict[str, Any] = {}
        unknown: list[str] = []
        for key, value in data.items():
            name = key if key in fields else camel_to_snake(key)
            field = fields.get(name)
            if field is None or field.read_only or name in normalised:
                unknown.append(f"property {key} should not exist")
                continue
            self._sent_names[name] = key
            if value is None and not field.required and name not in keep_null:
                continue
            normalised[name] = value
        return normalised, unknown

    def _external_name(self, key: str) -> str:
        if key == api_settings.NON_FIELD_ERRORS_KEY:
            return key
        return self._sent_names.get(key, snake_to_camel(key))

    @property
    def errors(self) -> Any:
        errors = super().errors
        if not isinstance(errors, dict):
            return errors
        return serializers.ReturnDict(
            {self._external_name(key): value for key, value in errors.items()},
            serializer=self,
        )
