"""The pgvector tables, for the ORM and the admin. ``managed = False``: the tables exist only on
PostgreSQL (the ``rag`` migration creates them there, SQLite has no vector type); the embedded and
Qdrant backends keep their own storage."""

from django.db import models
from pgvector.django import VectorField


class RagCollection(models.Model):
    name = models.TextField(unique=True)
    dimensions = models.IntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        managed = False
        db_table = "rag_collection"

    def __str__(self) -> str:
        return self.name


class RagChunk(models.Model):
    # The real primary key is (collection_id, id); Django needs one column, and ids are UUIDs.
    id = models.UUIDField(primary_key=True)
    collection = models.ForeignKey(RagCollection, on_delete=models.CASCADE, db_column="collection_id")
    document_id = models.TextField()
    content = models.TextField()
    source = models.TextField()
    source_type = models.TextField()
    metadata = models.JSONField(default=dict)
    dimensions = models.IntegerField()
    embedding = VectorField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        managed = False
        db_table = "rag_chunk"
