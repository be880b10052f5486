"""The reader fetches the next page in a thread while it saves this one: the same pages in the same order, at
most one page ahead, a subscriber's error raised in the reader's thread, and the thread ended when it stops."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from connections.flow.overlap import read_ahead
from connections.waits import WaitUntil


def numbers(count: int, fetched: list[int], *, fail_at: int | None = None, closed: list[bool] | None = None,
            ) -> Iterator[int]:
    try:
        for n in range(1, count + 1):
            if n == fail_at:
                raise WaitUntil("quota", datetime.now(UTC))
            fetched.append(n)
            yield n
    finally:
        if closed is not None:
            closed.append(threading.current_thread() is not threading.main_thread())


@pytest.mark.parametrize("in_thread", [True, False])
def test_the_same_pages_in_order(in_thread):
    fetched: list[int] = []
    assert list(read_ahead(numbers(5, fetched), in_thread=in_thread)) == [1, 2, 3, 4, 5]
    assert fetched == [1, 2, 3, 4, 5]


def test_at_most_one_page_is_fetched_ahead_of_the_one_being_saved():
    fetched: list[int] = []
    seen: list[tuple[int, list[int]]] = []
    ahead = read_ahead(numbers(6, fetched), in_thread=True)
    for page in ahead:
        threading.Event().wait(0.05)  # "saving": the next page arrives meanwhile
        seen.append((page, list(fetched)))
    for page, fetched_then in seen:
        assert max(fetched_then) <= page + 1


def test_a_subscriber_error_is_raised_in_the_readers_thread_after_the_pages_before_it():
    fetched: list[int] = []
    got: list[int] = []
    with pytest.raises(WaitUntil):
        for page in read_ahead(numbers(5, fetched, fail_at=3), in_thread=True):
            got.append(page)
    assert got == [1, 2]


def test_stopping_early_ends_the_thread_and_closes_the_subscriber_there():
    fetched: list[int] = []
    closed: list[bool] = []
    before = threading.active_count()
    ahead = read_ahead(numbers(100, fetched, closed=closed), in_thread=True)
    assert next(ahead) == 1
    ahead.close()
    assert threading.active_count() == before
    assert closed == [True]
    assert fetched in ([1], [1, 2])  # the page asked for while page 1 was saved, at most
