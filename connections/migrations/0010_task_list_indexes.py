from django.db import migrations, models, transaction

# The Tasks page's "text anywhere" search (connections.models.runs.TEXT_SEARCH_SQL) on PostgreSQL: a trigram
# index makes ``LIKE '%text%'`` an index scan instead of reading a million rows. Other databases scan.
TRIGRAM_INDEX = (
    "CREATE INDEX IF NOT EXISTS task_text_trgm ON connections_task USING gin "
    "((upper(identifier || ' ' || external_key || ' ' || error || ' ' || skip_reason)) gin_trgm_ops)"
)


def add_trigram_index(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    try:
        with transaction.atomic():
            schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    except Exception as exc:  # not allowed to add extensions: the search still works, by scanning
        print(f"\n  pg_trgm is not available ({exc}); the Tasks page's text search will scan.")
        return
    schema_editor.execute(TRIGRAM_INDEX)


def drop_trigram_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP INDEX IF EXISTS task_text_trgm")


class Migration(migrations.Migration):

    dependencies = [
        ("connections", "0009_one_run_status"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="task",
            index=models.Index(fields=["created_at", "id"], include=["run"], name="task_created"),
        ),
        migrations.AddIndex(
            model_name="task",
            index=models.Index(fields=["status", "run"], name="task_status_run"),
        ),
        migrations.RunPython(add_trigram_index, drop_trigram_index),
    ]
