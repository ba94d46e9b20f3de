from rest_framework import serializers


class HealthServicesSerializer(serializers.Serializer):
    embeddings = serializers.BooleanField()
    rag = serializers.BooleanField()
    transcription = serializers.BooleanField()
    analysis = serializers.BooleanField()
    complexity = serializers.BooleanField()


class HealthConfigSerializer(serializers.Serializer):
    hasOpenAiKey = serializers.BooleanField()
    hasQdrantUrl = serializers.BooleanField()
    embeddingModel = serializers.CharField()
    defaultLlmModel = serializers.CharField()
    defaultTemperature = serializers.FloatField()
    defaultMaxTokens = serializers.IntegerField()
    # Entries the area apps register (services.health_service.register_info): present when the app is.
    embeddingDefaultModel = serializers.CharField(required=False)
    embeddingLocalBackend = serializers.CharField(required=False)
    vectorStore = serializers.CharField(required=False)
    llmModel = serializers.CharField(required=False)
    analysisMethods = serializers.DictField(child=serializers.CharField(), required=False)
    transcriptionBackend = serializers.CharField(required=False)


class HealthResponseSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["ok", "degraded", "error"])
    timestamp = serializers.CharField()
    version = serializers.CharField()
    services = HealthServicesSerializer()
    config = HealthConfigSerializer()


class CheckSerializer(serializers.Serializer):
    ok = serializers.BooleanField()
    latencyMs = serializers.FloatField()
    error = serializers.CharField(required=False)


class ReadyResponseSerializer(serializers.Serializer):
    ready = serializers.BooleanField()
    status = serializers.CharField()
    timestamp = serializers.CharField()
    checks = serializers.DictField(child=CheckSerializer())


class LiveResponseSerializer(serializers.Serializer):
    live = serializers.BooleanField()
    timestamp = serializers.CharField()


class ServiceIndexLinksSerializer(serializers.Serializer):
    docs = serializers.CharField(help_text="Swagger UI")
    redoc = serializers.CharField()
    schema = serializers.CharField(help_text="OpenAPI 3 schema")
    health = serializers.CharField()
    ready = serializers.CharField()
    live = serializers.CharField()
    metrics = serializers.CharField(help_text="Prometheus text format")
    openai = serializers.CharField(help_text="base_url for OpenAI clients")


class ServiceIndexResponseSerializer(serializers.Serializer):
    name = serializers.CharField()
    description = serializers.CharField()
    version = serializers.CharField()
    links = ServiceIndexLinksSerializer()
