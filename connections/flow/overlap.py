"""A read's three kinds of work side by side: fetch page N+1, transform page N, save page N-1 (each in a thread).

``read_ahead`` fetches the next page while the caller works on this one; ``PageWriter`` saves a page while the
caller transforms the next. Both keep the order of pages and at most one page in flight, so a read that stops
keeps its checkpoint; both run everything in the caller's thread where threads cannot share the work.
"""

from __future__ import annotations

import contextvars
import queue
import threading
from collections.abc import Callable, Generator, Iterator
from typing import Any, Generic, TypeVar

from django.db import connections, reset_queries, transaction

__all__ = ["PageWriter", "read_ahead", "threads_can_share_the_work"]

P = TypeVar("P")


def threads_can_share_the_work() -> bool:
    """False inside a transaction (tests, a caller's atomic block: another thread's connection would not see it) and
    on SQLite (one writer at a time)."""
    connection = transaction.get_connection()
    return not connection.in_atomic_block and connection.vendor != "sqlite"


class PageWriter(Generic[P]):
    """Saves pages in a thread of its own (its own database connection) while the caller transforms the next.

    ``put`` hands one page over once the one before it is saved (``wait``): at most one page is being saved, and
    pages commit in the order they were read, so the checkpoint of a read that stops is that of its last
    committed page. The thread's error is raised by the caller's next ``wait`` or ``put``, and nothing after it
    is saved. Inside a transaction or on SQLite (see ``read_ahead``) ``put`` saves the page itself, at once.
    """

    def __init__(self, save: Callable[[P], None], *, in_thread: bool | None = None) -> None:
        if in_thread is None:
            in_thread = threads_can_share_the_work()
        self.save = save
        self.in_thread = in_thread
        self.saving: P | None = None  # handed over, not known to be saved yet
        self.inbox: queue.SimpleQueue[tuple[bool, Any]] = queue.SimpleQueue()  # (True, page) | (False, None): stop
        self.outbox: queue.SimpleQueue[BaseException | None] = queue.SimpleQueue()
        self.thread: threading.Thread | None = None

    def _run(self) -> None:
        try:
            while True:
                go, page = self.inbox.get()
                if not go:
                    return
                try:
                    self.save(page)
                    reset_queries()  # with DEBUG on, this thread's connection keeps every query's SQL
                except BaseException as exc:  # raised again in the caller's thread
                    self.outbox.put(exc)
                    return
                self.outbox.put(None)
        finally:
            connections.close_all()  # this thread's database connection

    def wait(self) -> P | None:
        """The page handed over last, once it is committed (None when there is none); raises its error."""
        page, self.saving = self.saving, None
        if page is not None and self.thread is not None:
            error = self.outbox.get()
            if error is not None:
                self.close()
                raise error
        return page

    def put(self, page: P) -> None:
        """Hand ``page`` over to be saved, once the page before it is committed (see ``wait``)."""
        self.wait()
        if not self.in_thread:
            self.save(page)
        else:
            if self.thread is None:
                self.thread = threading.Thread(target=contextvars.copy_context().run, args=(self._run,),
                                               name="page-writer", daemon=True)
                self.thread.start()
            self.inbox.put((True, page))
        self.saving = page

    def close(self) -> None:
        """End the thread once the page it is saving is committed (a read that stops keeps what it handed over)."""
        if self.thread is not None:
            self.inbox.put((False, None))
            self.thread.join()
            self.thread = None


def read_ahead(pages: Iterator[P], *, in_thread: bool | None = None) -> Generator[P]:
    """``pages``, the next one fetched in a thread while the caller transforms and saves this one.

    Fetching a page is mostly waiting for the other system, which the reader's CPU can use meanwhile. At most
    one page is fetched ahead, and only once the caller asked for the one before it: a read that stops (an
    error, a wait) has spent at most one call it does not save, and the checkpoint reads that page again.
    Inside a transaction (tests, a caller's atomic block) or on SQLite, the pages are fetched here, one after
    the other: another thread's connection would not see that transaction, and SQLite has one writer.
    ``in_thread`` decides it instead (tests).
    """
    if in_thread is None:
        in_thread = threads_can_share_the_work()
    if not in_thread:
        yield from pages
        return
    asks: queue.SimpleQueue[bool] = queue.SimpleQueue()  # True: fetch the next page; False: stop
    answers: queue.SimpleQueue[tuple[str, Any]] = queue.SimpleQueue()  # ("page", P) | ("error", exc) | ("end", _)

    def fetch() -> None:
        try:
            while asks.get():
                try:
                    page = next(pages)
                except StopIteration:
                    answers.put(("end", None))
                    return
                except BaseException as exc:  # raised again in the caller's thread
                    answers.put(("error", exc))
                    return
                answers.put(("page", page))
        finally:
            close = getattr(pages, "close", None)
            if close is not None:  # the subscriber's own clean-up runs in the thread that ran it
                close()
            connections.close_all()  # this thread's database connection

    thread = threading.Thread(target=contextvars.copy_context().run, args=(fetch,), name="read-ahead", daemon=True)
    thread.start()
    asks.put(True)
    try:
        while True:
            kind, value = answers.get()
            if kind == "end":
                return
            if kind == "error":
                raise value
            asks.put(True)  # the next page is fetched while this one is saved
            yield value
    finally:
        asks.put(False)
        thread.join()
