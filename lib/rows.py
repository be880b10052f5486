"""Building and inserting many rows of a model at once, for the reader's pages of a thousand tasks.

``new_rows(model)`` makes unsaved instances the way the ORM makes instances of rows it reads (positionally,
every field's default filled in), several times faster than ``Model(**kwargs)``, which checks each keyword.
``insert_rows`` writes them with PostgreSQL's ``COPY`` (the ids drawn from the table's sequence first, so the
instances get their ``pk`` as after ``bulk_create``); other databases use ``bulk_create``. Values are
prepared as an INSERT prepares them (each field's ``get_db_prep_save``), except where that is known to hand
the value on unchanged (``None``, a ``str`` for a text field, an ``int`` for an integer or a foreign key, an
aware datetime..., in Django's own field classes) or to be JSON text (a ``JSONField``; orjson where it has no
encoder of its own): preparing every value the long way was most of the time of a COPY.
"""

from __future__ import annotations

import inspect
import json
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from functools import partial
from operator import attrgetter
from typing import Any, TypeVar

import orjson
from django.db import connections, models, router
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models.base import ModelState
from django.db.models.fields.related_descriptors import ForeignKeyDeferredAttribute
from django.db.models.signals import post_init, pre_init

__all__ = ["insert_rows", "new_rows"]

M = TypeVar("M", bound=models.Model)


def new_rows(model: type[M]) -> Callable[..., M]:
    """A factory of unsaved ``model`` instances from field attribute names (``run_id``, not ``run``); a keyword
    that is no field's attribute name is a ``TypeError``, as in ``Model(**kwargs)``."""
    fields = list(model._meta.concrete_fields)
    index = {field.attname: position for position, field in enumerate(fields)}
    fixed: list[Any] = []
    per_row: list[tuple[int, Callable[[], Any]]] = []  # callable defaults (dict, list, now) made for every row
    for position, field in enumerate(fields):
        if field.has_default() and callable(field.default):
            per_row.append((position, field.default))
            fixed.append(None)
        else:
            fixed.append(field.get_default())

    attnames = [field.attname for field in fields]
    direct = _values_go_to_dict(model, fields)

    def make(**values: Any) -> M:
        row = fixed.copy()
        for position, default in per_row:
            row[position] = default()
        for name, value in values.items():
            try:
                row[index[name]] = value
            except KeyError:
                raise TypeError(f"{model.__name__} has no field attribute {name!r}") from None
        if not direct or pre_init.receivers or post_init.receivers:
            return model(*row)
        # What Model.__init__ makes of positional values when nothing listens to its signals, without its
        # per-field loop and signal sends (most of the time of building a page's tasks).
        obj = model.__new__(model)
        obj._state = ModelState()
        obj.__dict__.update(zip(attnames, row, strict=True))
        return obj

    return make


def _values_go_to_dict(model: type[models.Model], fields: list[models.Field[Any, Any]]) -> bool:
    """Whether ``Model.__init__`` puts every field's value in the instance's ``__dict__`` as it is: no field
    attribute has a setter of its own (a foreign key id's only forgets a cached related object, which a new
    instance does not have)."""
    for field in fields:
        descriptor = inspect.getattr_static(model, field.attname, None)
        if hasattr(type(descriptor), "__set__") and type(descriptor) is not ForeignKeyDeferredAttribute:
            return False
    return True


# Django's own field classes, and the values whose preparation for PostgreSQL is the value itself.
_TEXT, _INT = (str,), (int,)
_PLAIN: dict[type[Any], tuple[type[Any], ...]] = {
    models.CharField: _TEXT, models.TextField: _TEXT, models.SlugField: _TEXT, models.EmailField: _TEXT,
    models.URLField: _TEXT, models.IntegerField: _INT, models.BigIntegerField: _INT, models.SmallIntegerField: _INT,
    models.PositiveIntegerField: _INT, models.PositiveBigIntegerField: _INT, models.PositiveSmallIntegerField: _INT,
    models.ForeignKey: _INT, models.OneToOneField: _INT, models.BooleanField: (bool,), models.FloatField: (float,),
    models.UUIDField: (uuid.UUID,), models.DateTimeField: (datetime,),
}


# Types json.dumps refuses or writes its own way (dates, dataclasses, subclasses) go to json.dumps, as before.
_AS_JSON_DUMPS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_SUBCLASS


def _dumps(value: Any) -> str | None:
    """JSON for a ``JSONField`` without an encoder: the same document as ``json.dumps`` (PostgreSQL stores the
    same jsonb), made by orjson several times faster; what orjson refuses (keys that are not text, integers over
    64 bits, surrogates, the types above) goes through ``json.dumps``. None is NULL."""
    if value is None:
        return None
    try:
        return orjson.dumps(value, option=_AS_JSON_DUMPS).decode()
    except TypeError:  # orjson.JSONEncodeError
        return json.dumps(value)


def _preparer(field: models.Field[Any, Any], connection: BaseDatabaseWrapper) -> Callable[[Any], Any]:
    prepare = partial(field.get_db_prep_save, connection=connection)
    if type(field) is models.JSONField:  # what Jsonb would send: json.dumps with the field's encoder; None is NULL
        if field.encoder is None:
            return _dumps
        dumps = partial(json.dumps, cls=field.encoder)
        return lambda value: dumps(value) if value is not None else None
    kinds = _PLAIN.get(type(field))
    if kinds is None:
        return prepare

    def plain(value: Any) -> Any:
        if value is None or (type(value) in kinds and (type(value) is not datetime or value.tzinfo is not None)):
            return value
        return prepare(value)

    return plain


def insert_rows(model: type[M], rows: Sequence[M], *, batch_size: int = 500) -> None:
    """Insert ``rows`` (new instances) and set their primary keys: ``COPY`` on PostgreSQL, else ``bulk_create``."""
    if not rows:
        return
    alias = router.db_for_write(model)
    connection = connections[alias]
    if connection.vendor != "postgresql":
        model._default_manager.bulk_create(rows, batch_size=batch_size)
        return
    meta = model._meta
    pk = meta.pk
    assert pk is not None
    fields = [field for field in meta.concrete_fields if field is not pk]
    # The value as the ORM saves it: a field whose pre_save is Field's own just reads the attribute.
    prepared = [(attrgetter(field.attname) if type(field).pre_save is models.Field.pre_save
                 else partial(field.pre_save, add=True), _preparer(field, connection)) for field in fields]
    quote = connection.ops.quote_name
    columns = ", ".join(quote(str(column)) for column in [pk.column, *(field.column for field in fields)])
    with connection.cursor() as cursor:
        cursor.execute("SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
                       [meta.db_table, pk.column, len(rows)])
        ids = [row[0] for row in cursor.fetchall()]
        with cursor.cursor.copy(f"COPY {quote(meta.db_table)} ({columns}) FROM STDIN") as copy:
            for obj, pk_value in zip(rows, ids, strict=True):
                copy.write_row([pk_value, *[prepare(value(obj)) for value, prepare in prepared]])
    for obj, pk_value in zip(rows, ids, strict=True):
        obj.pk = pk_value
        obj._state.adding = False
        obj._state.db = alias
