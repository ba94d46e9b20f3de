from rest_framework import serializers

from mlservice.api.fields import StrictCharField, StrictNumberField, StringListField
from mlservice.api.serializers import ContractSerializer


class EstimateRequestSerializer(ContractSerializer):
    title = StrictCharField()
    description = StrictCharField(required=False)
    issue_type = StrictCharField(required=False, allow_null=True)
    labels = StringListField(required=False)
    milestone = StrictCharField(required=False)
    project_context = StrictCharField(required=False)
    related_files = StringListField(required=False)

    class Meta:
        # Contract 4.5.1 (verified): a null issueType drops the adjustment factor, while a missing
        # one defaults to "task"; so null is a value here, not "absent".
        null_is_value = ("issue_type",)


class AnalyzeRequestSerializer(ContractSerializer):
    lines_added = StrictNumberField(required=False, min_value=0)
    lines_removed = StrictNumberField(required=False, min_value=0)
    files_changed = StrictNumberField(required=False, min_value=0)
    commits = StrictNumberField(required=False, min_value=1)
    time_to_merge_hours = StrictNumberField(required=False, min_value=0)
    review_comments = StrictNumberField(required=False, min_value=0)
    pr_description = StrictCharField(required=False)
    # 0 means "no pre-estimate" (contract 8.30), so it is accepted although levels start at 1.
    pre_complexity_score = StrictNumberField(required=False, min_value=0, max_value=5)
    pre_estimated_hours = StrictNumberField(required=False)
    pre_reasoning = StrictCharField(required=False)


class AdjustmentRequestSerializer(ContractSerializer):
    pre_level = StrictNumberField(min_value=1, max_value=5)
    actual_level = StrictNumberField(min_value=1, max_value=5)


class EstimateResponseSerializer(serializers.Serializer):
    complexityScore = serializers.IntegerField(min_value=1, max_value=5)
    complexityName = serializers.CharField()
    estimatedHours = serializers.FloatField()
    estimatedPoints = serializers.IntegerField()
    factors = serializers.DictField()
    reasoning = serializers.CharField()
    confidence = serializers.FloatField()
    timestamp = serializers.CharField()
    complexity_score = serializers.IntegerField(help_text="snake_case copy read by the gateway")
    complexity_name = serializers.CharField()
    estimated_hours = serializers.FloatField()
    estimated_points = serializers.IntegerField()


class AnalyzeResponseSerializer(serializers.Serializer):
    actualComplexity = serializers.IntegerField(min_value=1, max_value=5)
    complexityName = serializers.CharField()
    actualPoints = serializers.IntegerField()
    metrics = serializers.DictField()
    accuracyScore = serializers.FloatField(required=False, help_text="only with a pre-estimate")
    pointAdjustment = serializers.FloatField()
    adjustmentReason = serializers.CharField()
    analysis = serializers.CharField()
    timestamp = serializers.CharField()
    actual_complexity = serializers.IntegerField()
    complexity_name = serializers.CharField()
    actual_points = serializers.IntegerField()
    accuracy_score = serializers.FloatField(allow_null=True, help_text="null without a pre-estimate")
    point_adjustment = serializers.FloatField()
    adjustment_reason = serializers.CharField()


class ScaleLevelSerializer(serializers.Serializer):
    level = serializers.IntegerField()
    name = serializers.CharField()
    description = serializers.CharField()
    hoursMin = serializers.FloatField()
    hoursMax = serializers.FloatField()
    basePoints = serializers.IntegerField()
    indicators = serializers.ListField(child=serializers.CharField())


class ScaleResponseSerializer(serializers.Serializer):
    scale = ScaleLevelSerializer(many=True)


class AdjustmentResponseSerializer(serializers.Serializer):
    multiplier = serializers.FloatField()
    bonusPercent = serializers.IntegerField()
    reason = serializers.CharField()


class ComplexityHealthSerializer(serializers.Serializer):
    status = serializers.CharField()
    service = serializers.CharField()
    timestamp = serializers.CharField()
