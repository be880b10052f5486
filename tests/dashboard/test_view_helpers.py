"""Views load their object through the one access-scoped getter and ask "is this htmx?" one way."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.test import RequestFactory

from connections.models import Storage
from dashboard.access import get_for_user
from lib.htmx import is_htmx

ROOT = Path(__file__).resolve().parents[2]
VIEW_FILES = [*ROOT.glob("*/views.py"), *ROOT.glob("*/views/*.py")]


def _request(user, **headers):
    request = RequestFactory().get("/", headers=headers)
    request.user = user
    return request


def test_the_getter_answers_404_for_a_missing_object_and_403_to_a_viewer_who_would_write(viewer_user, editor_user):
    storage = Storage.objects.create(name="seen")
    assert get_for_user(_request(viewer_user), Storage, storage.pk) == storage
    assert get_for_user(_request(editor_user), Storage.objects.all(), str(storage.pk), write=True) == storage
    with pytest.raises(PermissionDenied):
        get_for_user(_request(viewer_user), Storage, storage.pk, write=True)
    for missing in (storage.pk + 1, "x", None):
        with pytest.raises(Http404):
            get_for_user(_request(editor_user), Storage, missing)


def test_htmx_is_a_fragment_request_unless_boosted(viewer_user):
    assert not is_htmx(_request(viewer_user))
    assert is_htmx(_request(viewer_user, HX_Request="true"))
    assert not is_htmx(_request(viewer_user, HX_Request="true", HX_Boosted="true"))


@pytest.mark.parametrize("path", VIEW_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_views_use_the_one_getter_and_the_one_htmx_check(path):
    assert VIEW_FILES
    tree = ast.parse(path.read_text())
    names = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
    attributes = {node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute)}
    strings = {node.value for node in ast.walk(tree) if isinstance(node, ast.Constant) and isinstance(node.value, str)}
    assert "get_object_or_404" not in names, "load objects with dashboard.access.get_for_user"
    assert "htmx" not in attributes and "HX-Request" not in strings, "ask lib.htmx.is_htmx"
