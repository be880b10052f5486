"""Single sign-on: the provider's claim becomes the role (the mapping, and applying it on sign-in)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from django.test import override_settings

from dashboard.roles import Role, role_of
from dashboard.sso import apply_sso_role, claims_of, parse_role_map, role_from_claims

MAPPING = parse_role_map("dash-admins=Administrator, dash-editors=Editor,dash-viewers=Viewer")


def test_the_role_map_is_parsed_and_bad_entries_are_refused():
    assert MAPPING == {"dash-admins": "Administrator", "dash-editors": "Editor", "dash-viewers": "Viewer"}
    assert parse_role_map("") == {}
    for bad in ("dash-admins=Boss", "Administrator", "=Editor"):
        with pytest.raises(ValueError, match="DASH_OIDC_ROLE_MAP"):
            parse_role_map(bad)


@pytest.mark.parametrize(("claims", "default", "expected"), [
    ({"groups": ["staff", "dash-editors", "dash-viewers"]}, "", "Editor"),   # the highest mapped value wins
    ({"groups": ["dash-viewers", "dash-admins"]}, "", "Administrator"),
    ({"groups": "dash-viewers"}, "", "Viewer"),                             # a single string
    ({"groups": ["staff"]}, "", ""),                                        # nothing mapped: no role
    ({"groups": ["staff"]}, "Viewer", "Viewer"),                            # ... or the default
    ({}, "", ""),
    ({"groups": [1, None, "dash-editors"]}, "", "Editor"),                  # junk in the claim is ignored
])
def test_role_from_claims(claims, default, expected):
    assert role_from_claims(claims, claim="groups", mapping=MAPPING, default=default) == expected


def test_id_token_claims_count_too():
    extra = {"sub": "1", "groups": ["staff"], "id_token": {"groups": ["dash-admins"], "sub": "1"}}
    assert claims_of(extra)["groups"] == ["dash-admins"]


@pytest.mark.django_db
@override_settings(OIDC_ROLE_CLAIM="roles", OIDC_ROLE_MAP=MAPPING, OIDC_DEFAULT_ROLE="")
def test_signing_in_applies_the_role_but_never_demotes_the_last_administrator(editor_user, admin_user):
    def login(claims):
        return SimpleNamespace(account=SimpleNamespace(extra_data={"id_token": claims}, provider="sso"))

    assert apply_sso_role(editor_user, login({"roles": ["dash-viewers"]}), None) == "Viewer"
    assert role_of(type(editor_user).objects.get(pk=editor_user.pk)) == Role.VIEWER
    apply_sso_role(admin_user, login({"roles": ["dash-viewers"]}), None)  # alice is the only Administrator
    assert role_of(type(admin_user).objects.get(pk=admin_user.pk)) == Role.ADMINISTRATOR
