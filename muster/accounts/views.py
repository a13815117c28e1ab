from __future__ import annotations

from uuid import UUID

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import PasswordResetForm
from django.contrib.auth.tokens import default_token_generator
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse_lazy
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django.views.decorators.http import require_POST

from muster.accounts import forms
from muster.accounts.decorators import requires, signed_in_user
from muster.accounts.models import ApiToken, User
from muster.accounts.roles import Capability, Role
from muster.ratelimits import limit

sign_in = limit("sign-in", "30/m", method="POST")(
    auth_views.LoginView.as_view(
        template_name="accounts/sign_in.html", authentication_form=forms.SignInForm, redirect_authenticated_user=True
    )
)
sign_out = auth_views.LogoutView.as_view()
password_reset = limit("password-reset", "10/h", method="POST")(
    auth_views.PasswordResetView.as_view(
        template_name="accounts/password_reset.html",
        email_template_name="accounts/password_reset_email.txt",
        subject_template_name="accounts/password_reset_subject.txt",
        success_url=reverse_lazy("password_reset_done"),
    )
)
password_reset_done = auth_views.PasswordResetDoneView.as_view(template_name="accounts/password_reset_done.html")
password_reset_confirm = auth_views.PasswordResetConfirmView.as_view(
    template_name="accounts/password_reset_confirm.html", success_url=reverse_lazy("password_reset_complete")
)
password_reset_complete = auth_views.PasswordResetCompleteView.as_view(
    template_name="accounts/password_reset_complete.html"
)


def locked_out(request: HttpRequest, original_response: HttpResponse | None, credentials: object) -> HttpResponse:
    """Axes' lockout page, with Retry-After: each attempt while locked out restarts the cool-off."""
    response = render(request, "accounts/locked_out.html", status=429)
    response["Retry-After"] = str(int(settings.AXES_COOLOFF_TIME * 3600))
    return response


def send_set_password_email(request: HttpRequest, user: User) -> None:
    context = {
        "email": user.email,
        "domain": request.get_host(),
        "uid": urlsafe_base64_encode(force_bytes(user.pk)),
        "token": default_token_generator.make_token(user),
        "protocol": "https" if request.is_secure() else "http",
    }
    PasswordResetForm().send_mail(
        "accounts/welcome_subject.txt", "accounts/welcome_email.txt", context, None, user.email
    )


@requires(Capability.MANAGE_USERS)
def users(request: HttpRequest) -> HttpResponse:
    form = forms.UserCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            user = User.objects.create_user(
                form.cleaned_data["email"], None, name=form.cleaned_data["name"], role=form.cleaned_data["role"]
            )
        # The new user sets a password through a reset link: nobody else ever knows it.
        send_set_password_email(request, user)
        messages.success(request, f"{user.email} was added and emailed a link to set a password.")
        return redirect("users")
    return render(request, "accounts/users.html", {"users": User.objects.all(), "form": form, "roles": Role.choices})


@require_POST
@requires(Capability.MANAGE_USERS)
def user_update(request: HttpRequest, code: UUID) -> HttpResponse:
    user = get_object_or_404(User, code=code)
    form = forms.UserRoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose one of the listed roles.")
        return redirect("users")
    role = form.cleaned_data["role"]
    is_active = form.cleaned_data["is_active"]
    if user == request.user and (role != Role.ADMIN or not is_active):
        messages.error(request, "You cannot remove your own Admin role or deactivate yourself.")
        return redirect("users")
    was_active, user.is_active = user.is_active, is_active
    user.role = role
    user.save()
    if was_active and not is_active:
        messages.success(request, f"{user.email} was deactivated: they can no longer sign in.")
    elif is_active and not was_active:
        messages.success(request, f"{user.email} was reactivated as {user.get_role_display()}.")
    else:
        messages.success(request, f"{user.email} is now {user.get_role_display()}.")
    return redirect("users")


@requires(Capability.OWN_API_TOKENS)
def api_tokens(request: HttpRequest) -> HttpResponse:
    form = forms.ApiTokenForm(request.POST or None)
    new_token = None
    if request.method == "POST" and form.is_valid():
        _, new_token = ApiToken.issue(signed_in_user(request), form.cleaned_data["name"])
        form = forms.ApiTokenForm()
    tokens = ApiToken.objects.filter(user=signed_in_user(request))
    return render(request, "accounts/api_tokens.html", {"tokens": tokens, "form": form, "new_token": new_token})


@require_POST
@requires(Capability.OWN_API_TOKENS)
def api_token_revoke(request: HttpRequest, code: UUID) -> HttpResponse:
    token = get_object_or_404(ApiToken, code=code, user=signed_in_user(request))
    token.delete()
    messages.success(request, f"The token “{token.name}” was revoked.")
    return redirect("api_tokens")


@login_required
def account(request: HttpRequest) -> HttpResponse:
    user = signed_in_user(request)
    form = forms.TimeZoneForm(request.POST or None, initial={"time_zone": user.time_zone})
    if request.method == "POST":
        if form.is_valid():
            user.time_zone = form.cleaned_data["time_zone"]
            user.save(update_fields=["time_zone"])
            messages.success(request, f"Times are now shown in {user.time_zone or settings.TIME_ZONE}.")
            return redirect("account")
        messages.error(request, "Choose one of the listed time zones.")
    return render(request, "accounts/account.html", {"form": form})
