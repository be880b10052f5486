from django.db import migrations, models
from django.utils.text import slugify


def fill_keys(apps, schema_editor):
    HttpClient = apps.get_model("clients", "HttpClient")
    taken: set[str] = set()
    for client in HttpClient.objects.order_by("pk"):
        base = (slugify(client.name) or "item")[:94]
        key, number = base, 1
        while key in taken:
            number += 1
            key = f"{base}-{number}"
        taken.add(key)
        HttpClient.objects.filter(pk=client.pk).update(key=key)


class Migration(migrations.Migration):

    dependencies = [("clients", "0003_exact_state_moves_to_exact_online")]

    operations = [
        # No index yet: the unique one below makes its own "_like" index, which would clash on PostgreSQL.
        migrations.AddField(model_name="httpclient", name="key",
                            field=models.SlugField(max_length=100, null=True, db_index=False)),
        migrations.RunPython(fill_keys, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="httpclient", name="key",
            field=models.SlugField(editable=False, max_length=100, unique=True,
                                   help_text="Stable key that exports and imports refer to it by (from the first name)."),
        ),
    ]
