from __future__ import annotations

import zoneinfo
from typing import Any

from django import forms
from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm

from muster.accounts.models import User, normalise_email
from muster.accounts.roles import Role


class SignInForm(AuthenticationForm):
    username = forms.EmailField(
        label="Email", widget=forms.EmailInput(attrs={"autofocus": True, "autocomplete": "email"})
    )

    def clean_username(self) -> str:
        return normalise_email(self.cleaned_data["username"])

    def clean(self) -> dict[str, Any]:
        try:
            return super().clean()
        except forms.ValidationError:
            # The backend refuses a deactivated user like a wrong password. Someone who proves the
            # password is told why instead; nobody else learns that the account exists.
            user = User.objects.filter(email=self.cleaned_data.get("username", "")).first()
            if user is not None and not user.is_active and user.check_password(self.cleaned_data.get("password")):
                raise forms.ValidationError(
                    "Your account is deactivated: ask an Admin of your Muster to reactivate it.", code="inactive"
                ) from None
            raise


class UserCreateForm(forms.Form):
    email = forms.EmailField()
    name = forms.CharField(max_length=200, required=False)
    role = forms.ChoiceField(choices=Role.choices, initial=Role.RESEARCHER)

    def clean_email(self) -> str:
        email = normalise_email(self.cleaned_data["email"])
        if User.objects.filter(email=email).exists():
            raise forms.ValidationError("A user with this email already exists.")
        return email


class UserRoleForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices)
    is_active = forms.BooleanField(required=False, label="Active (may sign in)")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)


def time_zone_choices() -> list[tuple[str, str]]:
    zones = sorted(z for z in zoneinfo.available_timezones() if "/" in z and not z.startswith(("Etc/", "SystemV/")))
    return [("", f"The installation's ({settings.TIME_ZONE})"), *((z, z.replace("_", " ")) for z in zones)]


class TimeZoneForm(forms.Form):
    time_zone = forms.ChoiceField(choices=time_zone_choices, required=False, label="Show times in")


class ApiTokenForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="What will use it, e.g. “Nightly export script”.")
