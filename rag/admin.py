"""The pgvector tables in the admin, read-only: collections and chunks are written through the API
(RAGService keeps chunks, embeddings and BM25 statistics consistent; an admin edit would not).

The tables exist only on PostgreSQL (the models are ``managed = False``), so they are listed only
there; the embedded and Qdrant stores keep their own storage.
"""

from django.conf import settings
from django.contrib import admin
from django.db.models import Model
from django.http import HttpRequest

from .models import RagChunk, RagCollection


class ReadOnlyRagAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False  # DELETE /rag/collections/{name} removes a collection with all its chunks


class RagCollectionAdmin(ReadOnlyRagAdmin):
    list_display = ("name", "dimensions", "created_at")
    search_fields = ("name",)


class RagChunkAdmin(ReadOnlyRagAdmin):
    list_display = ("document_id", "source", "source_type", "collection", "dimensions", "created_at")
    list_filter = ("collection", "source_type")
    list_select_related = ("collection",)
    search_fields = ("document_id", "source")
    # The vector itself (hundreds of floats) is left out of the page.
    exclude = ("embedding",)
    # Large collections: no COUNT(*) over the whole table for the "N total" line.
    show_full_result_count = False


if settings.IS_POSTGRES:
    admin.site.register(RagCollection, RagCollectionAdmin)
    admin.site.register(RagChunk, RagChunkAdmin)
