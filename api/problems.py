"""Errors of the REST API as problem details (RFC 9457, ``application/problem+json``).

One answer shape for every failure: a missing or dead token (401), a role too low (403), an object that is
not there (404), a run already going (409), invalid input (422, with the form's messages per field), the
rate limit (429, with ``Retry-After``). Messages never carry secrets: they are the forms' own texts.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, Throttled
from ninja.errors import ValidationError as SchemaValidationError

__all__ = ["PROBLEM_CONTENT_TYPE", "ApiProblem", "install_handlers", "problem"]

logger = logging.getLogger(__name__)

PROBLEM_CONTENT_TYPE = "application/problem+json"


class ApiProblem(Exception):
    """Raised by an endpoint to answer with a problem: ``status``, a ``detail`` and optional ``errors``."""

    def __init__(self, status: int, detail: str, *, errors: dict[str, list[str]] | None = None) -> None:
        super().__init__(detail)
        self.status, self.detail, self.errors = status, detail, errors


def problem(request: HttpRequest, status: int, detail: str, **extra: Any) -> HttpResponse:
    body = {"type": "about:blank", "title": HTTPStatus(status).phrase, "status": status, "detail": detail,
            "instance": request.path, **extra}
    return JsonResponse(body, status=status, content_type=PROBLEM_CONTENT_TYPE,
                        json_dumps_params={"ensure_ascii": False})


def _schema_errors(exc: SchemaValidationError) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    for error in exc.errors:
        location = [str(part) for part in error.get("loc", ()) if part not in ("body", "query", "path", "payload")]
        errors.setdefault(".".join(location) or "__all__", []).append(str(error.get("msg", "invalid")))
    return errors


def install_handlers(api: NinjaAPI) -> None:
    """Route every error the API can raise to one problem answer (each handler gets the exception class it is
    registered for; ``Any`` because ninja's stub types the argument as an instance or a class)."""

    def on_problem(request: HttpRequest, exc: Any) -> HttpResponse:
        extra = {"errors": exc.errors} if exc.errors is not None else {}
        return problem(request, exc.status, exc.detail, **extra)

    def on_auth(request: HttpRequest, exc: Any) -> HttpResponse:
        response = problem(request, 401, "Give a valid API token: Authorization: Bearer <token>. Revoked and "
                                         "expired tokens are refused.")
        response["WWW-Authenticate"] = 'Bearer realm="api"'
        return response

    def on_denied(request: HttpRequest, exc: Any) -> HttpResponse:
        return problem(request, 403, str(exc) or "Your role does not allow this.")

    def on_missing(request: HttpRequest, exc: Any) -> HttpResponse:
        return problem(request, 404, str(exc) or "Not found.")

    def on_invalid(request: HttpRequest, exc: Any) -> HttpResponse:
        return problem(request, 422, "The request is not valid.", errors=_schema_errors(exc))

    def on_throttled(request: HttpRequest, exc: Any) -> HttpResponse:
        response = problem(request, 429, "Too many requests for this token; slow down.")
        if exc.wait:
            response["Retry-After"] = str(max(1, round(exc.wait)))
        return response

    def on_http(request: HttpRequest, exc: Any) -> HttpResponse:
        return problem(request, exc.status_code, str(exc))

    def on_error(request: HttpRequest, exc: Any) -> HttpResponse:
        logger.exception("API error on %s %s", request.method, request.path)
        return problem(request, 500, "The server could not answer this request; the error is logged.")

    api.add_exception_handler(ApiProblem, on_problem)
    api.add_exception_handler(AuthenticationError, on_auth)
    api.add_exception_handler(PermissionDenied, on_denied)
    api.add_exception_handler(Http404, on_missing)
    api.add_exception_handler(SchemaValidationError, on_invalid)
    api.add_exception_handler(Throttled, on_throttled)
    api.add_exception_handler(HttpError, on_http)
    api.add_exception_handler(Exception, on_error)
