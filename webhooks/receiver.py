"""The public endpoint ``/hooks/<token>/``: no session, no CSRF; the token and the hook's validators decide."""

from __future__ import annotations

from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from .processing import accept

__all__ = ["receive"]


def _content_length(request: HttpRequest) -> int | None:
    try:
        return int(request.META.get("CONTENT_LENGTH") or "")
    except ValueError:
        return None


@login_not_required
@csrf_exempt
def receive(request: HttpRequest, token: str) -> HttpResponse:
    """Store the request and answer 202, or answer why not (404, 410, 413, 415, 401, 403)."""
    if request.method != "POST":
        response = JsonResponse({"error": "POST only"}, status=405)
        response["Allow"] = "POST"
        return response
    # Read the stream, not request.body: the hook's own limit applies, not DATA_UPLOAD_MAX_MEMORY_SIZE.
    answer = accept(token, read_body=request.read, content_length=_content_length(request),
                    headers=dict(request.headers), remote_addr=request.META.get("REMOTE_ADDR", ""))
    return JsonResponse(answer.body, status=answer.status)
