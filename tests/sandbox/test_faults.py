"""Fault injection (run-time, per endpoint): latency, 5xx, HTML pages, drops after the write, 429 storms, 401s."""

from __future__ import annotations

import time

import pytest
import requests


@pytest.fixture
def faults(sandbox):
    yield sandbox
    sandbox.clear_faults()


def test_dropped_response_after_the_write(exact, faults) -> None:
    faults.set_faults({"path": "crm/Accounts$", "method": "POST", "drop_rate": 1, "times": 1})
    with pytest.raises(requests.ConnectionError):
        exact.post("crm/Accounts", {"Name": "Dropped but stored"})
    found = exact.get("crm/Accounts?$filter=Name eq 'Dropped but stored'&$select=ID").json()["d"]["results"]
    assert len(found) == 1  # the write happened: a blind retry would create a duplicate


def test_504_after_commit(exact, faults) -> None:
    faults.set_faults({"path": "crm/Accounts$", "method": "POST", "drop_rate": 1, "drop_mode": "504", "times": 1})
    response = exact.post("crm/Accounts", {"Name": "Gateway timeout but stored"})
    assert response.status_code == 504
    found = exact.get("crm/Accounts?$filter=Name eq 'Gateway timeout but stored'&$select=ID").json()["d"]
    assert len(found["results"]) == 1


def test_html_error_5xx_latency_storm_and_expired_token(exact, faults) -> None:
    faults.set_faults({"path": "logistics/Items", "html_rate": 1, "html_status": 503, "times": 1})
    html = exact.get("logistics/Items?$select=ID")
    assert html.status_code == 503
    assert html.headers["Content-Type"].startswith("text/html")
    assert exact.get("logistics/Items?$select=ID").status_code == 200  # "times" spent

    faults.set_faults({"path": "logistics/Items", "error_rate": 1, "error_status": 500, "times": 1})
    error = exact.get("logistics/Items?$select=ID")
    assert error.status_code == 500
    assert error.json()["error"]["message"]["value"]

    faults.set_faults({"path": "logistics/Items", "latency_ms": 300})
    started = time.perf_counter()
    assert exact.get("logistics/Items?$select=ID&$top=1").status_code == 200
    assert time.perf_counter() - started >= 0.3

    faults.set_faults({"path": "logistics/Items", "throttle_rate": 1, "times": 2})
    storm = [exact.get("logistics/Items?$select=ID&$top=1") for _ in range(3)]
    assert [r.status_code for r in storm] == [429, 429, 200]
    assert "X-RateLimit-Minutely-Reset" in storm[0].headers and "X-RateLimit-Reset" not in storm[0].headers

    faults.set_faults({"path": "current/Me", "expired_token_rate": 1, "times": 1})
    expired = exact.get(f"{exact.base}/api/v1/current/Me")
    assert expired.status_code == 401
    assert "access%20token%20expired" in expired.headers["WWW-Authenticate"]


def test_validation_as_500_in_dutch(exact, faults) -> None:
    faults.set_faults({"path": "crm/Accounts", "validation_500_rate": 1, "times": 1})
    response = exact.post("crm/Accounts", {"Name": "Refused"})
    assert response.status_code == 500
    assert response.json()["error"]["message"]["value"].startswith("Ongeldige referentie")
    assert exact.get("crm/Accounts?$filter=Name eq 'Refused'&$select=ID").json()["d"]["results"] == []


def test_fault_rules_are_validated(sandbox) -> None:
    response = requests.post(f"{sandbox.url}/sandbox/api/faults", json={"rules": [{"error_rate": 7}]},
                             headers=sandbox.control_headers, timeout=10)
    assert response.status_code == 400
