"""Creates the pgvector tables on PostgreSQL only; on any other database this migration is a no-op
(the embedded store keeps its own SQLite file), so ``migrate`` works on both."""

import pgvector.django.vector
from django.db import migrations, models

from services.vectorstores.pgvector import DROP_SQL, SCHEMA_SQL


def create_tables(apps, schema_editor) -> None:  # noqa: ANN001
    if schema_editor.connection.vendor != "postgresql":
        return
    for statement in SCHEMA_SQL:
        schema_editor.execute(statement)


def drop_tables(apps, schema_editor) -> None:  # noqa: ANN001
    if schema_editor.connection.vendor != "postgresql":
        return
    for statement in DROP_SQL:
        schema_editor.execute(statement)


class Migration(migrations.Migration):
    initial = True
    dependencies: list = []

    operations = [
        migrations.RunPython(create_tables, drop_tables),
        migrations.CreateModel(
            name="RagCollection",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("name", models.TextField(unique=True)),
                ("dimensions", models.IntegerField()),
                ("created_at", models.DateTimeField(auto_now_add=True)),
            ],
            options={"db_table": "rag_collection", "managed": False},
        ),
        migrations.CreateModel(
            name="RagChunk",
            fields=[
                ("id", models.UUIDField(primary_key=True, serialize=False)),
                ("document_id", models.TextField()),
                ("content", models.TextField()),
                ("source", models.TextField()),
                ("source_type", models.TextField()),
                ("metadata", models.JSONField(default=dict)),
                ("dimensions", models.IntegerField()),
                ("embedding", pgvector.django.vector.VectorField()),
                ("created_at", models.DateTimeField(auto_now_add=True)),
            ],
            options={"db_table": "rag_chunk", "managed": False},
        ),
    ]
