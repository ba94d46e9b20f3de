"""RAG endpoints (contract 4.3): thin views over ``services.rag_service``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from asgiref.sync import async_to_sync
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from mlservice.api.sse import DONE, json_event, sse_response
from mlservice.api.views import ContractView
from services.rag_service import DocumentInput, RAGService, SearchRequest, retrieved_context

from . import serializers as s


def _document(data: dict[str, Any]) -> DocumentInput:
    return DocumentInput(
        content=data["content"],
        source=data["source"],
        source_type=data.get("source_type", "document"),
        metadata=data.get("metadata", {}),
        document_id=data.get("document_id"),
    )


class IndexView(ContractView):
    request_serializer = s.IndexRequestSerializer

    @extend_schema(
        request=s.IndexRequestSerializer,
        responses={201: s.IndexResponseSerializer},
        summary="Index one document (one point)",
    )
    def post(self, request: Request) -> Response:
        data = self.validated(request)
        document_id = async_to_sync(RAGService.get_instance().add_document)(_document(data), data["collection"])
        return self.created(
            {
                "success": True,
                "message": "Document indexed successfully",
                "source": data["source"],
                "collection": data["collection"],
                "documentId": document_id,
            }
        )


class BatchIndexView(ContractView):
    request_serializer = s.BatchIndexRequestSerializer

    @extend_schema(
        request=s.BatchIndexRequestSerializer,
        responses={201: s.BatchIndexResponseSerializer},
        summary="Index many documents in one atomic request (extra)",
    )
    def post(self, request: Request) -> Response:
        data = self.validated(request)
        documents = [_document(dict(item)) for item in data["documents"]]
        ids = async_to_sync(RAGService.get_instance().add_documents)(documents, data["collection"])
        return self.created(
            {
                "success": True,
                "message": f"{len(ids)} documents indexed successfully",
                "collection": data["collection"],
                "documentIds": ids,
            }
        )


class IndexProjectDocumentView(ContractView):
    request_serializer = s.IndexProjectDocumentRequestSerializer

    @extend_schema(
        request=s.IndexProjectDocumentRequestSerializer,
        responses={201: s.IndexProjectDocumentResponseSerializer},
        summary="Chunk and index a project document (called by the gateway)",
    )
    def post(self, request: Request) -> Response:
        data = self.validated(request)
        collection, chunks = async_to_sync(RAGService.get_instance().add_project_document)(
            document_id=data["document_id"],
            project_id=data["project_id"],
            filename=data["filename"],
            content=data["content"],
            file_type=data["file_type"],
            chunk_size=int(data["chunk_size"]),
            chunk_overlap=int(data["chunk_overlap"]),
        )
        return self.created(
            {
                "success": True,
                "message": "Project document indexed successfully",
                "documentId": data["document_id"],
                "chunksCreated": chunks,
                "collection": collection,
            }
        )


class SearchView(ContractView):
    request_serializer = s.SearchRequestSerializer

    @extend_schema(
        request=s.SearchRequestSerializer, responses={201: s.SearchResponseSerializer}, summary="Hybrid search"
    )
    def post(self, request: Request) -> Response:
        data = self.validated(request)
        hits = async_to_sync(RAGService.get_instance().retrieve)(
            SearchRequest(
                query=data["query"],
                collection=data["collection"],
                limit=int(data["limit"]),
                min_score=float(data["min_score"]),
                source_types=tuple(data["source_types"]),
                metadata=data["metadata_filter"],
                mode=data["mode"],
                rerank=data["rerank"],
            )
        )
        results = [retrieved_context(hit) for hit in hits]
        return self.created(
            {
                "success": True,
                "results": results,
                "query": data["query"],
                "totalFound": len(results),
                "mode": data["mode"],
            }
        )


STREAM_DESCRIPTION = """With `stream: true` the answer is Server-Sent Events (`text/event-stream`, status 200):

    event: sources   data: {"sources": [...], "answerType", "model"}   the chunks, as the JSON answer lists them
    event: delta     data: {"content": "<text>"}        answer tokens as the model writes them (extractive: one)
    event: done      data: {<the JSON answer>, "usage"} with the citations ([n] markers found in the answer)
    data: [DONE]

Retrieval and the model's first token come before the first event, so their errors (bad input, no
model, 429, a full local-LLM queue) are normal JSON errors with a status. A failure after that is
`event: error` with the contract's error body, and the stream ends. A stream is stopped after
SERVER_STREAM_TIMEOUT_SECONDS, and when the client disconnects."""


class QueryView(ContractView):
    request_serializer = s.QueryRequestSerializer

    @extend_schema(
        request=s.QueryRequestSerializer,
        # Both under 201: the schema documents /api/v1/, where ServiceAutoSchema turns 201 into the
        # 200 both answers have there (a stream is 200 at the gateway path too, as its description says).
        responses={
            (201, "application/json"): OpenApiResponse(
                s.QueryResponseSerializer, description="The answer; with stream: true, Server-Sent Events"
            ),
            (201, "text/event-stream"): OpenApiResponse(
                response={"type": "string"},
                description="stream: true: `sources`, `delta`... and `done` events (see the description)",
            ),
        },
        summary="Answer with citations",
        description=STREAM_DESCRIPTION,
    )
    def post(self, request: Request) -> Any:
        data = self.validated(request)
        arguments = {
            "query": data["query"],
            "collection": data["collection"],
            "context_limit": int(data["context_limit"]),
            "model": data.get("model") or None,
            "system_prompt": data.get("system_prompt") or None,
            "min_score": float(data["min_score"]),
            "mode": data["mode"],
            "rerank": data["rerank"],
        }
        if data["stream"]:
            events = RAGService.get_instance().stream_answer(**arguments)
            return sse_response(_query_events(events))
        body = async_to_sync(RAGService.get_instance().query)(**arguments)
        return self.created({"success": True, **body})


def _query_events(events: Iterator[tuple[str, dict[str, Any]]]) -> Iterator[bytes]:
    try:
        for name, payload in events:
            yield json_event({"success": True, **payload} if name == "done" else payload, event=name)
    finally:
        close = getattr(events, "close", None)
        if close is not None:
            close()  # the client went away or the deadline passed: stop the generation
    yield DONE


class CollectionsView(ContractView):
    @extend_schema(responses=s.CollectionsResponseSerializer, summary="Collection names (without the namespace)")
    def get(self, request: Request) -> Response:
        return Response({"success": True, "collections": async_to_sync(RAGService.get_instance().list_collections)()})


class CollectionView(ContractView):
    @extend_schema(responses={200: s.MessageResponseSerializer}, summary="Delete a collection (idempotent)")
    def delete(self, request: Request, collection: str) -> Response:
        async_to_sync(RAGService.get_instance().remove_collection)(collection)
        return Response({"success": True, "message": f"Collection '{collection}' deleted"})


def _delete_document(collection: str, document_id: str) -> Response:
    removed = async_to_sync(RAGService.get_instance().remove_document)(collection, document_id)
    return Response(
        {
            "success": True,
            "message": f"Document '{document_id}' deleted from '{collection}'",
            "chunksDeleted": removed,
        }
    )


class CollectionDocumentView(ContractView):
    @extend_schema(responses={200: s.DeleteDocumentResponseSerializer}, summary="Delete one document's chunks (extra)")
    def delete(self, request: Request, collection: str, document_id: str) -> Response:
        return _delete_document(collection, document_id)


class DocumentView(ContractView):
    @extend_schema(
        parameters=[OpenApiParameter("collection", str, description="default: default")],
        responses={200: s.DeleteDocumentResponseSerializer},
        summary="Delete one document's chunks (extra; fixes the gateway's no-op delete, contract 8.27)",
    )
    def delete(self, request: Request, document_id: str) -> Response:
        return _delete_document(request.query_params.get("collection") or "default", document_id)


class StatsView(ContractView):
    @extend_schema(responses=s.StatsResponseSerializer, summary="Point counts per collection")
    def get(self, request: Request) -> Response:
        return Response({"success": True, "stats": async_to_sync(RAGService.get_instance().get_stats)()})
