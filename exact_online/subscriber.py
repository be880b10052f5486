"""The Exact Online Subscriber: its form, and reading an entity from Exact page by page.

Where each read goes is ``read_plan.py``; how an incremental read's cursor moves is ``cursors.py``. Paging
follows ``__next`` verbatim (``ExactApi.iter_pages``); a resumed run starts at the stored next URL.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from functools import cached_property
from typing import Any, ClassVar, Literal
from urllib.parse import urlencode

from django import forms
from django.utils import timezone

from connections.subscribers import (
    Page,
    ReadError,
    RequestHook,
    RequestSpec,
    ResumePoint,
    Sample,
    Subscriber,
    SubscriberConfig,
)
from connections.waits import WaitUntil

from .catalog import Entity, catalog
from .cursors import advance, date_ms, drop_boundary_rows
from .errors import ExactError, QuotaWait, is_outage, outage_reason, outage_until
from .models import access_of
from .odata_filter import FilterError, validate_filter
from .quota import quota_scope
from .read_plan import ReadPlan, build_plan, choose_target, counterpart, split_select

__all__ = ["ExactSubscriber", "ExactSubscriberConfig"]

logger = logging.getLogger("connections.flow.read")  # the reader's logger: these lines go into the run's log

DEFAULT_BASE_URL = "https://start.exactonline.nl"
ENDPOINT_CHOICES = [
    ("auto", "Automatic (sync when it carries the fields, else bulk for full reads)"),
    ("standard", "Standard (60 rows per call)"),
    ("bulk", "Bulk (1,000 rows per call)"),
    ("sync", "Sync (1,000 rows per call, Timestamp cursor)"),
]
DIVISION_CHOICES = [
    ("default", "The client's default division"),
    ("selected", "These divisions"),
    ("all", "All divisions of the grant"),
]
# The OData query options the form shows as fields of their own (the rest go in the query parameters).
ODATA_FIELDS = {"filter": "$filter", "select": "$select", "orderby": "$orderby", "top": "$top"}


class ExactSubscriberConfig(SubscriberConfig):
    entity: str = ""
    divisions: Literal["default", "selected", "all"] = "default"
    division_codes: list[int] = []
    endpoint: Literal["auto", "standard", "bulk", "sync"] = "auto"


class ExactSubscriber(Subscriber):
    kind = "exact_online"
    label = "Exact Online Subscriber"
    description = "Reads an entity of Exact Online (standard, bulk or sync endpoint), division by division."
    Config = ExactSubscriberConfig
    form_template: ClassVar[str | None] = "exact_online/subscriber_form.html"
    # A full read of a large division every five minutes costs more API calls than the minutely/daily limits allow.
    incremental_by_default: ClassVar[bool] = True

    config: ExactSubscriberConfig

    # -- configuration -----------------------------------------------------------------------------------
    @classmethod
    def form_fields(cls) -> dict[str, forms.Field]:
        return {
            "entity": forms.CharField(
                label="Entity", max_length=200,
                help_text="Search by name or endpoint, e.g. Accounts or crm/Accounts.",
                widget=forms.TextInput(attrs={"list": "entity-options", "autocomplete": "off"}),
            ),
            "divisions": forms.ChoiceField(label="Divisions", choices=DIVISION_CHOICES, initial="default"),
            "division_codes": forms.CharField(
                label="Division codes", required=False, help_text="Comma-separated, for \u201cThese divisions\u201d."
            ),
            "endpoint": forms.ChoiceField(label="Endpoint", choices=ENDPOINT_CHOICES, initial="auto"),
            "filter": forms.CharField(label="$filter", required=False, widget=forms.TextInput(
                attrs={"placeholder": "e.g. Blocked eq false and Modified ge datetime'2024-01-01T00:00:00'"})),
            "select": forms.CharField(label="$select", required=False,
                                      help_text="Comma-separated properties; empty = all properties of the endpoint "
                                                "called (never *)."),
            "orderby": forms.CharField(label="$orderby", required=False),
            "top": forms.IntegerField(label="$top", required=False, min_value=1),
        }

    @classmethod
    def form_context(cls, form: Any) -> dict[str, Any]:
        value = getattr(form, "entity_value", "")
        entity = catalog().get(value) if value else None
        return {"entity": entity, "entities": catalog().entities,
                "counterparts": [c for c in (entity.standard_counterpart, entity.bulk_counterpart,
                                              entity.sync_counterpart) if c] if entity else []}

    @classmethod
    def initial(cls, config: dict[str, Any], *, path: dict[str, Any], query: dict[str, Any]) -> dict[str, Any]:
        parsed = ExactSubscriberConfig.model_validate(config or {})
        odata = {field: query.pop(key) for field, key in ODATA_FIELDS.items() if key in query}
        return {"entity": parsed.entity, "divisions": parsed.divisions,
                "division_codes": ", ".join(str(c) for c in parsed.division_codes), "endpoint": parsed.endpoint,
                **odata}

    @classmethod
    def clean(cls, data: dict[str, Any]) -> tuple[dict[str, Any], dict[str, list[str]]]:
        errors: dict[str, list[str]] = {}

        def err(name: str, message: str) -> None:
            errors.setdefault(name, []).append(message)

        entity = catalog().get(str(data.get("entity") or ""))
        if entity is None:
            err("entity", f"Unknown entity {data.get('entity')!r}: choose one from the catalog.")
        elif not entity.supports("GET"):
            err("entity", f"{entity.endpoint} cannot be read (it supports {', '.join(entity.methods)} only).")
        codes: list[int] = []
        for part in str(data.get("division_codes") or "").replace(";", ",").split(","):
            if part.strip():
                try:
                    codes.append(int(part.strip()))
                except ValueError:
                    err("division_codes", f"{part.strip()!r} is not a division code (a number).")
        mode = data.get("divisions") or "default"
        path = dict(data.get("path") or {})
        if path.get("division"):
            try:
                codes = [int(c) for c in str(path.pop("division")).split(",") if c.strip()]
                mode = "selected"
            except ValueError:
                err("path", "The division path parameter must be a division code (a number).")
        if mode == "selected" and not codes and "division_codes" not in errors:
            err("division_codes", "Path parameter division is missing: give at least one division code.")
        client = data.get("http_client")
        if mode in ("default", "all") and client is not None:
            access = access_of(client)
            if access is None or (mode == "default" and not access.division):
                err("divisions", "Path parameter division is missing: this HTTP Client has no granted division yet; "
                                 "grant access first or give division codes.")
        endpoint_mode = data.get("endpoint") or "auto"
        query = dict(data.get("query") or {})
        for field_name, key in ODATA_FIELDS.items():
            value = data.get(field_name)
            if value not in (None, ""):
                query[key] = str(value).strip()
        if entity is not None:
            target = entity if endpoint_mode == "auto" else counterpart(entity, endpoint_mode)
            if target is None:
                err("endpoint", f"{entity.name} has no {endpoint_mode} endpoint.")
                target = entity
            for name in (p for p in entity.path_parameters if p != "division"):
                if not path.get(name):
                    err("path", f"Path parameter {name} is missing.")
            unknown = [s for s in split_select(query.get("$select")) if not target.has_property(s)]
            if "*" in split_select(query.get("$select")):
                err("select", "$select=* is refused by Exact; choose properties or leave empty for all.")
            elif unknown:
                err("select", f"Unknown $select propert{'y' if len(unknown) == 1 else 'ies'} for "
                              f"{target.endpoint}: {', '.join(unknown)}.")
            if query.get("$filter"):
                try:
                    validate_filter(str(query["$filter"]), lambda n: t.type if (t := target.get_property(n)) else None)
                except FilterError as exc:
                    err("filter", f"$filter: {exc}")
            orderby = str(query.get("$orderby") or "")
            for part in orderby.split(","):
                name = part.strip().split(" ")[0] if part.strip() else ""
                if name and not target.has_property(name):
                    err("orderby", f"Unknown $orderby property {name!r}.")
                elif part.strip() and len(part.split()) > 1 and part.split()[1].lower() not in ("asc", "desc"):
                    err("orderby", f"$orderby direction must be asc or desc, not {part.split()[1]!r}.")
        config = {"entity": entity.endpoint if entity else str(data.get("entity") or ""), "divisions": mode,
                  "division_codes": codes, "endpoint": endpoint_mode}
        return {"config": config, "path": path, "query": query}, errors

    @classmethod
    def summary(cls, incoming: Any) -> list[tuple[str, str]]:
        config = ExactSubscriberConfig.model_validate(incoming.config or {})
        divisions = config.divisions + (": " + ", ".join(str(c) for c in config.division_codes)
                                        if config.division_codes else "")
        return [("Entity", config.entity), ("Divisions", divisions), ("Endpoint", config.endpoint)]

    # -- where to read --------------------------------------------------------------------------------------
    @property
    def entity(self) -> Entity:
        entity = catalog().get(self.config.entity)
        if entity is None:
            raise ReadError(f"Unknown entity {self.config.entity!r}", permanent=True)
        return entity

    def divisions(self) -> list[int | None]:
        path_division = (self.incoming.path or {}).get("division")
        if path_division:
            return [int(c) for c in str(path_division).split(",") if c.strip()]
        if self.config.divisions == "selected":
            return list(self.config.division_codes)
        client = self.incoming.http_client
        access = access_of(client)
        if self.config.divisions == "all" and access is not None and access.divisions:
            return [*access.division_codes()]
        if access is not None and access.division:
            return [int(access.division)]
        raise ReadError("No division to read: grant the HTTP Client access or give division codes.", permanent=True)

    def target(self) -> tuple[Entity, str]:
        """The endpoint to call and why (for the run log and the form)."""
        return choose_target(self.entity, self.config.endpoint, self.incoming.query or {},
                             incremental=self.incoming.incremental)

    def plan(self, division: int | None, *, cursor: dict[str, Any] | None = None,
             request_hook: RequestHook | None = None) -> ReadPlan:
        target, reason = self.target()
        return build_plan(target, reason, division=division, path=self.incoming.path or {},
                          query=self.incoming.query or {}, incremental=self.incoming.incremental,
                          webhook_fed=self.webhook_fed, cursor=cursor, request_hook=request_hook)

    # -- previews and samples ------------------------------------------------------------------------------
    def _base_url(self) -> str:
        client = self.incoming.http_client
        config = getattr(client, "config", None) or {}
        return str(config.get("base_url") or config.get("base_uri") or DEFAULT_BASE_URL).rstrip("/")

    def url(self, plan: ReadPlan, division: int | None) -> str:
        prefix = "beta/" if "/beta/" in plan.entity.uri else ""
        where = f"{division}/" if plan.entity.division_in_path and division is not None else ""
        return f"{self._base_url()}/api/v1/{prefix}{where}{plan.entity.endpoint}?{urlencode(plan.params, safe='$,')}"

    def preview(self, *, request_hook: RequestHook | None = None,
                cursors: dict[int, dict[str, Any]] | None = None) -> list[RequestSpec]:
        try:
            divisions = self.divisions()
        except ReadError:
            divisions = [None]
        specs = []
        for division in divisions:
            plan = self.plan(division, cursor=(cursors or {}).get(division or 0), request_hook=request_hook)
            shown = plan.path.get("division", division)
            specs.append(RequestSpec(division=shown, endpoint=plan.entity.endpoint,
                                     url=self.url(plan, shown if shown is not None else None),
                                     params=plan.params, reason=plan.reason))
        return specs

    def api(self) -> Any:
        from .client_type import api_for

        if self.incoming.http_client is None:
            raise ReadError("Choose an HTTP Client first.", permanent=True)
        return api_for(self.incoming.http_client)

    def fetch_sample(self, *, limit: int = 5, request_hook: RequestHook | None = None) -> Sample:
        division = self.divisions()[0]
        plan = self.plan(division, request_hook=request_hook)
        params = dict(plan.params)
        top = int(params.get("$top") or 0)
        params["$top"] = str(min(top, limit) if top else limit)
        api = self.api()
        division = plan.path.get("division", division)
        try:
            with quota_scope(interactive=True):  # a person waits for it: the daily reserve is theirs
                response = api.request("GET", plan.entity.endpoint, division=division, params=params)
        except ExactError as exc:
            raise ReadError(str(exc), permanent=exc.permanent) from exc
        d = response.body.get("d") if isinstance(response.body, dict) else None
        results = list(d.get("results") or []) if isinstance(d, dict) else []
        spec = RequestSpec(division=division, endpoint=plan.entity.endpoint, url=response.url, params=params,
                           reason=plan.reason)
        return Sample(spec=spec, entities=results[:limit], api_calls=1,
                      has_more=bool(isinstance(d, dict) and d.get("__next")))

    # -- reading ---------------------------------------------------------------------------------------------
    def identifier(self, entity: dict[str, Any]) -> str:
        for key in (self._key, "ID", "EntityKey", "Timestamp"):
            if key and entity.get(key) not in (None, ""):
                return str(entity[key])
        return ""

    _key: str | None = None

    def read(self, division: int | None, *, resume: ResumePoint | None = None,
             cursor: dict[str, Any] | None = None, request_hook: RequestHook | None = None) -> Iterator[Page]:
        plan = self.plan(division, cursor=cursor, request_hook=request_hook)
        division = plan.path.get("division", division)
        self._key = plan.key
        for note in plan.notes:
            logger.warning("Division %s: %s", division, note)
        candidate = dict((resume.cursor if resume and resume.cursor else None) or (plan.cursor_applied or {})) or None
        if resume and resume.next_url:
            url, params, number = resume.next_url, None, resume.page
            logger.info("Division %s: resuming %s at page %d", division, plan.entity.endpoint, number + 1)
        else:
            url, params, number = plan.entity.endpoint, plan.params, 0
            logger.info("Division %s: reading %s (%s) with %s", division, plan.entity.endpoint, plan.reason,
                        urlencode(plan.params, safe="$,"))
        api = self.api()
        max_pages = (self.incoming.page_cap or 1_000_000) if self.incoming.pagination else 1
        pages = api.iter_pages(url, division=division, params=params, max_pages=1_000_000)
        while number < max_pages:
            try:
                with quota_scope(f"incoming:{self.incoming.pk}"):  # reads share the division's minute too
                    page = next(pages)
            except StopIteration:
                return
            except QuotaWait as exc:  # nothing sent: the run waits for the reset and resumes at this page
                raise WaitUntil(exc.wait_reason, datetime.fromtimestamp(exc.until, tz=UTC)) from exc
            except ExactError as exc:
                if is_outage(exc):  # Exact did not answer: the run waits and reads this page again then
                    raise WaitUntil(outage_reason(exc, division), outage_until()) from exc
                raise ReadError(str(exc), permanent=exc.permanent) from exc
            number += 1
            rows, dropped = drop_boundary_rows(page.results, plan.cursor_applied, plan.key)
            if self.webhook_fed:
                rows, delivered = self._skip_delivered_by_webhook(rows, plan, division)
                dropped += delivered
            candidate = advance(candidate, plan.cursor_kind, plan.key, plan.entity.endpoint, rows)
            next_url = page.next_url if number < max_pages else None
            if page.next_url and number >= max_pages and not plan.ordered:
                candidate = plan.cursor_applied  # an unordered partial read cannot move the cursor
            yield Page(division=division, number=number, entities=rows, next_url=next_url,
                       endpoint=plan.entity.endpoint, api_calls=1, cursor=candidate, dropped=dropped)
            if not page.next_url:
                return

    @cached_property
    def webhook_fed(self) -> bool:
        """A webhook feeds a route reading this Incoming: its reads reconcile what the webhooks missed."""
        from connections.models import Route

        return bool(self.incoming.pk) and Route.objects.filter(incoming_id=self.incoming.pk,
                                                               webhook__isnull=False).exists()

    def _skip_delivered_by_webhook(self, rows: list[dict[str, Any]], plan: ReadPlan, division: int | None,
                                   ) -> tuple[list[dict[str, Any]], int]:
        """Drop the record versions a webhook already delivered; count the rest as found by reconciliation."""
        from .models import ExactChange

        key = plan.key or "ID"
        keys = [str(r.get(key)) for r in rows if r.get(key) is not None]
        delivered = set(ExactChange.objects.filter(
            incoming_id=self.incoming.pk, key__in=keys, source=ExactChange.Source.WEBHOOK,
            status=ExactChange.Status.DONE).values_list("key", "modified_ms"))
        kept = [r for r in rows if (str(r.get(key)), date_ms(r.get("Modified"))) not in delivered]
        topic = (self.entity.standard_counterpart or self.entity).name
        ExactChange.objects.bulk_create([ExactChange(
            incoming_id=self.incoming.pk, source=ExactChange.Source.RECONCILIATION, status=ExactChange.Status.DONE,
            division=division or 0, topic=topic, key=str(r.get(key) or "")[:64], modified_ms=date_ms(r.get("Modified")),
            done_at=timezone.now()) for r in kept])
        if len(kept) < len(rows):
            logger.info("Division %s: %d records already delivered by webhook", division, len(rows) - len(kept))
        return kept, len(rows) - len(kept)
