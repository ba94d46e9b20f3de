"""The guide's service pattern in the RAG area: RAGService.get_instance(), async methods, and views
that call them through async_to_sync (so a patched class in rag.views is what they use)."""

from __future__ import annotations

from unittest.mock import AsyncMock, MagicMock, patch

import pytest
from asgiref.sync import async_to_sync
from rest_framework.test import APIClient

from services.rag_service import DocumentInput, RAGService, SearchRequest

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("embedded_api")]


def test_async_methods_answer_as_the_sync_ones() -> None:
    service = RAGService.get_instance()
    assert service is RAGService.get_instance()
    document = DocumentInput(content="Mitochondria produce most of the energy a cell uses.", source="cell.txt")
    document_id = async_to_sync(service.add_document)(document, "pattern")
    other = DocumentInput(content="The Rhine flows through Germany to the North Sea.", source="rhein.txt")
    assert len(async_to_sync(service.add_documents)([other], "pattern")) == 1
    request = SearchRequest(query="energy inside cells", collection="pattern", limit=2, min_score=0)
    hits = async_to_sync(service.retrieve)(request)
    assert [hit.id for hit in hits] == [hit.id for hit in service.search(request)]
    assert hits[0].source == "cell.txt"
    assert "pattern" in async_to_sync(service.list_collections)()
    assert async_to_sync(service.get_stats)() == service.stats()
    answer = async_to_sync(service.query)(query="What produces a cell's energy?", collection="pattern", min_score=0)
    assert "Mitochondria" in answer["answer"]
    assert async_to_sync(service.remove_document)("pattern", document_id) >= 1
    assert async_to_sync(service.remove_collection)("pattern") is True


def test_views_use_the_class_imported_into_the_view_module() -> None:
    with patch("rag.views.RAGService") as mock_service:
        instance = MagicMock()
        instance.retrieve = AsyncMock(return_value=[])
        instance.list_collections = AsyncMock(return_value=["from-the-mock"])
        mock_service.get_instance.return_value = instance
        client = APIClient()
        searched = client.post("/api/v1/rag/search", {"query": "anything"}, format="json")
        listed = client.get("/api/v1/rag/collections")
    assert searched.status_code == 200 and searched.json()["results"] == []
    assert instance.retrieve.await_args.args[0].query == "anything"
    assert listed.json()["collections"] == ["from-the-mock"]
