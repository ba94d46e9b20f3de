"""Request and response shapes of /analysis/* (contract 4.4)."""

from rest_framework import serializers

from mlservice.api.fields import (
    NonBlankCharField,
    StrictBooleanField,
    StrictCharField,
    StrictChoiceField,
    StrictNumberField,
    StringListField,
)
from mlservice.api.serializers import ContractSerializer
from services.analysis_service import METHODS


def _method_field() -> StrictChoiceField:
    """An extra optional field (not in the contract): which method answers this request."""
    return StrictChoiceField(
        METHODS,
        required=False,
        help_text='"fast" (local methods, milliseconds), "llm" (any LLM, the local one included) or "auto" '
        "(a cloud/compatible LLM when configured, else fast). Default: ANALYSIS_BACKEND",
    )


class AnalysisSummarizeRequestSerializer(ContractSerializer):
    text = NonBlankCharField()
    max_length = StrictNumberField(required=False, min_value=10, max_value=1000)
    model = StrictCharField(required=False)
    method = _method_field()


class AnalysisSentimentRequestSerializer(ContractSerializer):
    text = NonBlankCharField()
    include_aspects = StrictBooleanField(required=False, default=False)
    model = StrictCharField(required=False)
    method = _method_field()


class AnalysisKeywordsRequestSerializer(ContractSerializer):
    text = NonBlankCharField()
    max_keywords = StrictNumberField(required=False, default=10, min_value=1, max_value=50)
    model = StrictCharField(required=False)
    method = _method_field()


class AnalysisGenerateRequestSerializer(ContractSerializer):
    prompt = NonBlankCharField()
    context = StrictCharField(required=False)
    model = StrictCharField(required=False)
    # Omitted: DEFAULT_MAX_TOKENS and DEFAULT_TEMPERATURE (services.llm_service), as every generative route.
    max_tokens = StrictNumberField(required=False, min_value=1, max_value=4000, help_text="Default: DEFAULT_MAX_TOKENS")
    temperature = StrictNumberField(required=False, min_value=0, max_value=2, help_text="Default: DEFAULT_TEMPERATURE")
    stream = StrictBooleanField(required=False, default=False, help_text="Server-Sent Events instead of JSON")


class AnalysisClassifyRequestSerializer(ContractSerializer):
    text = NonBlankCharField()
    categories = StringListField(allow_empty=False, max_length=100)
    multi_label = StrictBooleanField(required=False, default=False)
    model = StrictCharField(required=False)
    method = _method_field()


class AnalysisTextRequestSerializer(ContractSerializer):
    text = NonBlankCharField()
    analyses = StringListField(required=False, max_length=10)
    model = StrictCharField(required=False)
    method = _method_field()


# --- responses (documentation only) ------------------------------------------------------------
class _Base(serializers.Serializer):
    success = serializers.BooleanField()
    model = serializers.CharField(help_text='"local" when a local method answered')
    method = serializers.CharField(help_text='"llm:<model that answered>" or "local:<method>"')


class AnalysisSummaryResponseSerializer(_Base):
    summary = serializers.CharField()
    keyPoints = serializers.ListField(child=serializers.CharField())
    tokensUsed = serializers.IntegerField()


class AnalysisAspectSerializer(serializers.Serializer):
    aspect = serializers.CharField()
    sentiment = serializers.CharField()
    score = serializers.FloatField()


class AnalysisSentimentResponseSerializer(_Base):
    sentiment = serializers.ChoiceField(choices=["positive", "negative", "neutral", "mixed"])
    score = serializers.FloatField(min_value=-1, max_value=1)
    confidence = serializers.FloatField(min_value=0, max_value=1)
    aspects = AnalysisAspectSerializer(many=True, required=False)


class AnalysisKeywordsResponseSerializer(_Base):
    keywords = serializers.ListField(child=serializers.CharField())


class AnalysisGenerateResponseSerializer(_Base):
    content = serializers.CharField()
    tokensUsed = serializers.IntegerField()


class AnalysisClassificationSerializer(serializers.Serializer):
    category = serializers.CharField()
    confidence = serializers.FloatField()


class AnalysisClassifyResponseSerializer(_Base):
    classifications = AnalysisClassificationSerializer(many=True)
    textPreview = serializers.CharField()


class AnalysisTextResponseSerializer(serializers.Serializer):
    success = serializers.BooleanField()
    wordCount = serializers.IntegerField()
    charCount = serializers.IntegerField()
    model = serializers.CharField()
    sentiment = serializers.DictField(required=False)
    summary = serializers.DictField(required=False)
    keywords = serializers.DictField(required=False)
