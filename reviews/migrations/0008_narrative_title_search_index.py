"""An expression index on the narrative title's text-search vector, on PostgreSQL only.

The library's search lists title matches first (`reviews.selectors.SearchResults`); this index
answers "which titles match" without computing the vector of every title. The expression is the
one the selector's `SearchVector("title", config="english")` compiles to, so the planner uses it.
"""

from django.db import migrations

INDEX = "narrative_title_search"


def create_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {INDEX} ON reviews_narrative USING gin "
            "(to_tsvector('english'::regconfig, COALESCE(title, '')::text))"
        )


def drop_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    dependencies = [("reviews", "0007_narrative_blend_and_traceability")]

    operations = [migrations.RunPython(create_index, drop_index)]
