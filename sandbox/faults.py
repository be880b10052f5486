"""Fault injection, configured at run time (``POST /sandbox/api/faults``) so tests can break Exact on purpose.

A rule (all keys optional)::

    {"path": "crm/Accounts",      # RE2 regular expression searched (case-insensitively) in the request path
     "method": "POST",            # or "*" (default)
     "latency_ms": 200,           # sleep before answering
     "error_rate": 0.1, "error_status": 503,     # JSON error envelope with a 5xx
     "html_rate": 0.1, "html_status": 503,       # an HTML error page (maintenance) instead of JSON
     "drop_rate": 0.1, "drop_mode": "close",     # do the work, then close the connection ("close") or answer 504
     "throttle_rate": 0.1,                       # a 429 storm (minutely headers only)
     "expired_token_rate": 0.1,                  # 401 with WWW-Authenticate "access token expired"
     "validation_500_rate": 0.1,                 # POST/PUT refused as HTTP 500 with a Dutch validation message
     "times": 3}                                 # stop after injecting this many faults (default: unlimited)

Rates are probabilities in [0, 1]; 1 makes a fault deterministic. Paths are RE2 expressions (linear time,
no backreferences or lookaround), so a rule cannot make every request spin on a catastrophic pattern.
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import re2

from .http import Response

__all__ = ["FaultSet", "Plan", "apply_drop", "faults"]

MAX_PATTERN_LENGTH = 500
RATE_KEYS = ("error_rate", "html_rate", "drop_rate", "throttle_rate", "expired_token_rate", "validation_500_rate")
DUTCH_VALIDATION = ("Ongeldige referentie: Leveren aan\r\nOngeldige referentie: Besteld door\r\n"
                    "Ongeldige referentie: Factuur voor")
HTML_PAGE = ("<!DOCTYPE html><html><head><title>Exact Online - Onderhoud</title></head><body>"
             "<h1>Exact Online is tijdelijk niet beschikbaar</h1><p>We voeren onderhoud uit. "
             "Probeer het later opnieuw.</p></body></html>")


def compile_path_pattern(pattern: str) -> Any:
    """A case-insensitive RE2 pattern (matching time linear in the path); ``ValueError`` for one RE2 refuses."""
    if len(pattern) > MAX_PATTERN_LENGTH:
        raise ValueError(f"path patterns are limited to {MAX_PATTERN_LENGTH} characters")
    options = re2.Options()
    options.case_sensitive = False
    options.log_errors = False
    try:
        return re2.compile(pattern, options)
    except re2.error as exc:
        detail = exc.args[0] if exc.args else ""
        detail = detail.decode("utf-8", "replace") if isinstance(detail, bytes) else str(detail)
        raise ValueError(f"path {pattern!r} is not a valid RE2 expression (no backreferences or lookaround): "
                         f"{detail}") from exc


@dataclass
class Plan:
    """What to do to one request (decided before it runs; ``drop`` applies after it ran)."""

    latency: float = 0.0
    error_status: int | None = None
    html_status: int | None = None
    throttle: bool = False
    expired_token: bool = False
    validation_500: bool = False
    drop: str | None = None  # "close" or "504"

    @property
    def short_circuits(self) -> bool:
        return bool(self.error_status or self.html_status or self.throttle or self.expired_token
                    or self.validation_500)


@dataclass
class FaultSet:
    rules: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    rng: random.Random = field(default_factory=random.Random)

    def set(self, rules: list[dict[str, Any]]) -> list[dict[str, Any]]:
        cleaned = []
        for raw in rules:
            rule = dict(raw)
            rule["_re"] = compile_path_pattern(str(rule.get("path") or ".*"))
            rule.setdefault("method", "*")
            rule["injected"] = 0
            for key in RATE_KEYS:
                value = float(rule.get(key, 0) or 0)
                if not 0 <= value <= 1:
                    raise ValueError(f"{key} must be between 0 and 1")
                rule[key] = value
            cleaned.append(rule)
        with self.lock:
            self.rules = cleaned
        return self.describe()

    def clear(self) -> None:
        with self.lock:
            self.rules = []

    def describe(self) -> list[dict[str, Any]]:
        with self.lock:
            return [{k: v for k, v in r.items() if not k.startswith("_")} for r in self.rules]

    def plan(self, method: str, path: str) -> Plan:
        plan = Plan()
        with self.lock:
            for rule in self.rules:
                if rule["method"] not in {"*", method} or not rule["_re"].search(path):
                    continue
                times = rule.get("times")
                if times is not None and rule["injected"] >= int(times):
                    continue
                plan.latency += float(rule.get("latency_ms", 0) or 0) / 1000
                hit = False
                if rule["expired_token_rate"] and self.rng.random() < rule["expired_token_rate"]:
                    plan.expired_token = hit = True
                elif rule["throttle_rate"] and self.rng.random() < rule["throttle_rate"]:
                    plan.throttle = hit = True
                elif rule["html_rate"] and self.rng.random() < rule["html_rate"]:
                    plan.html_status = int(rule.get("html_status", 503))
                    hit = True
                elif rule["error_rate"] and self.rng.random() < rule["error_rate"]:
                    plan.error_status = int(rule.get("error_status", 500))
                    hit = True
                elif (rule["validation_500_rate"] and method in {"POST", "PUT"}
                      and self.rng.random() < rule["validation_500_rate"]):
                    plan.validation_500 = hit = True
                elif rule["drop_rate"] and self.rng.random() < rule["drop_rate"]:
                    plan.drop = "504" if str(rule.get("drop_mode", "close")) == "504" else "close"
                    hit = True
                if hit:
                    rule["injected"] += 1
        return plan

    @staticmethod
    def wait(plan: Plan) -> None:
        if plan.latency > 0:
            time.sleep(plan.latency)


faults = FaultSet()


def apply_drop(plan: Plan, response: Response) -> tuple[Response, str]:
    """After the work ran: answer a gateway 504 or hang up (``drop``); returns the response and a fault label."""
    if plan.drop == "504":
        return Response(504, "<html><body><h1>504 Gateway Time-out</h1></body></html>",
                        content_type="text/html"), "drop_504"
    if plan.drop == "close":
        response.drop = True
        return response, "drop_close"
    return response, ""
