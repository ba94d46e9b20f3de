"""Rerank request and response shapes: Cohere v2 / Jina (``documents``) and TEI (``texts``)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from mlservice.api.fields import StrictBooleanField, StrictCharField, StrictChoiceField, StrictNumberField
from mlservice.api.serializers import ContractSerializer

DOCUMENT_SCHEMA = {
    "oneOf": [
        {"type": "string"},
        {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]},
    ]
}


@extend_schema_field({"type": "array", "items": DOCUMENT_SCHEMA})
class RerankDocumentsField(serializers.Field):
    """Cohere/Jina ``documents``: strings or ``{"text": ...}`` objects (other keys are ignored)."""

    default_error_messages = {
        "invalid": "must be an array of strings or of objects with a string `text`",
        "required": "must be an array",
        "null": "must be an array",
    }

    def to_internal_value(self, data: Any) -> list[str]:
        if not isinstance(data, list):
            self.fail("invalid")
        texts: list[str] = []
        for item in data:
            if isinstance(item, dict):
                item = item.get("text")
            if not isinstance(item, str):
                self.fail("invalid")
            texts.append(item)
        return texts

    def to_representation(self, value: Any) -> Any:
        return value


@extend_schema_field({"type": "array", "items": {"type": "string"}})
class RerankTextsField(RerankDocumentsField):
    """TEI's ``texts``: strings only."""

    default_error_messages = {**RerankDocumentsField.default_error_messages, "invalid": "must be an array of strings"}

    def to_internal_value(self, data: Any) -> list[str]:
        if not isinstance(data, list) or any(not isinstance(item, str) for item in data):
            self.fail("invalid")
        return list(data)


class RerankRequestSerializer(ContractSerializer):
    """One body, two dialects: ``documents`` (Cohere v2 / Jina / Infinity / Voyage-like answer) or
    ``texts`` (TEI's answer: a bare list). Exactly one of the two must be sent."""

    query = StrictCharField()
    documents = RerankDocumentsField(required=False, help_text='Cohere/Jina: strings or {"text": ...} objects')
    texts = RerankTextsField(required=False, help_text="TEI: strings; the answer is then TEI's bare list")
    model = StrictCharField(required=False, help_text="Passed to a hosted provider; the local method ignores it")
    top_n = StrictNumberField(required=False, integer=True, min_value=1, help_text="Cohere/Jina: keep the best N")
    return_documents = StrictBooleanField(required=False, help_text="Cohere/Jina: add each result's document")
    return_text = StrictBooleanField(required=False, help_text="TEI: add each result's text")
    raw_scores = StrictBooleanField(required=False, help_text="TEI: accepted; scores are always in 0..1")
    truncate = StrictBooleanField(required=False, help_text="TEI: accepted; long texts are always truncated")
    truncation_direction = StrictChoiceField(["Left", "Right", "left", "right"], required=False)
    max_tokens_per_doc = StrictNumberField(required=False, integer=True, min_value=1, help_text="Cohere: accepted")
    max_chunks_per_doc = StrictNumberField(required=False, integer=True, min_value=1, help_text="Cohere v1: accepted")
    rank_fields = serializers.ListField(child=serializers.CharField(), required=False, help_text="Cohere v1: accepted")
    user = StrictCharField(required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if ("documents" in attrs) == ("texts" in attrs):
            raise serializers.ValidationError("send either documents (Cohere/Jina format) or texts (TEI format)")
        return attrs


class RerankDocumentSerializer(serializers.Serializer):
    text = serializers.CharField()


class RerankResultSerializer(serializers.Serializer):
    index = serializers.IntegerField(help_text="Position in the request's documents")
    relevance_score = serializers.FloatField(help_text="0..1, higher is more relevant; results are sorted by it")
    document = RerankDocumentSerializer(required=False, help_text="With return_documents: true")


class RerankUsageSerializer(serializers.Serializer):
    total_tokens = serializers.IntegerField()


class RerankResponseSerializer(serializers.Serializer):
    id = serializers.CharField()
    model = serializers.CharField()
    results = RerankResultSerializer(many=True)
    usage = RerankUsageSerializer(help_text="Jina's usage (tokens the provider billed; 0 for the local method)")
    meta = serializers.DictField(help_text="Cohere's meta: api_version and billed_units")


class TEIRerankItemSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    score = serializers.FloatField()
    text = serializers.CharField(required=False, help_text="With return_text: true")
