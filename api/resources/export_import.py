"""Configuration as code: export configurations as one document, import one (a dry run unless asked)."""

# No ``from __future__ import annotations``: django-ninja reads the annotations at run time.

from typing import Any, Literal

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from ninja import Query, Router, Schema
from pydantic import Field as PydanticField

from dashboard.access import editor_required

from ..problems import ApiProblem, problem
from ..schemas import ERRORS, Problem

router = Router()


class ExportFilters(Schema):
    format: Literal["json", "yaml"] = "json"
    routes: list[str] = PydanticField(default_factory=list,
                                      description="Route names; none: everything. Each route brings what it uses.")


class ImportOptions(Schema):
    dry_run: bool = PydanticField(True, description="true (default): report only; false: apply all or nothing.")


class ImportObject(Schema):
    section: str
    key: str
    action: str
    changes: list[dict[str, Any]]
    problems: list[str]


class ImportReport(Schema):
    """The import's plan (``configuration.importer.ImportPlan.as_dict``): per object create / update (with its
    changes) / unchanged / conflict / invalid / missing; ``ok``: it can be applied."""

    ok: bool
    applied: bool
    counts: dict[str, int]
    errors: list[str]
    missing: list[str]
    to_enter: list[str]
    objects: list[ImportObject]


class ImportRefusedProblem(Problem):
    plan: ImportReport


IMPORT_BODY = {"requestBody": {"required": True, "description": "An export document (JSON or YAML), as "
                               "`GET /export` gives it.", "content": {
                                   "application/json": {"schema": {"type": "object"}},
                                   "application/yaml": {"schema": {"type": "string"}}}}}


@router.get("/export", response={200: dict[str, Any], **ERRORS}, tags=["configuration"],
            summary="Export configurations as one document (no secrets; variables by name only)")
@editor_required
def export(request: HttpRequest, filters: Query[ExportFilters]) -> Any:
    from configuration.documents import dump_document
    from configuration.export import export_config

    document = export_config({"routes": filters.routes} if filters.routes else None)
    if filters.format == "yaml":
        return HttpResponse(dump_document(document, "yaml"), content_type="application/yaml")
    return document


@router.post("/import", response={200: ImportReport, 413: Problem, 422: ImportRefusedProblem, **ERRORS},
             tags=["configuration"], openapi_extra=IMPORT_BODY,
             summary="Import a document: a dry run by default; with dry_run=false, applied all or nothing")
@editor_required
def import_document(request: HttpRequest, options: Query[ImportOptions]) -> Any:
    from configuration.importer import ImportRefused, apply_import, plan_import

    limit = settings.CONFIG_IMPORT_MAX_BYTES
    if int(request.META.get("CONTENT_LENGTH") or 0) > limit:
        raise ApiProblem(413, f"The document is larger than {limit // 1_000_000} MB: nothing was read.")
    text = request.read(limit + 1)  # the stream, not request.body: no separate upload limit applies
    plan = plan_import(text)
    if options.dry_run:
        return plan.as_dict()
    try:
        applied = apply_import(plan)
    except ImportRefused as refused:
        return problem(request, 422, str(refused), plan=refused.plan.as_dict())
    return applied.as_dict()
