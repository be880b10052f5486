"""The platform drops Exact's fields and tables: ``exact_online`` 0001 took them over (it runs first)."""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ("clients", "0002_errorbudget"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel(name="QuotaState"),
                migrations.DeleteModel(name="ErrorBudget"),
            ],
            database_operations=[],
        ),
        migrations.RemoveField(model_name="oauthgrant", name="exact_user_id"),
        migrations.RemoveField(model_name="oauthgrant", name="exact_user_name"),
        migrations.RemoveField(model_name="oauthgrant", name="exact_user_email"),
        migrations.RemoveField(model_name="oauthgrant", name="current_division"),
        migrations.RemoveField(model_name="oauthgrant", name="default_division"),
        migrations.RemoveField(model_name="oauthgrant", name="divisions"),
    ]
