"""GIN index for the narrative library's full-text search, on PostgreSQL only.

The index is created here rather than in Meta.indexes so that the embedded SQLite database,
which has no GIN indexes, can run the same migrations.
"""

from django.db import migrations


def create_gin_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            "CREATE INDEX IF NOT EXISTS narrative_search_gin ON reviews_narrative USING gin (search_vector)"
        )


def drop_gin_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP INDEX IF EXISTS narrative_search_gin")


class Migration(migrations.Migration):
    dependencies = [("reviews", "0001_initial")]

    operations = [migrations.RunPython(create_gin_index, drop_gin_index)]
