"""What an HTTP Client stores: the typed config (``RestClientConfig``) and the secret fields, apart."""

from __future__ import annotations

from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from configuration.variables import has_reference

__all__ = ["AUTH_CHOICES", "SECRET_FIELDS", "RestClientConfig", "normalise_base_url"]

AUTH_CHOICES = [
    ("none", "None"),
    ("basic", "Basic (username and password)"),
    ("bearer", "Bearer token"),
    ("api_key", "API key (header or query parameter)"),
    ("oauth2_client_credentials", "OAuth 2 client credentials"),
    ("oauth2_authorization_code", "OAuth 2 authorization code (Grant access)"),
]
SECRET_FIELDS = ("password", "token", "api_key", "client_secret")
OAUTH = ("oauth2_client_credentials", "oauth2_authorization_code")


def normalise_base_url(value: str) -> str:
    """``scheme://host[:port][/path]`` without a trailing slash; ValueError with a reason otherwise.

    A value with a ``${NAME}`` variable is kept as written: its value is checked where it is resolved."""
    text = (value or "").strip().rstrip("/")
    if has_reference(text):
        return text
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("Enter a full URL such as https://api.example.com/v1.")
    if parts.query or parts.fragment or parts.username or parts.password:
        raise ValueError("The Base URI is a bare address: no query, fragment or credentials.")
    return text


def _absolute(value: str, name: str) -> str:
    text = (value or "").strip()
    if has_reference(text):
        return text
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"The {name} must be a full URL (https://…).")
    return text


class RestClientConfig(BaseModel):
    """The plain (non-secret) settings of a generic HTTP Client."""

    model_config = ConfigDict(extra="forbid")

    base_url: str
    headers: dict[str, str] = Field(default_factory=dict)
    timeout: float = Field(default=30.0, gt=0, le=300)
    verify_tls: bool = True
    rate_limit: int | None = Field(default=None, ge=1, le=100_000, description="Requests per minute, all workers")
    test_path: str = ""
    auth: Literal["none", "basic", "bearer", "api_key", "oauth2_client_credentials",
                  "oauth2_authorization_code"] = "none"
    username: str = ""
    api_key_name: str = ""
    api_key_in: Literal["header", "query"] = "header"
    authorize_url: str = ""
    token_url: str = ""
    client_id: str = ""
    scopes: str = ""
    pkce: bool = True

    @field_validator("base_url")
    @classmethod
    def _base(cls, value: str) -> str:
        return normalise_base_url(value)

    @model_validator(mode="after")
    def _auth_fields(self) -> RestClientConfig:
        if self.auth == "basic" and not self.username:
            raise ValueError("Basic authentication needs a username.")
        if self.auth == "api_key" and not self.api_key_name:
            raise ValueError("Name the header or query parameter that carries the API key.")
        if self.auth in OAUTH:
            self.token_url = _absolute(self.token_url, "token URL")
            if not self.client_id:
                raise ValueError("OAuth 2 needs a Client ID.")
        if self.auth == "oauth2_authorization_code":
            self.authorize_url = _absolute(self.authorize_url, "authorize URL")
        return self
