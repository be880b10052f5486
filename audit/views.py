"""Audit trail pages (administrators) and version pages (view: viewers; restore: editors)."""

from __future__ import annotations

import csv
import json
from typing import Any, cast

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from connections.transformers.diff import json_diff
from dashboard.access import admin_required, can_edit, editor_required, get_for_user, is_admin, viewer_required

from .forms import AuditFilterForm
from .models import AuditEntry
from .recording import diff_versions, version_repr
from .versions import RestoreRefused, history_of, restore_version, version_fields, versioned_model

__all__ = ["audit_csv", "audit_list", "version_detail", "version_list", "version_restore"]

PAGE_SIZE = 50


@admin_required
@require_GET
def audit_list(request: HttpRequest) -> HttpResponse:
    form = AuditFilterForm(request.GET or None)
    entries = form.filter(AuditEntry.objects.all())
    page = Paginator(entries, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "audit/list.html", {"form": form, "page": page, "query": query.urlencode()})


class _Echo:
    def write(self, value: str) -> str:
        return value


def _cell(value: Any) -> str:
    """A CSV cell a spreadsheet will not run as a formula."""
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


@admin_required
@require_GET
def audit_csv(request: HttpRequest) -> HttpResponse:
    """The filtered trail as CSV (streamed: a year of entries does not sit in memory)."""
    entries = AuditFilterForm(request.GET or None).filter(AuditEntry.objects.all())
    writer = csv.writer(_Echo())

    def rows() -> Any:
        yield writer.writerow(["at", "user", "ip", "action", "object_type", "object_id", "object", "changes",
                               "message"])
        for entry in entries.iterator(chunk_size=1000):
            yield writer.writerow([_cell(str(value)) if not isinstance(value, dict) else _cell(value) for value in (
                entry.at.isoformat(), entry.username, entry.ip or "", entry.action, entry.object_type,
                entry.object_id, entry.object_repr, entry.changes, entry.message)])

    response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="audit-trail.csv"'
    return cast(HttpResponse, response)  # the role decorators are typed for HttpResponse; Django takes both


def _version(model: Any, pk: int, history_id: int) -> Any:
    version = history_of(model, pk).filter(history_id=history_id).first()
    if version is None:
        raise Http404("No such version.")
    return version


@viewer_required
@require_GET
def version_list(request: HttpRequest, label: str, pk: int) -> HttpResponse:
    model = versioned_model(label)
    versions = list(history_of(model, pk)[:200])
    if not versions:
        get_for_user(request, model, pk)  # 404 for an object that never existed
    rows = [(version, diff_versions(versions[i + 1] if i + 1 < len(versions) else None, version))
            for i, version in enumerate(versions)]
    current = model._default_manager.filter(pk=pk).first()
    return render(request, "audit/versions.html", {
        "label": label, "pk": pk, "rows": rows, "current": current, "can_edit": can_edit(request.user),
        "name": str(current) if current is not None else (version_repr(versions[0]) if versions else ""),
        "kind": model._meta.verbose_name, "is_admin": is_admin(request.user),
    })


@viewer_required
@require_GET
def version_detail(request: HttpRequest, label: str, pk: int, history_id: int) -> HttpResponse:
    """One version as it was, compared with another (``?against=`` a version id; default the one before)."""
    model = versioned_model(label)
    version = _version(model, pk, history_id)
    against_id = request.GET.get("against", "")
    against = _version(model, pk, int(against_id)) if against_id.isdigit() else version.prev_record
    changes = diff_versions(against, version)
    # JSON fields (steps, config, payload...) also as a path-by-path diff, like a task's stages.
    path_diffs = [(field, json_diff(change[0], change[1])) for field, change in changes.items()
                  if isinstance(change, list) and any(isinstance(value, (dict, list)) for value in change)]
    latest = history_of(model, pk).values_list("history_id", flat=True).first()
    return render(request, "audit/version.html", {
        "label": label, "pk": pk, "version": version, "fields": version_fields(version), "against": against,
        "changes": changes, "path_diffs": path_diffs, "is_latest": latest == version.history_id,
        "others": history_of(model, pk)[:200],
        "can_edit": can_edit(request.user), "name": version_repr(version), "kind": model._meta.verbose_name,
    })


@editor_required
@require_POST
def version_restore(request: HttpRequest, label: str, pk: int, history_id: int) -> HttpResponse:
    model = versioned_model(label)
    get_for_user(request, model, pk, write=True)
    version = _version(model, pk, history_id)
    try:
        restored = restore_version(version)
    except RestoreRefused as refused:
        messages.error(request, f"Not restored: {refused}")
        return redirect(reverse("audit:version", args=[label, pk, history_id]))
    messages.success(request, f"{restored} is back as it was on {version.history_date:%Y-%m-%d %H:%M}.")
    url = getattr(restored, "get_absolute_url", None)
    return redirect(url() if callable(url) else reverse("audit:versions", args=[label, pk]))
