"""Request and response shapes of /generation/* and /chat/completions (contract 4.7, snake_case)."""

from rest_framework import serializers

from mlservice.api.fields import (
    NonBlankCharField,
    StrictBooleanField,
    StrictCharField,
    StrictChoiceField,
    StrictNumberField,
)
from mlservice.api.serializers import ContractSerializer

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
    object = serializers.CharField(default="chat.completion")
    created = serializers.IntegerField()
    model = serializers.CharField()
    choices = OpenAIChoiceSerializer(many=True)
    usage = GenerationUsageSerializer()
    system_fingerprint = serializers.CharField(allow_null=True)
