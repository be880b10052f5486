"""Versions of configuration objects (django-simple-history records): list, compare, restore, and the versions a
route run used. Only the models in ``VERSIONED`` are offered on the version pages (restore keeps secrets)."""

from __future__ import annotations

import threading
from typing import Any

from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.http import Http404

from .models import TRACKED
from .recording import IGNORED_FIELDS, tracked_fields, version_repr

__all__ = ["VERSIONED", "history_of", "remember_fresh", "restore_version", "route_chain_set", "run_versions",
           "version_fields", "versioned_model", "versions_used"]

VERSIONED = ("connections.transformer", "connections.route", "connections.incoming", "connections.outgoing")
_fresh = threading.local()


def versioned_model(label: str) -> type[models.Model]:
    """The model behind a label of ``VERSIONED``, else 404."""
    for model in TRACKED:
        if model._meta.label_lower == label and label in VERSIONED:
            return model
    raise Http404("No versions are kept for this kind of object.")


def history_of(model: type[models.Model], pk: Any) -> models.QuerySet[Any]:
    """The versions of object ``pk`` of ``model``, newest first."""
    manager: Any = model.history  # type: ignore[attr-defined]
    return manager.filter(id=pk).order_by("-history_date", "-history_id")


def remember_fresh(version: Any) -> None:
    """Note the version this thread just wrote (None: the save made none), so that a route's chain set right
    after its save joins that version."""
    _fresh.last = None if version is None else (version.instance_type._meta.label_lower, version.id,
                                                version.history_id)


def route_chain_set(route: Any) -> None:
    """A route's transformers were set (a through table, saved after the route): put the chain into the route's
    version written just before in this thread, or write a new version when there is none."""
    from .recording import entry_for_version

    chain = list(route.links.order_by("position", "pk").values_list("transformer_id", flat=True))
    fresh, _fresh.last = getattr(_fresh, "last", None), None  # one chain per save, then a version of its own
    latest = history_of(type(route), route.pk).first()
    if latest is not None and latest.chain == chain:
        return
    if latest is not None and fresh == ("connections.route", route.pk, latest.history_id):
        latest.chain = chain
        latest.save(update_fields=["chain"])
        entry_for_version(latest, rewrite=True)
        return
    route.save(update_fields=["updated_at"])


def version_fields(version: Any) -> list[tuple[str, Any, bool]]:
    """(label, value, is JSON) of each field a version keeps, for the version page."""
    rows: list[tuple[str, Any, bool]] = []
    for field in tracked_fields(version):
        if field.name in IGNORED_FIELDS or field.name == "id":
            continue
        value = getattr(version, field.attname)
        rows.append((str(field.verbose_name), value, isinstance(value, (dict, list))))
    if version.instance_type._meta.label_lower == "connections.route":
        from connections.models import Transformer

        names = dict(Transformer.objects.filter(pk__in=version.chain).values_list("pk", "name"))
        rows.append(("transformers", [f"{names.get(pk, '?')} (#{pk})" for pk in version.chain], True))
    return rows


class RestoreRefused(Exception):
    """The version cannot be restored as it is (a name now taken, a referenced object deleted)."""


def restore_version(version: Any) -> models.Model:
    """Make the object as it was at ``version``: its tracked fields (secrets stay as they are now), and a route's
    transformer chain. The restore is itself a new version ("restore"), so it can be undone the same way."""
    model = version.instance_type
    current = model._default_manager.filter(pk=version.id).first()
    if current is None:
        raise RestoreRefused("The object was deleted; only existing objects can be restored.")
    for field in tracked_fields(version):
        if field.name in IGNORED_FIELDS or field.primary_key:
            continue
        setattr(current, field.attname, getattr(version, field.attname))
    try:
        current.full_clean(exclude=["created_by"])
    except ValidationError as exc:
        raise RestoreRefused("; ".join(exc.messages)) from None
    current._change_reason = "restore"
    with transaction.atomic():
        if model._meta.label_lower == "connections.route":
            # The chain first (not through set_transformers), so that the save below is one version with it.
            from connections.models import RouteTransformer, Transformer

            existing = Transformer.objects.in_bulk(version.chain)
            current.links.all().delete()
            RouteTransformer.objects.bulk_create(
                RouteTransformer(route=current, transformer=existing[pk], position=i)
                for i, pk in enumerate(pk for pk in version.chain if pk in existing))
        current.save()
    return current


def run_versions(route_run: Any) -> dict[str, Any]:
    """The newest version id of everything a route run uses, to keep on the run (``RunVersions``)."""
    route = route_run.route
    result: dict[str, Any] = {}

    def latest(obj: Any) -> int | None:
        if obj is None:
            return None
        first = history_of(type(obj), obj.pk).values_list("history_id", flat=True).first()
        return int(first) if first is not None else None

    result["connections.route"] = latest(route)
    result["connections.incoming"] = latest(route.incoming)
    result["connections.outgoing"] = latest(route.outgoing)
    transformers = list(route.ordered_transformers())
    for extra in (route.incoming.transformer if route.incoming else None, route.outgoing.transformer):
        if extra is not None:
            transformers.append(extra)
    result["connections.transformer"] = {str(t.pk): latest(t) for t in transformers}
    return result


def versions_used(kept: Any) -> list[dict[str, Any]]:
    """What a ``RunVersions`` row names, ready for links: label, pk, history id, kind and name (as it was)."""
    rows: list[dict[str, Any]] = []
    for label, value in kept.versions.items():
        pairs = value.items() if isinstance(value, dict) else [(None, value)]
        model = versioned_model(label)
        for _pk, history_id in pairs:
            if not history_id:
                continue
            version = model.history.filter(history_id=history_id).first()  # type: ignore[attr-defined]
            if version is None:  # pruned
                continue
            rows.append({"label": label, "pk": version.id, "history_id": history_id,
                         "kind": str(model._meta.verbose_name).capitalize(), "name": version_repr(version)})
    return rows
