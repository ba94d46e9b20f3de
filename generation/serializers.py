"""Request and response shapes of /generation/* and /chat/completions (contract 4.7, snake_case)."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from mlservice.api.fields import (
    NonBlankCharField,
    StrictBooleanField,
    StrictCharField,
    StrictChoiceField,
    StrictNumberField,
)
from mlservice.api.serializers import ContractSerializer
from rag.serializers import CitationSerializer, RetrievedContextSerializer
from services.rag_service import MODES as RAG_MODES

TEXT_MODELS = [
    {"id": "gpt-3.5-turbo", "name": "GPT-3.5 Turbo", "description": "Fast and cost-effective"},
    {"id": "gpt-4-turbo", "name": "GPT-4 Turbo", "description": "Latest GPT-4 with improved performance"},
    {"id": "gpt-4", "name": "GPT-4", "description": "Most capable model"},
]
IMAGE_MODELS = [{"id": "dall-e-3", "name": "DALL-E 3", "description": "Latest image generation model"}]
DEFAULT_MODEL_HELP = (
    "Default: DEFAULT_LLM_MODEL, else the configured provider's default model (GET /health: config.defaultLlmModel)"
)
DEFAULT_MAX_TOKENS_HELP = "Default: DEFAULT_MAX_TOKENS (2000 unless set)"
DEFAULT_TEMPERATURE_HELP = "Default: DEFAULT_TEMPERATURE (0.7 unless set)"


class GenerationTextGenerationRequestSerializer(ContractSerializer):
    prompt = NonBlankCharField()
    system_prompt = StrictCharField(required=False)
    # Omitted: DEFAULT_MAX_TOKENS, DEFAULT_TEMPERATURE and DEFAULT_LLM_MODEL (services.llm_service).
    max_tokens = StrictNumberField(required=False, min_value=100, max_value=4000, help_text=DEFAULT_MAX_TOKENS_HELP)
    temperature = StrictNumberField(required=False, min_value=0, max_value=2, help_text=DEFAULT_TEMPERATURE_HELP)
    model = StrictChoiceField([m["id"] for m in TEXT_MODELS], required=False, help_text=DEFAULT_MODEL_HELP)
    stream = StrictBooleanField(required=False, default=False, help_text="Server-Sent Events instead of JSON")


class GenerationImageGenerationRequestSerializer(ContractSerializer):
    prompt = NonBlankCharField()
    size = StrictChoiceField(["1024x1024", "1792x1024", "1024x1792"], required=False, default="1024x1024")
    quality = StrictChoiceField(["standard", "hd"], required=False, default="standard")
    style = StrictChoiceField(["vivid", "natural"], required=False, default="vivid")


class GenerationChatMessageSerializer(ContractSerializer):
    role = StrictChoiceField(["user", "assistant", "system"])
    content = StrictCharField()


class GenerationChatRequestSerializer(ContractSerializer):
    messages = GenerationChatMessageSerializer(many=True, allow_empty=False)
    model = StrictCharField(required=False, help_text=f"Any model name (free-form). {DEFAULT_MODEL_HELP}")
    max_tokens = StrictNumberField(required=False, min_value=100, max_value=4000, help_text=DEFAULT_MAX_TOKENS_HELP)
    temperature = StrictNumberField(required=False, min_value=0, max_value=2, help_text=DEFAULT_TEMPERATURE_HELP)
    # The TS service accepts any value and ignores it; here exactly `true` switches to SSE.
    stream = serializers.JSONField(required=False, default=False)


# --- responses (documentation only) ------------------------------------------------------------
class GenerationErrorSerializer(serializers.Serializer):
    """The contract's error body (2.4; mlservice.api.exceptions.error_body)."""

    success = serializers.BooleanField(help_text="always false")
    error = serializers.CharField(help_text='"Bad Request" for validation, else what went wrong (naming the setting)')
    message = serializers.ListField(
        child=serializers.CharField(), required=False, help_text="validation errors (400 only)"
    )
    statusCode = serializers.IntegerField()


class GenerationTextGenerationResponseSerializer(serializers.Serializer):
    success = serializers.BooleanField()
    id = serializers.UUIDField()
    content = serializers.CharField()
    model = serializers.CharField(help_text="The model the provider reports")
    tokens_used = serializers.IntegerField()
    processing_time_ms = serializers.IntegerField()


class GenerationImageGenerationResponseSerializer(serializers.Serializer):
    success = serializers.BooleanField()
    id = serializers.UUIDField()
    image_url = serializers.CharField()
    revised_prompt = serializers.CharField(required=False)
    size = serializers.CharField()
    processing_time_ms = serializers.IntegerField()


class GenerationModelInfoSerializer(serializers.Serializer):
    id = serializers.CharField()
    name = serializers.CharField()
    description = serializers.CharField()


class GenerationModelListsSerializer(serializers.Serializer):
    text = GenerationModelInfoSerializer(many=True)
    image = GenerationModelInfoSerializer(many=True)


class GenerationModelsResponseSerializer(serializers.Serializer):
    success = serializers.BooleanField()
    models = GenerationModelListsSerializer()


class GenerationUsageSerializer(serializers.Serializer):
    prompt_tokens = serializers.IntegerField()
    completion_tokens = serializers.IntegerField()
    total_tokens = serializers.IntegerField()


class GenerationChoiceMessageSerializer(serializers.Serializer):
    role = serializers.CharField()
    content = serializers.CharField()


class GenerationChoiceSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    message = GenerationChoiceMessageSerializer()
    finish_reason = serializers.CharField(required=False)


class GenerationChatResponseSerializer(serializers.Serializer):
    success = serializers.BooleanField()
    id = serializers.UUIDField()
    choices = GenerationChoiceSerializer(many=True)
    content = serializers.CharField()
    usage = GenerationUsageSerializer()
    model = serializers.CharField()


class OpenAIMessageSerializer(serializers.Serializer):
    role = serializers.CharField()
    content = serializers.CharField()
    refusal = serializers.CharField(allow_null=True)


class OpenAIChoiceSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    message = OpenAIMessageSerializer()
    logprobs = serializers.JSONField(allow_null=True)
    finish_reason = serializers.CharField()


class OpenAIChatCompletionSerializer(serializers.Serializer):
    """OpenAI's ``chat.completion`` object (with ``stream: true``: ``chat.completion.chunk`` SSE)."""

    id = serializers.CharField()
    object = serializers.ChoiceField(["chat.completion"])
    created = serializers.IntegerField()
    model = serializers.CharField()
    choices = OpenAIChoiceSerializer(many=True)
    usage = GenerationUsageSerializer()
    system_fingerprint = serializers.CharField(allow_null=True)
    # With a RAG `collection` only (generation/openai_rag.py).
    sources = RetrievedContextSerializer(many=True, required=False, help_text="With `collection`: as /rag/query")
    citations = CitationSerializer(many=True, required=False, help_text="With `collection`: the [n] markers")


# --- the request of POST /v1/chat/completions (documentation of generation.openai_compat.parse_request,
# which validates it and answers OpenAI's error envelope; other OpenAI fields are accepted and ignored)
@extend_schema_field(
    {
        "oneOf": [
            {"type": "string"},
            {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {"type": {"type": "string", "enum": ["text"]}, "text": {"type": "string"}},
                    "required": ["type", "text"],
                },
            },
        ]
    }
)
class OpenAIMessageContentField(serializers.JSONField):
    """A string, or an array of text parts (joined); other parts (images, audio) are refused."""


class OpenAIChatRequestMessageSerializer(serializers.Serializer):
    role = serializers.ChoiceField(
        ["system", "developer", "user", "assistant"],
        help_text="developer is read as system; tool and function messages are refused (400)",
    )
    content = OpenAIMessageContentField(help_text="A string, or an array of text parts (joined)")


class OpenAIStreamOptionsSerializer(serializers.Serializer):
    include_usage = serializers.BooleanField(
        required=False, help_text="true: a last chunk with empty choices and the usage"
    )


class OpenAIResponseFormatSerializer(serializers.Serializer):
    type = serializers.CharField(help_text="json_object: JSON mode; any other value: plain text")


class OpenAIRagOptionsSerializer(serializers.Serializer):
    contextLimit = serializers.IntegerField(required=False, min_value=1, max_value=20, default=5)
    minScore = serializers.FloatField(required=False, min_value=0, max_value=1, default=0.5)
    mode = serializers.ChoiceField(list(RAG_MODES), required=False, default="hybrid")


class OpenAIChatCompletionRequestSerializer(serializers.Serializer):
    """OpenAI's chat completion request, as this server reads it (fields not listed are ignored)."""

    model = serializers.CharField(required=False, allow_null=True, help_text=f"Any model name. {DEFAULT_MODEL_HELP}")
    messages = OpenAIChatRequestMessageSerializer(many=True, allow_empty=False)
    temperature = serializers.FloatField(
        required=False, allow_null=True, min_value=0, max_value=2, help_text=DEFAULT_TEMPERATURE_HELP
    )
    max_tokens = serializers.IntegerField(
        required=False, allow_null=True, min_value=1, help_text=DEFAULT_MAX_TOKENS_HELP
    )
    max_completion_tokens = serializers.IntegerField(
        required=False, allow_null=True, min_value=1, help_text="Preferred over max_tokens when both are sent"
    )
    n = serializers.IntegerField(required=False, min_value=1, max_value=1, default=1, help_text="Only 1")
    stream = serializers.BooleanField(
        required=False, default=False, help_text="true: chat.completion.chunk Server-Sent Events, then [DONE]"
    )
    stream_options = OpenAIStreamOptionsSerializer(required=False, allow_null=True)
    response_format = OpenAIResponseFormatSerializer(required=False, allow_null=True)
    tool_choice = serializers.ChoiceField(
        ["none", "auto"],
        required=False,
        allow_null=True,
        help_text="Tool calling is not supported: `tools`/`functions` (non-empty), a forced tool_choice or "
        "function_call answer 400",
    )
    top_p = serializers.FloatField(required=False, allow_null=True, help_text="Accepted and ignored")
    stop = serializers.JSONField(required=False, allow_null=True, help_text="Accepted and ignored")
    user = serializers.CharField(required=False, allow_blank=True, help_text="Accepted and ignored")
    collection = serializers.CharField(
        required=False, help_text="Extra (RAG): answer from this collection, with `sources` and `citations`"
    )
    rag = OpenAIRagOptionsSerializer(required=False, help_text="Extra (RAG, needs `collection`)")
