"""The request-log tables, the cached-responses table and the RAG tables are read-only in the admin."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.contrib import admin
from django.contrib.auth.models import User
from django.test import Client, RequestFactory

from rag.admin import RagChunkAdmin, RagCollectionAdmin
from rag.models import RagChunk, RagCollection
from requestlog.models import CacheEntry, RequestLog, UsageDaily


@pytest.fixture
def staff() -> Client:
    client = Client()
    client.force_login(User.objects.create_superuser("root", "root@example.com", "correct-horse"))
    return client


def _request():
    request = RequestFactory().get("/admin/")
    request.user = User.objects.create_superuser("admin2", "a@example.com", "pw")
    return request


def test_cached_responses_are_read_only_like_the_log_tables(staff):
    entry = CacheEntry.objects.create(
        cache_key="embeddings:abc", request_hash="a" * 64, endpoint="/embeddings/generate", response_data={"x": 1}
    )
    assert staff.get("/admin/requestlog/cacheentry/").status_code == 200
    assert staff.get("/admin/requestlog/cacheentry/add/").status_code == 403
    page = staff.get(f"/admin/requestlog/cacheentry/{entry.pk}/change/")
    assert page.status_code == 200 and b'name="_save"' not in page.content  # a view, not a form
    staff.post(f"/admin/requestlog/cacheentry/{entry.pk}/change/", {"cache_key": "changed"})
    entry.refresh_from_db()
    assert entry.cache_key == "embeddings:abc"
    request = _request()
    for model in (RequestLog, UsageDaily, CacheEntry):
        model_admin = admin.site._registry[model]
        assert not model_admin.has_add_permission(request) and not model_admin.has_change_permission(request)
        assert model_admin.has_view_permission(request)


def test_rag_tables_are_read_only():
    request = _request()
    for model, model_admin_class in ((RagCollection, RagCollectionAdmin), (RagChunk, RagChunkAdmin)):
        model_admin = model_admin_class(model, admin.site)
        assert not model_admin.has_add_permission(request)
        assert not model_admin.has_change_permission(request)
        assert not model_admin.has_delete_permission(request)
        assert model_admin.has_view_permission(request)
    assert "embedding" in RagChunkAdmin.exclude


def test_rag_tables_are_listed_only_where_they_exist(staff):
    # The pgvector tables exist on PostgreSQL only (managed = False models, migration on PostgreSQL).
    assert (RagCollection in admin.site._registry) is settings.IS_POSTGRES
    assert (RagChunk in admin.site._registry) is settings.IS_POSTGRES
    index = staff.get("/admin/")
    assert index.status_code == 200
    assert (b"/admin/rag/ragcollection/" in index.content) is settings.IS_POSTGRES


@pytest.mark.postgres
def test_rag_collection_pages_on_postgresql(staff):
    if not settings.IS_POSTGRES:
        pytest.skip("the RAG tables exist on PostgreSQL only (make test-services)")
    collection = RagCollection.objects.create(name="synthstack_docs", dimensions=384)
    listing = staff.get("/admin/rag/ragcollection/")
    assert listing.status_code == 200 and b"synthstack_docs" in listing.content
    assert staff.get("/admin/rag/ragcollection/add/").status_code == 403
    assert staff.get(f"/admin/rag/ragcollection/{collection.pk}/delete/").status_code == 403
    assert staff.get("/admin/rag/ragchunk/").status_code == 200
