"""Access logs without OAuth codes or tokens (issue 10, item 13).

The OAuth callback arrives as ``/clients/oauth/callback/?code=…&state=…``: a web server's access log would
keep the authorization code (and the state) in plain text. Both servers redact them from every log line:
runserver logs through ``django.server`` (the ``RedactQuerySecrets`` filter in ``LOGGING``), gunicorn through
``--logger-class config.access_log.GunicornLogger`` (request line, query string, referrer, headers).
"""

from __future__ import annotations

import logging
import re
from typing import Any

from gunicorn.glogging import Logger

__all__ = ["GunicornLogger", "RedactQuerySecrets", "redact_query"]

REDACTED = "[redacted]"
SENSITIVE_PARAMETERS = ("code", "state", "access_token", "refresh_token", "id_token", "client_secret", "token",
                        "password", "api_key", "session_state")
_PARAMETER = re.compile(r"(?i)(^|[?&;])(" + "|".join(SENSITIVE_PARAMETERS) + r")=[^&;\s\"']*")


def redact_query(text: str) -> str:
    """``GET /cb/?code=abc&state=x HTTP/1.1`` -> ``GET /cb/?code=[redacted]&state=[redacted] HTTP/1.1``."""
    return _PARAMETER.sub(rf"\1\2={REDACTED}", text)


def _redacted(value: Any) -> Any:
    return redact_query(value) if isinstance(value, str) else value


class RedactQuerySecrets(logging.Filter):
    """A logging filter that redacts sensitive query parameters in a record's message and arguments."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = _redacted(record.msg)
        if isinstance(record.args, dict):
            record.args = {key: _redacted(value) for key, value in record.args.items()}
        elif isinstance(record.args, tuple):
            record.args = tuple(_redacted(value) for value in record.args)
        return True


class GunicornLogger(Logger):
    """gunicorn's logger with every access-log atom redacted the same way."""

    def atoms(self, resp: Any, req: Any, environ: dict[str, Any], request_time: Any) -> dict[str, Any]:
        return {key: _redacted(value) for key, value in super().atoms(resp, req, environ, request_time).items()}
