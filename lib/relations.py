"""What refers to an object, found through Django's relations: for delete confirmations and refusals.

A model asking this never imports the apps that point at it (the platform does not know its connectors).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

from django.db import models
from simple_history.models import HistoricalChanges

__all__ = ["Dependent", "dependents_of"]


@dataclass(frozen=True)
class Dependent:
    """Objects of one model that refer to an object: how many, some of them, and whether they block deleting it."""

    label: str  # the model's verbose name, plural when more than one
    count: int
    protects: bool  # PROTECT/RESTRICT: the object cannot be deleted while these exist
    examples: list[Any] = field(default_factory=list)


def dependents_of(obj: models.Model, *, ignore: Collection[type[models.Model]] = (), examples: int = 10,
                  ) -> list[Dependent]:
    """Every model with a relation to ``obj`` (its own ``ignore``d ones aside) that has rows pointing at it."""
    found: list[Dependent] = []
    for relation in obj._meta.get_fields(include_hidden=True):
        if not isinstance(relation, models.ForeignObjectRel):
            continue  # a field of obj itself, not a relation pointing at it
        through = getattr(relation, "through", None)
        if relation.many_to_many and through is not None and not through._meta.auto_created:
            continue  # counted through the explicit through model's foreign key
        model = relation.related_model
        if not isinstance(model, type) or model in ignore or issubclass(model, HistoricalChanges):
            continue  # versions of other objects (the audit trail's history) never hold an object back
        rows = model._base_manager.filter(**{relation.field.name: obj})
        count = rows.count()
        if count:
            meta = model._meta
            found.append(Dependent(
                label=str(meta.verbose_name_plural if count > 1 else meta.verbose_name), count=count,
                protects=relation.on_delete in (models.PROTECT, models.RESTRICT), examples=list(rows[:examples]),
            ))
    return found
