"""Views of the Clients menu: HTTP clients (CRUD, grant, test, revoke) and the auth/request logs."""

from __future__ import annotations

from .clients import (
    client_create,
    client_delete,
    client_detail,
    client_duplicate,
    client_edit,
    client_list,
    client_revoke,
    client_set_division,
    client_test_connection,
)
from .grant import client_grant, oauth_callback
from .logs import auth_log, auth_log_detail, request_log, request_log_detail

__all__ = [
    "auth_log",
    "auth_log_detail",
    "client_create",
    "client_delete",
    "client_detail",
    "client_duplicate",
    "client_edit",
    "client_grant",
    "client_list",
    "client_revoke",
    "client_set_division",
    "client_test_connection",
    "oauth_callback",
    "request_log",
    "request_log_detail",
]
