"""``/me``: who the token acts as."""

# No ``from __future__ import annotations``: django-ninja reads the annotations at run time.

from typing import Any

from django.http import HttpRequest
from ninja import Router

from dashboard.access import viewer_required
from dashboard.roles import role_of

from .. import schemas
from ..models import ApiToken
from ..schemas import ERRORS

router = Router()


@router.get("/me", response={200: schemas.MeOut, **ERRORS}, tags=["account"], summary="Who the token acts as")
@viewer_required
def me(request: HttpRequest) -> dict[str, Any]:
    token: ApiToken = request.auth  # type: ignore[attr-defined]
    return {"username": token.user.get_username(), "role": role_of(token.user).label, "token_name": token.name,
            "token_expires_at": token.expires_at}
