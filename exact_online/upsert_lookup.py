"""The batch look-up before an Upsert batch: find the batch's existing records in one GET per ~50 upsert keys.

Without it every upsert costs a look-up and a write; with it a batch of 50 costs one look-up and 50 writes
(issue 14: at most 1.05 calls per task).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from connections.publishers import PublishJob

from . import errors
from .catalog import Entity
from .odata import filter_literal, matchable

__all__ = ["LOOKUP_QUERY_CHARS", "LOOKUP_VALUES", "filter_chunks", "look_up_upsert_keys"]

logger = logging.getLogger(__name__)

# A look-up's query string stays under 2,048 characters (IIS's default maxQueryString; Exact runs on IIS)
# and asks no more values than a page (60 rows) answers in one call.
LOOKUP_QUERY_CHARS = 2000
LOOKUP_VALUES = 50


def filter_chunks(clauses: list[tuple[Any, str]], select: str) -> list[list[tuple[Any, str]]]:
    """``clauses`` grouped so that each group, joined by ``or`` (with ``select``), fits one URL and one page."""
    chunks: list[list[tuple[Any, str]]] = []
    size = 0
    base = len(urlencode({"$select": select})) + len("&%24filter=")
    for item in clauses:
        length = len(urlencode({"": item[1]})) - 1 + len("+or+")
        if not chunks or size + length > LOOKUP_QUERY_CHARS or len(chunks[-1]) >= LOOKUP_VALUES:
            chunks.append([])
            size = base
        chunks[-1].append(item)
        size += length
    return chunks


def look_up_upsert_keys(jobs: list[PublishJob], entity: Entity, upsert_key: str, api: Any,
                        division_of: Callable[[PublishJob], int | None]) -> int:
    """Mark each job that needs a look-up with ``prepared["upsert_found"]``; returns the calls made.

    A job the id map or its payload already addresses needs no look-up. Each looked-up job gets the key found, or
    None when Exact has no such record. A value that repeats in the batch is marked absent only for its first job
    (the others look again once it exists), and a chunk whose answer cannot be matched back to its values marks
    nothing (each task asks itself).
    """
    pk = entity.primary_key or "ID"
    wanted: dict[tuple[int | None, str], list[PublishJob]] = {}
    values: dict[tuple[int | None, str], Any] = {}
    for job in jobs:
        value = job.payload.get(upsert_key)
        if value in (None, "") or isinstance(value, (dict, list)):
            continue
        if job.path.get("key") or job.payload.get(pk) or (job.source_id and job.lookup_target(job.source_id)):
            continue
        slot = (division_of(job), matchable(value))
        wanted.setdefault(slot, []).append(job)
        values.setdefault(slot, value)
    calls = 0
    select = f"{pk},{upsert_key}"
    for division in sorted({slot[0] for slot in wanted}, key=lambda d: d or 0):
        slots = [slot for slot in wanted if slot[0] == division]
        for chunk in filter_chunks([(slot, f"{upsert_key} eq {filter_literal(entity, upsert_key, values[slot])}")
                                    for slot in slots], select):
            found: dict[str, str] = {}
            matched = True
            params = {"$filter": " or ".join(clause for _slot, clause in chunk), "$select": select}
            try:
                for page in api.iter_pages(entity.endpoint, division=division, params=params):
                    calls += 1
                    for row in page.results:
                        seen = matchable(row.get(upsert_key))
                        if (division, seen) not in wanted:
                            matched = False  # Exact compared differently than we do: trust no absence here
                        found.setdefault(seen, str(row.get(pk)))
            except errors.ExactError as error:  # each task of the batch then looks for itself
                logger.warning("batch look-up of %s by %s failed: %s", entity.endpoint, upsert_key, error.message)
                return calls + 1
            for slot, _clause in chunk:
                key = found.get(slot[1])
                for index, job in enumerate(wanted[slot]):
                    if key is not None:
                        job.prepared["upsert_found"] = key
                    elif matched and index == 0:
                        job.prepared["upsert_found"] = None
    return calls
