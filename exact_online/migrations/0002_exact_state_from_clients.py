"""Exact Online's per-client state moves out of the platform's ``clients`` app.

``QuotaState`` and ``ErrorBudget`` keep their rows: this app takes over the existing tables (state only)
and renames them. The Exact user and division fields of ``clients.OAuthGrant`` are copied into
``ExactAccess`` before ``clients`` 0003 drops them (``run_before``).
"""

import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models

EXACT_FIELDS = ("exact_user_id", "exact_user_name", "exact_user_email", "current_division", "default_division",
                "divisions")


def copy_grant_fields(apps, schema_editor):
    OAuthGrant = apps.get_model("clients", "OAuthGrant")
    ExactAccess = apps.get_model("exact_online", "ExactAccess")
    rows = [ExactAccess(client_id=grant.client_id, **{name: getattr(grant, name) for name in EXACT_FIELDS})
            for grant in OAuthGrant.objects.all()]
    ExactAccess.objects.bulk_create(rows)


def copy_back(apps, schema_editor):
    OAuthGrant = apps.get_model("clients", "OAuthGrant")
    ExactAccess = apps.get_model("exact_online", "ExactAccess")
    for access in ExactAccess.objects.all():
        OAuthGrant.objects.filter(client_id=access.client_id).update(
            **{name: getattr(access, name) for name in EXACT_FIELDS})


class Migration(migrations.Migration):

    dependencies = [
        ("clients", "0002_errorbudget"),
        ("exact_online", "0001_initial"),
    ]
    run_before = [
        ("clients", "0003_exact_state_moves_to_exact_online"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="QuotaState",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("division", models.IntegerField(default=0)),
                        ("daily_limit", models.IntegerField(blank=True, null=True)),
                        ("daily_remaining", models.IntegerField(blank=True, null=True)),
                        ("daily_reset", models.DateTimeField(blank=True, null=True)),
                        ("minutely_limit", models.IntegerField(blank=True, null=True)),
                        ("minutely_remaining", models.IntegerField(blank=True, null=True)),
                        ("minutely_reset", models.DateTimeField(blank=True, null=True)),
                        ("parked_until", models.DateTimeField(blank=True, null=True)),
                        ("throttled_count", models.PositiveIntegerField(default=0)),
                        ("updated_at", models.DateTimeField(default=django.utils.timezone.now)),
                        ("client", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="quota_states", to="clients.httpclient")),
                    ],
                    options={
                        "db_table": "clients_quotastate",
                        "constraints": [models.UniqueConstraint(fields=("client", "division"), name="quota_per_client_division")],
                    },
                ),
                migrations.CreateModel(
                    name="ErrorBudget",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("division", models.IntegerField(default=0)),
                        ("endpoint", models.CharField(max_length=200)),
                        ("window_start", models.DateTimeField(blank=True, null=True)),
                        ("errors", models.PositiveIntegerField(default=0, help_text="Counted errors in the window starting at window_start.")),
                        ("consecutive", models.PositiveIntegerField(default=0, help_text="Counted errors since the last success.")),
                        ("open_until", models.DateTimeField(blank=True, null=True)),
                        ("last_status", models.IntegerField(blank=True, null=True)),
                        ("last_error", models.TextField(blank=True, default="")),
                        ("updated_at", models.DateTimeField(default=django.utils.timezone.now)),
                        ("client", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="error_budgets", to="clients.httpclient")),
                    ],
                    options={
                        "db_table": "clients_errorbudget",
                        "constraints": [models.UniqueConstraint(fields=("client", "division", "endpoint"), name="error_budget_per_endpoint")],
                    },
                ),
            ],
            database_operations=[],
        ),
        migrations.AlterModelTable(name="quotastate", table=None),
        migrations.AlterModelTable(name="errorbudget", table=None),
        migrations.CreateModel(
            name="ExactAccess",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("exact_user_id", models.CharField(blank=True, default="", max_length=64)),
                ("exact_user_name", models.CharField(blank=True, default="", max_length=200)),
                ("exact_user_email", models.CharField(blank=True, default="", max_length=254)),
                ("current_division", models.IntegerField(blank=True, null=True)),
                ("default_division", models.IntegerField(blank=True, null=True)),
                ("divisions", models.JSONField(blank=True, default=list, help_text='[{"code": 123, "description": "..."}]')),
                ("client", models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, related_name="exact_access", to="clients.httpclient")),
            ],
            options={
                "verbose_name": "Exact Online access",
            },
        ),
        migrations.RunPython(copy_grant_fields, copy_back),
    ]
