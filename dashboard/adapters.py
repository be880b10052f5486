from typing import Any

from allauth.account.adapter import DefaultAccountAdapter
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from django.http import HttpRequest


class NoSignupAccountAdapter(DefaultAccountAdapter):
    """Accounts are created by administrators, never by self sign-up."""

    def is_open_for_signup(self, request: HttpRequest) -> bool:
        return False


class SsoAdapter(DefaultSocialAccountAdapter):
    """Users may be created through the single sign-on provider (and only through it: dashboard/sso.py)."""

    def is_open_for_signup(self, request: HttpRequest, sociallogin: Any) -> bool:
        return True
