"""Request and response shapes of the RAG endpoints (contract 4.3). Extras beyond the contract:
``documentId`` on /rag/index, ``mode`` and ``metadataFilter`` on search/query, ``minScore`` on
query, and the batch endpoint."""

from django.conf import settings
from rest_framework import serializers

from mlservice.api.fields import (
    NonBlankCharField,
    StrictBooleanField,
    StrictCharField,
    StrictChoiceField,
    StrictDictField,
    StrictNumberField,
    StringListField,
)
from mlservice.api.serializers import ContractSerializer
from services.rag_service import MAX_FILTER_KEYS, MAX_SOURCE_TYPES, MODES, metadata_filter_problem


class MetadataFilterField(StrictDictField):
    """``{"key": value}`` or ``{"key": [values]}``: values every backend can match exactly
    (Qdrant matches only strings, integers and booleans; a nested object binds nowhere), at most
    ``MAX_FILTER_KEYS`` keys, integers within 64 bits (``rag_service.metadata_filter_problem``)."""

    def to_internal_value(self, data: object) -> dict:
        filters = super().to_internal_value(data)
        problem = metadata_filter_problem(filters)
        if problem:
            raise serializers.ValidationError(problem)
        return filters


class IndexDocumentSerializer(ContractSerializer):
    content = NonBlankCharField()
    source = StrictCharField()
    source_type = StrictCharField(required=False, default="document")
    metadata = StrictDictField(required=False, default=dict)
    document_id = NonBlankCharField(required=False, max_length=256, help_text="re-indexing an id replaces it")


class IndexRequestSerializer(IndexDocumentSerializer):
    collection = StrictCharField(required=False, default="default")


class BatchIndexRequestSerializer(ContractSerializer):
    documents = IndexDocumentSerializer(many=True, allow_empty=False, max_length=settings.RAG_MAX_BATCH_DOCUMENTS)
    collection = StrictCharField(required=False, default="default")


class IndexProjectDocumentRequestSerializer(ContractSerializer):
    document_id = NonBlankCharField(max_length=256)
    project_id = NonBlankCharField(max_length=100)
    filename = StrictCharField()
    content = StrictCharField()
    file_type = StrictCharField()
    chunk_size = StrictNumberField(required=False, default=1000, min_value=100, max_value=10000)
    chunk_overlap = StrictNumberField(required=False, default=200, min_value=0, max_value=1000)

    def validate(self, attrs: dict) -> dict:
        if attrs.get("chunk_overlap", 200) >= attrs.get("chunk_size", 1000):
            raise serializers.ValidationError({"chunk_overlap": ["must be smaller than chunkSize"]})
        return attrs


class SearchRequestSerializer(ContractSerializer):
    query = NonBlankCharField()
    collection = StrictCharField(required=False, default="default")
    limit = StrictNumberField(required=False, default=5, min_value=1, max_value=100)
    min_score = StrictNumberField(required=False, default=0.5, min_value=0, max_value=1)
    source_types = StringListField(required=False, default=list, max_length=MAX_SOURCE_TYPES)
    metadata_filter = MetadataFilterField(
        required=False, default=dict, help_text=f"key: value or [values]; at most {MAX_FILTER_KEYS} keys"
    )
    mode = StrictChoiceField(list(MODES), required=False, default="hybrid")
    rerank = StrictBooleanField(
        required=False,
        default=False,
        help_text="Reorder max(limit*4, RAG_RERANK_CANDIDATES) candidates with the configured reranker "
        "(POST /rerank's); relevanceScore stays the cosine and minScore applies to it",
    )


class QueryRequestSerializer(ContractSerializer):
    query = NonBlankCharField()
    collection = StrictCharField(required=False, default="default")
    context_limit = StrictNumberField(required=False, default=5, min_value=1, max_value=20)
    model = StrictCharField(required=False)
    system_prompt = StrictCharField(required=False)
    min_score = StrictNumberField(required=False, default=0.5, min_value=0, max_value=1)
    mode = StrictChoiceField(list(MODES), required=False, default="hybrid")
    stream = StrictBooleanField(
        required=False,
        default=False,
        help_text="Server-Sent Events: `sources`, then `delta` tokens, then `done` (the JSON body plus `usage`)",
    )
    rerank = StrictBooleanField(
        required=False,
        default=False,
        help_text="Reorder max(contextLimit*4, RAG_RERANK_CANDIDATES) candidates with the configured reranker "
        "(POST /rerank's); relevanceScore stays the cosine and minScore applies to it",
    )


class RetrievedContextSerializer(serializers.Serializer):
    content = serializers.CharField()
    source = serializers.CharField()
    sourceType = serializers.CharField()
    relevanceScore = serializers.FloatField(help_text="cosine similarity to the query, in every mode")
    metadata = serializers.DictField()


class IndexResponseSerializer(serializers.Serializer):
    success = serializers.BooleanField()
    message = serializers.CharField()
    source = serializers.CharField()
    collection = serializers.CharField()
    documentId = serializers.CharField()


class BatchIndexResponseSerializer(serializers.Serializer):
    success = serializers.BooleanField()
    message = serializers.CharField()
    collection = serializers.CharField()
    documentIds = serializers.ListField(child=serializers.CharField())


class IndexProjectDocumentResponseSerializer(serializers.Serializer):
    success = serializers.BooleanField()
    message = serializers.CharField()
    documentId = serializers.CharField()
    chunksCreated = serializers.IntegerField()
    collection = serializers.CharField()


class SearchResponseSerializer(serializers.Serializer):
    success = serializers.BooleanField()
    results = RetrievedContextSerializer(many=True)
    query = serializers.CharField()
    totalFound = serializers.IntegerField()
    mode = serializers.CharField()


class CitationSerializer(serializers.Serializer):
    index = serializers.IntegerField(help_text="the [n] marker in the answer")
    source = serializers.CharField()
    chunkId = serializers.CharField()
    documentId = serializers.CharField(allow_null=True)


class QueryResponseSerializer(serializers.Serializer):
    success = serializers.BooleanField()
    answer = serializers.CharField()
    answerType = serializers.ChoiceField(["generative", "extractive"])
    sources = RetrievedContextSerializer(many=True)
    citations = CitationSerializer(many=True)
    model = serializers.CharField()
    tokensUsed = serializers.IntegerField(required=False)


class CollectionsResponseSerializer(serializers.Serializer):
    success = serializers.BooleanField()
    collections = serializers.ListField(child=serializers.CharField())


class MessageResponseSerializer(serializers.Serializer):
    success = serializers.BooleanField()
    message = serializers.CharField()


class DeleteDocumentResponseSerializer(MessageResponseSerializer):
    chunksDeleted = serializers.IntegerField()


class StatsResponseSerializer(serializers.Serializer):
    success = serializers.BooleanField()
    stats = serializers.DictField(help_text="{totalCollections, collections: {name: {vectorsCount, pointsCount}}}")
