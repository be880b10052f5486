from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.auth.password_validation import validate_password

from .roles import ROLE_GROUPS

ROLE_CHOICES = [(name, name) for name in reversed(list(ROLE_GROUPS.values()))]


class UserRoleForm(forms.Form):
    role = forms.ChoiceField(choices=ROLE_CHOICES)


class UserCreateForm(forms.Form):
    username = forms.CharField(max_length=150)
    email = forms.EmailField(required=False)
    password = forms.CharField(widget=forms.PasswordInput, help_text="At least 8 characters, not a common one.")
    role = forms.ChoiceField(choices=ROLE_CHOICES, initial="Viewer")

    def clean_username(self) -> str:
        username = self.cleaned_data["username"]
        if get_user_model().objects.filter(username__iexact=username).exists():
            raise forms.ValidationError("A user with that username already exists.")
        return username

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("password"):
            try:
                validate_password(data["password"])
            except forms.ValidationError as exc:
                self.add_error("password", exc)
        return data

    def save(self) -> Any:
        data = self.cleaned_data
        user = get_user_model().objects.create_user(data["username"], data.get("email") or "", data["password"])
        user.groups.add(Group.objects.get(name=data["role"]))
        return user
