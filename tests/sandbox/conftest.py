"""A connected API session on the session sandbox, the way a client of Exact's REST API would hold one."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
import requests


@dataclass
class Exact:
    """A granted app on a sandbox plus a requests session with its bearer token."""

    base: str
    app: dict[str, Any]
    token: dict[str, Any]
    session: requests.Session
    division: int
    control_headers: dict[str, str]

    def url(self, path: str, division: int | None = None) -> str:
        return f"{self.base}/api/v1/{division or self.division}/{path}"

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.session.get(path if path.startswith("http") else self.url(path), timeout=30, **kwargs)

    def post(self, path: str, payload: Any, **kwargs: Any) -> requests.Response:
        return self.session.post(self.url(path), json=payload, timeout=30, **kwargs)

    def put(self, path: str, payload: Any) -> requests.Response:
        return self.session.put(self.url(path), json=payload, timeout=30)

    def delete(self, path: str) -> requests.Response:
        return self.session.delete(self.url(path), timeout=30)

    def all_pages(self, path: str) -> tuple[list[dict[str, Any]], int]:
        """Follow ``__next`` verbatim until it is absent; return the rows and the number of pages."""
        rows: list[dict[str, Any]] = []
        url: str | None = self.url(path)
        pages = 0
        while url:
            response = self.get(url)
            assert response.status_code == 200, response.text
            body = response.json()["d"]
            rows.extend(body["results"])
            url = body.get("__next")
            pages += 1
        return rows, pages


def connect(box: Any, name: str) -> Exact:
    app, token = box.connect(name, "http://localhost/callback")
    session = requests.Session()
    session.headers.update({"Authorization": f"Bearer {token['access_token']}", "Accept": "application/json"})
    return Exact(box.url, app, token, session, box.divisions[0], box.control_headers)


@pytest.fixture
def exact(sandbox) -> Exact:
    """A fresh app granted on the shared sandbox (its own rate-limit bucket)."""
    return connect(sandbox, "tests")
