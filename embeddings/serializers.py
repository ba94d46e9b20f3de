"""Request and response bodies of the embeddings endpoints (contract 4.2) and of POST /v1/embeddings."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from mlservice.api.fields import (
    NonBlankCharField,
    StrictCharField,
    StrictChoiceField,
    StrictNumberField,
    StringListField,
)
from mlservice.api.serializers import ContractSerializer
from mlservice.core.limits import check_text_chars, check_texts_chars

MAX_BATCH_TEXTS = 100


# Texts longer than EMBEDDING_MAX_TEXT_CHARS (or, together, EMBEDDING_MAX_REQUEST_CHARS) are 413.
class GenerateRequestSerializer(ContractSerializer):
    text = NonBlankCharField(help_text="At most EMBEDDING_MAX_TEXT_CHARS (100,000) characters")
    model = StrictCharField(required=False, help_text="Default: EMBEDDING_MODEL, see GET /embeddings/models")

    def validate_text(self, value: str) -> str:
        check_text_chars(value, "text")
        return value


class BatchRequestSerializer(ContractSerializer):
    texts = StringListField(max_length=MAX_BATCH_TEXTS, help_text="Up to 100 texts; blank ones are dropped")
    model = StrictCharField(required=False)

    def validate_texts(self, value: list[str]) -> list[str]:
        check_texts_chars(value, "texts")
        return value


class SimilarityRequestSerializer(ContractSerializer):
    text1 = NonBlankCharField()
    text2 = NonBlankCharField()
    model = StrictCharField(required=False)

    def validate_text1(self, value: str) -> str:
        check_text_chars(value, "text1")
        return value

    def validate_text2(self, value: str) -> str:
        check_text_chars(value, "text2")
        return value


class GenerateResponseSerializer(serializers.Serializer):
    success = serializers.BooleanField()
    embedding = serializers.ListField(child=serializers.FloatField())
    model = serializers.CharField()
    dimensions = serializers.IntegerField()


class BatchResponseSerializer(serializers.Serializer):
    success = serializers.BooleanField()
    embeddings = serializers.ListField(child=serializers.ListField(child=serializers.FloatField()))
    model = serializers.CharField()
    dimensions = serializers.IntegerField()
    count = serializers.IntegerField()


class SimilarityResponseSerializer(serializers.Serializer):
    success = serializers.BooleanField()
    similarity = serializers.FloatField(help_text="Raw cosine in [-1, 1]")
    model = serializers.CharField()


class ModelEntrySerializer(serializers.Serializer):
    id = serializers.CharField()
    dimensions = serializers.IntegerField(allow_null=True)
    maxTokens = serializers.IntegerField()
    provider = serializers.CharField()
    description = serializers.CharField()


class ModelsResponseSerializer(serializers.Serializer):
    success = serializers.BooleanField()
    models = ModelEntrySerializer(many=True)
    default = serializers.CharField(help_text="The model used when a request names none")


# --- OpenAI wire format ---------------------------------------------------------------------
@extend_schema_field({"oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}, "maxItems": 2048}]})
class EmbeddingInputField(serializers.Field):
    """OpenAI's ``input``: a string or an array of strings (token arrays are not supported).
    Messages omit the field name; the exception handler prefixes it."""

    default_error_messages = {
        "required": "is required",
        "null": "is required",
        "invalid": "must be a string or an array of strings",
        "tokens": "must be text: token arrays are not supported by this server",
        "empty": "must not be empty",
        "too_many": "must contain no more than {max} elements",
    }

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        if isinstance(data, str):
            check_text_chars(data, "input")
            return {"texts": [data], "single": True}
        if not isinstance(data, list):
            self.fail("invalid")
        if not data:
            self.fail("empty")
        if all(isinstance(item, int) and not isinstance(item, bool) for item in data) or all(
            isinstance(item, list) for item in data
        ):
            self.fail("tokens")
        if any(not isinstance(item, str) for item in data):
            self.fail("invalid")
        limit = settings.EMBEDDING_MAX_INPUTS
        if len(data) > limit:
            self.fail("too_many", max=limit)
        check_texts_chars(data, "input")
        return {"texts": list(data), "single": False}

    def to_representation(self, value: Any) -> Any:
        return value


class OpenAIEmbeddingsRequestSerializer(ContractSerializer):
    input = EmbeddingInputField()
    model = StrictCharField(required=False)
    encoding_format = StrictChoiceField(["float", "base64"], required=False)
    dimensions = StrictNumberField(min_value=1, integer=True, required=False)
    user = StrictCharField(required=False)


class OpenAIEmbeddingItemSerializer(serializers.Serializer):
    object = serializers.CharField(default="embedding")
    index = serializers.IntegerField()
    embedding = serializers.JSONField(help_text="floats, or a base64 string of little-endian float32")


class OpenAIUsageSerializer(serializers.Serializer):
    prompt_tokens = serializers.IntegerField()
    total_tokens = serializers.IntegerField()


class OpenAIEmbeddingsResponseSerializer(serializers.Serializer):
    object = serializers.CharField(default="list")
    data = OpenAIEmbeddingItemSerializer(many=True)
    model = serializers.CharField()
    usage = OpenAIUsageSerializer()


class OpenAIErrorDetailSerializer(serializers.Serializer):
    message = serializers.CharField()
    type = serializers.CharField()
    param = serializers.CharField(allow_null=True)
    code = serializers.CharField(allow_null=True)


class OpenAIErrorSerializer(serializers.Serializer):
    error = OpenAIErrorDetailSerializer()
