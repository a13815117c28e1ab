from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render


@login_required
def index(request: HttpRequest) -> HttpResponse:
    return redirect("people")


@login_required
def settings_index(request: HttpRequest) -> HttpResponse:
    return render(request, "front/settings.html", {"section": "settings"})


def server_error(request: HttpRequest) -> HttpResponse:
    # No request data in the page: a 500 must not echo what was posted.
    return render(request, "500.html", status=500)


def admin_sign_in(request: HttpRequest, extra_context: object = None) -> HttpResponse:
    """Django admin is for Admins: others are sent to sign in, or refused when signed in."""
    if request.user.is_authenticated:
        raise PermissionDenied("Django admin is for Admins only.")
    return redirect_to_login(request.get_full_path())
