"""Settings → Environment variables, and Settings → Export and import (thin: the work is in plain functions)."""

from __future__ import annotations

import secrets

from django.conf import settings
from django.contrib import messages
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from dashboard.access import can_edit, editor_required, get_for_user, viewer_required

from .documents import dump_document
from .export import export_config
from .forms import ExportForm, ImportForm, VariableForm
from .importer import ImportPlan, ImportRefused, apply_import, plan_import
from .models import Variable
from .variables import usages

__all__ = ["exchange", "export_download", "import_apply", "import_preview", "variable_create", "variable_delete",
           "variable_edit", "variable_list"]


def _list(request: HttpRequest, *, shown: Variable | None = None, status: int = 200) -> HttpResponse:
    used = usages()
    rows = [(variable, used.get(variable.name, [])) for variable in Variable.objects.all()]
    unknown = sorted(set(used) - {variable.name for variable, _ in rows})
    return render(request, "configuration/variables/list.html", {
        "rows": rows, "unknown": [(name, used[name]) for name in unknown], "can_edit": can_edit(request.user),
        "shown": shown}, status=status)


@viewer_required
@require_GET
def variable_list(request: HttpRequest) -> HttpResponse:
    return _list(request)


def _save(request: HttpRequest, variable: Variable | None) -> HttpResponse:
    form = VariableForm(request.POST or None, instance=variable)
    if request.method == "POST" and form.is_valid():
        saved = form.save()
        messages.success(request, f"Variable {saved.name} saved: every configuration that uses ${{{saved.name}}} "
                                  "uses the new value from its next request.")
        if form.forgotten:
            messages.warning(request, f"The secrets and grant of {', '.join(form.forgotten)} belonged to the old "
                                      "value (a Base URI or Client ID): they were removed. Enter them again.")
        if saved.encrypted and form.cleaned_data.get("new_value"):
            return _list(request, shown=saved)  # the one time an encrypted value is shown: not after a redirect
        return redirect("configuration:variable_list")
    status = 400 if request.method == "POST" else 200
    return render(request, "configuration/variables/form.html", {"form": form, "variable": variable}, status=status)


@editor_required
@require_http_methods(["GET", "POST"])
def variable_create(request: HttpRequest) -> HttpResponse:
    return _save(request, None)


@editor_required
@require_http_methods(["GET", "POST"])
def variable_edit(request: HttpRequest, pk: int) -> HttpResponse:
    return _save(request, get_for_user(request, Variable, pk, write=True))


@editor_required
@require_POST
def variable_delete(request: HttpRequest, pk: int) -> HttpResponse:
    variable = get_for_user(request, Variable, pk, write=True)
    users = usages().get(variable.name, [])
    if users:
        names = ", ".join(f"{u.kind} “{u.name}”" for u in users[:5])
        messages.error(request, f"Variable {variable.name} is used by {names}: change those first.")
    else:
        variable.delete()
        messages.success(request, f"Variable {variable.name} deleted.")
    return redirect("configuration:variable_list")


DRY_RUN_SECONDS = 3600  # how long Apply works after a dry run


def _dry_run_key(request: HttpRequest, token: str) -> str:
    return f"configuration:dry-run:{request.user.pk}:{token}"


def _exchange(request: HttpRequest, *, plan: ImportPlan | None = None, dry_run: str = "",
              import_form: ImportForm | None = None, status: int = 200) -> HttpResponse:
    return render(request, "configuration/exchange.html", {
        "export_form": ExportForm(), "import_form": import_form or ImportForm(), "plan": plan, "dry_run": dry_run,
        "max_mb": settings.CONFIG_IMPORT_MAX_BYTES / 1_000_000}, status=status)


@editor_required
@require_GET
def exchange(request: HttpRequest) -> HttpResponse:
    return _exchange(request)


@editor_required
@require_GET
def export_download(request: HttpRequest) -> HttpResponse:
    form = ExportForm(request.GET)
    if not form.is_valid():
        return _exchange(request, status=400)
    fmt = form.cleaned_data["format"]
    text = dump_document(export_config(form.selection()), fmt)
    response = HttpResponse(text, content_type="application/yaml" if fmt == "yaml" else "application/json")
    stamp = timezone.now().strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = f'attachment; filename="exact-dash-configuration-{stamp}.{fmt}"'
    return response


def _document_text(form: ImportForm) -> str | bytes:
    upload = form.cleaned_data.get("file")
    if upload is None:
        return str(form.cleaned_data.get("text") or "")
    if upload.size > settings.CONFIG_IMPORT_MAX_BYTES:  # refused unread: read_document reports the size
        return upload.read(settings.CONFIG_IMPORT_MAX_BYTES + 1)
    return upload.read()


@editor_required
@require_POST
def import_preview(request: HttpRequest) -> HttpResponse:
    """The dry run: what importing the document would do, with an Apply button for exactly that document."""
    form = ImportForm(request.POST, request.FILES)
    if not form.is_valid():
        return _exchange(request, import_form=form, status=400)
    text = _document_text(form)
    plan = plan_import(text)
    token = ""
    if plan.ok and plan.changes_anything:
        # Apply carries a token, not the document: a large document would not fit a form field (Django's
        # DATA_UPLOAD_MAX_MEMORY_SIZE), and what is applied is exactly what was dry-run.
        token = secrets.token_urlsafe(16)
        cache.set(_dry_run_key(request, token), text, DRY_RUN_SECONDS)
    return _exchange(request, plan=plan, dry_run=token, status=200 if plan.ok else 400)


@editor_required
@require_POST
def import_apply(request: HttpRequest) -> HttpResponse:
    key = _dry_run_key(request, request.POST.get("dry_run", ""))
    document = cache.get(key)
    if document is None:
        messages.error(request, "That dry run is no longer available: run the dry run again.")
        return _exchange(request, status=400)
    try:
        plan = apply_import(plan_import(document))
    except ImportRefused as exc:
        messages.error(request, "Nothing was imported: the document no longer applies as it did in the dry run.")
        return _exchange(request, plan=exc.plan, status=400)
    cache.delete(key)
    counts = plan.counts
    messages.success(request, f"Imported: {counts['create']} created, {counts['update']} updated, "
                              f"{counts['unchanged']} unchanged.")
    return _exchange(request, plan=plan)
