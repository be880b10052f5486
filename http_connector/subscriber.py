"""The HTTP Subscriber: reads items out of any JSON REST API through a generic HTTP Client, page by page.

A request is a method, a path with ``{placeholders}`` filled from the Incoming's path parameters, query
parameters, headers and an optional JSON body; the items are found with a JMESPath expression. Paging:
none, page number, offset/limit, a cursor from the body, a next URL from the body, or ``Link: rel="next"``;
a link to another host is refused, and a next page that repeats one already read stops the read as a
paging loop. Incremental reads keep the highest value of a field (e.g. ``updated_at``) per Incoming and send
it as a query value on the next run (the stored cursor is shown and can be rewound like Exact's).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from typing import Any, ClassVar, Literal
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

import jmespath
from django import forms
from jmespath.exceptions import JMESPathError
from pydantic import Field

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

from .api import Answer, CallError, RestApi, wait_for
from .client_type import KIND, parse_headers

__all__ = ["HttpSubscriber", "HttpSubscriberConfig", "next_link"]

logger = logging.getLogger("connections.flow.read")  # the reader's logger: these lines go into the run's log

PAGINATION_CHOICES = [
    ("none", "None (one request)"),
    ("page", "Page number (page=1, 2, …)"),
    ("offset", "Offset and limit"),
    ("cursor", "Cursor from the body"),
    ("next_url", "Next URL from the body"),
    ("link", "Link header (rel=\"next\")"),
]
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
_LINK = re.compile(r'<([^>]*)>\s*;([^,]*)')


def next_link(header: str | None) -> str | None:
    """The ``rel="next"`` target of a ``Link`` header (RFC 8288), or None."""
    for target, params in _LINK.findall(header or ""):
        rels = re.search(r'rel\s*=\s*"?([^";]+)"?', params)
        if rels and "next" in rels.group(1).lower().split():
            return target.strip()
    return None


def _compile(expression: str, name: str) -> Any:
    try:
        return jmespath.compile(expression)
    except JMESPathError as exc:
        raise ValueError(f"{name}: {exc}") from None


class HttpSubscriberConfig(SubscriberConfig):
    method: Literal["GET", "POST"] = "GET"
    request_path: str = ""
    headers: dict[str, str] = Field(default_factory=dict)
    body: Any = None
    items: str = "@"
    id_field: str = "id"
    paging: Literal["none", "page", "offset", "cursor", "next_url", "link"] = "none"
    page_param: str = "page"
    start_page: int = 1
    size_param: str = "limit"
    page_size: int | None = None
    offset_param: str = "offset"
    cursor_param: str = "cursor"
    cursor_path: str = "next_cursor"
    next_url_path: str = "next_url"
    cursor_field: str = ""
    cursor_query: str = ""
    cursor_start: str = ""


def _text(value: Any) -> str:
    return "" if value is None else str(value)


class HttpSubscriber(Subscriber):
    kind = KIND
    label = "HTTP Subscriber (generic REST)"
    description = "Reads items from any JSON REST API through an HTTP Client: paging, JMESPath, incremental cursor."
    Config = HttpSubscriberConfig
    form_template: ClassVar[str | None] = None
    config: HttpSubscriberConfig

    # -- configuration -----------------------------------------------------------------------------------
    @classmethod
    def form_fields(cls) -> dict[str, forms.Field]:
        return {
            "method": forms.ChoiceField(label="Method", choices=[("GET", "GET"), ("POST", "POST")], initial="GET"),
            "request_path": forms.CharField(label="Request path", max_length=500, help_text=(
                "Path under the client's Base URI, e.g. /orders or /shops/{shop}/orders ({name} comes from the "
                "path parameters).")),
            "headers": forms.CharField(label="Headers", required=False, widget=forms.Textarea(attrs={"rows": 2}),
                                       help_text="One per line, Name: value (on top of the client's)."),
            "body": forms.CharField(label="JSON body", required=False, widget=forms.Textarea(attrs={"rows": 3}),
                                    help_text="POST only."),
            "items": forms.CharField(label="Items (JMESPath)", initial="@", required=False, max_length=300,
                                     help_text="Where the items are in the answer, e.g. data or results[*] "
                                               "(empty: the answer itself)."),
            "id_field": forms.CharField(label="Identifier (JMESPath)", initial="id", required=False, max_length=200,
                                        help_text="Each item's key, stored on its task (empty: id)."),
            "paging": forms.ChoiceField(label="Paging", choices=PAGINATION_CHOICES, initial="none"),
            "page_param": forms.CharField(label="Page parameter", initial="page", required=False, max_length=100),
            "start_page": forms.IntegerField(label="First page", initial=1, required=False, min_value=0),
            "size_param": forms.CharField(label="Page size parameter", initial="limit", required=False,
                                          max_length=100, help_text="e.g. limit or per_page; empty: not sent."),
            "page_size": forms.IntegerField(label="Page size", required=False, min_value=1, max_value=10_000),
            "offset_param": forms.CharField(label="Offset parameter", initial="offset", required=False,
                                            max_length=100),
            "cursor_param": forms.CharField(label="Cursor parameter", initial="cursor", required=False,
                                            max_length=100),
            "cursor_path": forms.CharField(label="Cursor in the body (JMESPath)", initial="next_cursor",
                                           required=False, max_length=300),
            "next_url_path": forms.CharField(label="Next URL in the body (JMESPath)", initial="next_url",
                                             required=False, max_length=300),
            "cursor_field": forms.CharField(label="Incremental: field", required=False, max_length=200,
                                            help_text="The highest value seen is kept, e.g. updated_at."),
            "cursor_query": forms.CharField(label="Incremental: query parameter", required=False, max_length=100,
                                            help_text="Sends the kept value, e.g. updated_after."),
            "cursor_start": forms.CharField(label="Incremental: first value", required=False, max_length=200,
                                            help_text="Optional: where the first run starts."),
        }

    @classmethod
    def initial(cls, config: dict[str, Any], *, path: dict[str, Any], query: dict[str, Any]) -> dict[str, Any]:
        values = dict(config)
        if isinstance(values.get("headers"), dict):
            values["headers"] = "\n".join(f"{k}: {v}" for k, v in values["headers"].items())
        if values.get("body") is not None:
            values["body"] = json.dumps(values["body"], indent=2)
        return values

    @classmethod
    def clean(cls, data: dict[str, Any]) -> tuple[dict[str, Any], dict[str, list[str]]]:
        errors: dict[str, list[str]] = {}

        def err(name: str, message: str) -> None:
            errors.setdefault(name, []).append(message)

        client = data.get("http_client")
        if client is not None and getattr(client, "kind", KIND) != KIND:
            err("http_client", "Choose an HTTP Client of the generic REST type for this subscriber.")
        try:
            headers = parse_headers(data.get("headers") or "")
        except ValueError as exc:
            err("headers", f"Headers: {exc}.")
            headers = {}
        body: Any = None
        if (data.get("body") or "").strip():
            try:
                body = json.loads(data["body"])
            except ValueError as exc:
                err("body", f"Not valid JSON: {exc}")
        for name in ("items", "id_field", "cursor_path", "next_url_path"):
            if data.get(name):
                try:
                    _compile(str(data[name]), name)
                except ValueError as exc:
                    err(name, f"Not a JMESPath expression: {exc}")
        endpoint = str(data.get("request_path") or "").strip()
        path = dict(data.get("path") or {})
        missing = [name for name in _PLACEHOLDER.findall(endpoint) if name not in path]
        if missing:
            err("request_path", f"Path parameter {', '.join(missing)} is missing: give it under Path (name=value).")
        if endpoint.startswith(("http://", "https://")):
            err("request_path", "Give a path under the client's Base URI, not a full URL.")
        paging = data.get("paging") or "none"
        required = {"page": "page_param", "offset": "offset_param", "cursor": "cursor_param"}.get(paging)
        if required and not data.get(required):
            err(required, "Required for this paging.")
        if paging == "offset" and not data.get("page_size"):
            err("page_size", "Offset paging needs the page size (the offset grows by it).")
        if paging == "cursor" and not data.get("cursor_path"):
            err("cursor_path", "Where is the next cursor in the answer?")
        if paging == "next_url" and not data.get("next_url_path"):
            err("next_url_path", "Where is the next URL in the answer?")
        if data.get("incremental") and not (data.get("cursor_field") and data.get("cursor_query")):
            err("cursor_field", "Incremental reads need the field whose highest value is kept and the query "
                                "parameter that sends it.")
        config = {
            "method": data.get("method") or "GET", "request_path": endpoint, "headers": headers, "body": body,
            "items": data.get("items") or "@", "id_field": data.get("id_field") or "id", "paging": paging,
            "page_param": data.get("page_param") or "page", "start_page": data.get("start_page") or 0
            if data.get("start_page") == 0 else data.get("start_page") or 1,
            "size_param": data.get("size_param") or "", "page_size": data.get("page_size"),
            "offset_param": data.get("offset_param") or "offset", "cursor_param": data.get("cursor_param") or "cursor",
            "cursor_path": data.get("cursor_path") or "next_cursor",
            "next_url_path": data.get("next_url_path") or "next_url", "cursor_field": data.get("cursor_field") or "",
            "cursor_query": data.get("cursor_query") or "", "cursor_start": data.get("cursor_start") or "",
        }
        return {"config": config, "path": path, "query": dict(data.get("query") or {})}, errors

    @classmethod
    def summary(cls, incoming: Any) -> list[tuple[str, str]]:
        config = HttpSubscriberConfig.model_validate(incoming.config or {})
        rows = [("Request", f"{config.method} {config.request_path}"), ("Items", config.items),
                ("Paging", dict(PAGINATION_CHOICES)[config.paging])]
        if config.cursor_field:
            rows.append(("Incremental", f"highest {config.cursor_field} sent as {config.cursor_query}"))
        return rows

    # -- requests ----------------------------------------------------------------------------------------
    def api(self, *, interactive: bool = False) -> RestApi:
        """A worker's never waits for the client's limit (``max_wait`` 0); a person's (Fetch sample) a little."""
        client = self.incoming.http_client
        if client is None:
            raise ReadError("Choose an HTTP Client first.", permanent=True)
        if client.kind != KIND:
            raise ReadError(f"{client.name} is not a generic HTTP Client.", permanent=True)
        return RestApi(client, max_wait=10.0 if interactive else 0.0)

    def _path(self, path_params: dict[str, Any]) -> str:
        def fill(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in path_params:
                raise ReadError(f"Path parameter {name} is missing.", permanent=True)
            return str(path_params[name])

        return _PLACEHOLDER.sub(fill, self.config.request_path)

    def _first_request(self, *, cursor: dict[str, Any] | None,
                       request_hook: RequestHook | None) -> tuple[str, dict[str, Any]]:
        """(path, query) of the first page, with the incremental cursor and the request transformer applied."""
        query: dict[str, Any] = {k: v for k, v in (self.incoming.query or {}).items() if v not in (None, "")}
        path_params = dict(self.incoming.path or {})
        value = (cursor or {}).get("value") or self.config.cursor_start
        if self.incoming.incremental and self.config.cursor_query and value:
            query[self.config.cursor_query] = value
        if request_hook is not None:
            shaped = request_hook({"path": path_params, "query": query,
                                   "cursor": {"kind": "max", "value": value} if value else None})
            path_params = dict(shaped.get("path") or {})
            query = dict(shaped.get("query") or {})
        query.update(self._page_params(0, None))
        return self._path(path_params), query

    def _page_params(self, index: int, cursor_value: Any) -> dict[str, Any]:
        """The paging parameters of the ``index``-th page (0 = the first)."""
        config, params = self.config, {}
        if config.page_size and config.size_param and config.paging in ("page", "offset", "cursor", "none", "link",
                                                                         "next_url"):
            params[config.size_param] = config.page_size
        if config.paging == "page":
            params[config.page_param] = config.start_page + index
        elif config.paging == "offset":
            params[config.offset_param] = index * (config.page_size or 0)
        elif config.paging == "cursor" and cursor_value not in (None, ""):
            params[config.cursor_param] = cursor_value
        return params

    def preview(self, *, request_hook: RequestHook | None = None,
                cursors: dict[int, dict[str, Any]] | None = None) -> list[RequestSpec]:
        path, query = self._first_request(cursor=(cursors or {}).get(0), request_hook=request_hook)
        client = self.incoming.http_client
        url = RestApi(client).url_for(path, query) if client is not None and client.kind == KIND else path
        return [RequestSpec(division=None, endpoint=path, url=url, params={k: str(v) for k, v in query.items()},
                            reason=f"{self.config.method}, paging: {dict(PAGINATION_CHOICES)[self.config.paging]}")]

    def _call(self, api: RestApi, path: str, query: dict[str, Any] | None, *, interactive: bool = False) -> Answer:
        """One page. In a worker a 429, the used-up limit or an outage raises ``WaitUntil`` at once (the run
        goes back to Queued and reads this page again then: no sleep, no failure); a person's call retries once."""
        try:
            return api.call(self.config.method, path, params=query, json_body=self.config.body,
                            headers=self.config.headers, retries=1 if interactive else 0)
        except CallError as exc:
            wait = None if interactive else wait_for(exc, api.client.name)
            if wait is not None:
                raise wait from None
            raise ReadError(exc.message, permanent=exc.permanent) from None

    def _items(self, answer: Answer) -> tuple[Any, list[dict[str, Any]]]:
        try:
            body = answer.json()
        except CallError as exc:
            raise ReadError(exc.message, permanent=True) from None
        found = _compile(self.config.items, "items").search(body)
        if found is None:
            raise ReadError(f"Items {self.config.items!r} found nothing in the answer of {answer.url.split('?')[0]} "
                            f"(it has {_shape(body)}).", permanent=True)
        if isinstance(found, dict):
            found = [found]
        if not isinstance(found, list):
            raise ReadError(f"Items {self.config.items!r} is a {type(found).__name__}, not a list of items.",
                            permanent=True)
        return body, [item if isinstance(item, dict) else {"value": item} for item in found]

    def fetch_sample(self, *, limit: int = 5, request_hook: RequestHook | None = None) -> Sample:
        path, query = self._first_request(cursor=None, request_hook=request_hook)
        api = self.api(interactive=True)
        answer = self._call(api, path, query, interactive=True)
        body, items = self._items(answer)
        more = self._next(answer, body, items) is not None
        spec = RequestSpec(division=None, endpoint=path, url=answer.url, params={k: str(v) for k, v in query.items()})
        return Sample(spec=spec, entities=items[:limit], api_calls=1, has_more=more)

    # -- reading -----------------------------------------------------------------------------------------
    def identifier(self, entity: dict[str, Any]) -> str:
        return _text(_compile(self.config.id_field, "id_field").search(entity))

    def _next(self, answer: Answer, body: Any, items: list[dict[str, Any]]) -> str | None:
        """The URL of the page after ``answer``'s, or None at the end."""
        config = self.config
        if config.paging == "none" or not items:
            return None
        current = answer.url
        params = dict(parse_qsl(urlsplit(current).query, keep_blank_values=True))
        if config.paging == "page":
            if config.page_size and len(items) < config.page_size:
                return None
            page = _int(params.get(config.page_param), config.start_page)
            return _with_params(current, {config.page_param: page + 1})
        if config.paging == "offset":
            if config.page_size and len(items) < config.page_size:
                return None
            offset = _int(params.get(config.offset_param), 0)
            return _with_params(current, {config.offset_param: offset + (config.page_size or len(items))})
        if config.paging == "cursor":
            value = _compile(config.cursor_path, "cursor_path").search(body)
            return None if value in (None, "", False) else _with_params(current, {config.cursor_param: value})
        if config.paging == "next_url":
            link = _compile(config.next_url_path, "next_url_path").search(body)
            return urljoin(current, str(link)) if link else None
        link = next_link(answer.headers.get("Link") or answer.headers.get("link"))
        return urljoin(current, link) if link else None

    def read(self, division: int | None, *, resume: ResumePoint | None = None,
             cursor: dict[str, Any] | None = None, request_hook: RequestHook | None = None) -> Iterator[Page]:
        api = self.api()
        first_path, first_query = self._first_request(cursor=cursor, request_hook=request_hook)
        candidate = dict(resume.cursor) if resume and resume.cursor else (dict(cursor) if cursor else None)
        if resume and resume.next_url:
            url: str | None = resume.next_url
            number = resume.page
            logger.info("Resuming %s at page %d", first_path, number + 1)
        else:
            url, number = api.url_for(first_path, first_query), 0
            logger.info("Reading %s", url)
        max_pages = (self.incoming.page_cap or 1_000_000) if self.incoming.pagination else 1
        seen: set[str] = set()
        while url is not None and number < max_pages:
            if url in seen:
                raise ReadError(f"Paging loop: the next page is {url.split('?')[0]} again (a page already read); "
                                "the read stops here. Check the paging settings.", permanent=True)
            seen.add(url)
            answer = self._call(api, url, None)
            body, items = self._items(answer)
            number += 1
            candidate = self._advance(candidate, items)
            next_url = self._next(answer, body, items)
            if next_url is not None and next_url in seen:
                raise ReadError(f"Paging loop: page {number} points back to {next_url.split('?')[0]}, a page "
                                "already read; the read stops here. Check the paging settings.", permanent=True)
            if next_url is not None and number >= max_pages:
                next_url = None
                candidate = cursor  # a read cut short by the page cap does not move the cursor
            yield Page(division=None, number=number, entities=items, next_url=next_url, endpoint=first_path,
                       api_calls=answer.attempts, cursor=candidate if self.incoming.incremental else None)
            url = next_url

    def _advance(self, candidate: dict[str, Any] | None, items: list[dict[str, Any]]) -> dict[str, Any] | None:
        """The cursor after these items: the highest value of the cursor field (numbers compare as numbers)."""
        if not self.config.cursor_field:
            return candidate
        expression = _compile(self.config.cursor_field, "cursor_field")
        best = (candidate or {}).get("value")
        for item in items:
            value = expression.search(item)
            if value in (None, ""):
                continue
            if best in (None, "") or _greater(value, best):
                best = value
        if best in (None, ""):
            return candidate
        return {"kind": "max", "value": _text(best), "seen_keys": [], "endpoint": self.config.request_path}


def _greater(value: Any, than: Any) -> bool:
    try:
        return float(value) > float(than)
    except (TypeError, ValueError):
        return str(value) > str(than)


def _int(value: Any, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _with_params(url: str, updates: dict[str, Any]) -> str:
    parts = urlsplit(url)
    params = dict(parse_qsl(parts.query, keep_blank_values=True))
    params.update({k: str(v) for k, v in updates.items()})
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(params), parts.fragment))


def _shape(body: Any) -> str:
    if isinstance(body, dict):
        keys = ", ".join(list(body)[:8])
        return f"keys {keys}" if keys else "no keys"
    if isinstance(body, list):
        return f"a list of {len(body)}"
    return f"a {type(body).__name__}"
