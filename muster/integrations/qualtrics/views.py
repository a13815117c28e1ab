from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.dateparse import parse_datetime
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables
from django.views.decorators.http import require_POST

from muster.accounts.decorators import requires, signed_in_user
from muster.accounts.roles import Capability
from muster.crypto import Secret
from muster.integrations.qualtrics import client, connect, forms, shared
from muster.integrations.qualtrics.models import QualtricsConnection, current_connection, last_disconnected
from muster.integrations.qualtrics.scrub import scrub, shown
from muster.ratelimits import over, too_many_requests
from muster.studies.participants import is_participant_id


@requires(Capability.MANAGE_INTEGRATIONS)
def connected_apps(request: HttpRequest) -> HttpResponse:
    connection = shown(current_connection())
    context = {
        "connection": connection,
        "disconnected": shown(last_disconnected()) if connection is None else None,
        "in_progress": connect.connect_in_progress() if connection is None else None,
        "section": "settings",
    }
    return render(request, "qualtrics/connected_apps.html", context)


def _tell(request: HttpRequest, report: connect.Report, said: str = "") -> None:
    """What a multi-step operation did in Qualtrics, what it did not (but for the failure `said`
    already), and what is left there."""
    for line in report.done:
        messages.info(request, f"Done in Qualtrics: {line}")
    for line in report.not_done:
        if line != said:
            messages.error(request, f"Not done in Qualtrics: {line}")
    for line in report.by_hand:
        messages.warning(request, f"Remove in Qualtrics by hand: {line}")


@sensitive_post_parameters("brand_admin_token")
@sensitive_variables()
@requires(Capability.MANAGE_INTEGRATIONS)
def connect_view(request: HttpRequest) -> HttpResponse:
    if current_connection() is not None:
        return redirect("qualtrics_connection")
    demo = demo_values()
    initial = {k: demo[k] for k in ("base_url", "user_type")} if demo and request.GET.get("demo") else None
    form = forms.ConnectForm(request.POST or None, initial=initial)
    error = None
    report = None
    if request.method == "POST" and form.is_valid():
        token = Secret(form.cleaned_data["brand_admin_token"])
        try:
            outcome = connect.connect(
                base_url=form.cleaned_data["base_url"],
                brand_admin_token=token,
                user_type=form.cleaned_data["user_type"],
                by=signed_in_user(request),
            )
        except connect.ConnectError as e:
            error, report = scrub(str(e), token), e.report
        except client.QualtricsError as e:
            error = scrub(str(e), token)
        else:
            # Warnings are kept on the connection and shown on its page.
            messages.success(request, f"Connected to Qualtrics brand {outcome.connection.brand_id}.")
            _tell(request, outcome.report)
            return redirect("qualtrics_connection")
    return render(
        request,
        "qualtrics/connect.html",
        {
            "form": form,
            "error": error,
            "report": report,
            # The failure itself is the error above; the rest of what was not done follows it.
            "not_done": [line for line in report.not_done if line != error] if report else [],
            "in_progress": connect.connect_in_progress() if error is None else None,
            "section": "settings",
            "service_user": settings.MUSTER_QUALTRICS_SERVICE_USER,
            "webhook_url": connect.webhook_url(),
            "demo": demo,
        },
    )


def demo_values() -> dict[str, str] | None:
    """The sandbox's values for the Connect form, when `make run` wrote them (the demo only)."""
    path = settings.MUSTER_DEMO_CONNECT_FILE
    if not path:
        return None
    try:
        found = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None
    wanted = ("base_url", "brand_admin_token", "user_type")
    ok = isinstance(found, dict) and all(isinstance(found.get(k), str) for k in wanted)
    return {k: found[k] for k in wanted} if ok else None


@requires(Capability.MANAGE_INTEGRATIONS)
def connection_view(request: HttpRequest) -> HttpResponse:
    connection = shown(current_connection())
    if connection is None:
        return redirect("connected_apps")
    context = {
        "connection": connection,
        "section": "settings",
        "service_user": settings.MUSTER_QUALTRICS_SERVICE_USER,
        "webhook_url": connect.webhook_url(),
    }
    return render(request, "qualtrics/connection.html", context)


def _connection_or_redirect(request: HttpRequest) -> QualtricsConnection | None:
    connection = current_connection()
    if connection is None:
        messages.error(request, "Muster is not connected to Qualtrics.")
    return connection


@require_POST
@requires(Capability.MANAGE_INTEGRATIONS)
def test_view(request: HttpRequest) -> HttpResponse:
    connection = _connection_or_redirect(request)
    if connection is None:
        return redirect("qualtrics_connect")
    try:
        me = connect.test_connection(connection)
    except client.QualtricsError as e:
        messages.error(request, scrub(f"The connection test failed: {e}"))
    else:
        messages.success(request, f"The connection works: Muster acts as {me.user_name or me.user_id}.")
    return redirect("qualtrics_connection")


@sensitive_variables()
def _with_admin_token(request: HttpRequest, action: str) -> HttpResponse:
    connection = _connection_or_redirect(request)
    if connection is None:
        return redirect("qualtrics_connect")
    form = forms.AdminTokenForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Enter a Brand Administrator API token.")
        return redirect("qualtrics_connection")
    token = Secret(form.cleaned_data["brand_admin_token"])
    try:
        if action == "repair":
            report = connect.repair(connection, token)
            messages.success(request, "The service user has a new, working token.")
        else:
            report = connect.resubscribe(connection, token)
            messages.success(request, "Muster is subscribed to Qualtrics' response events again.")
    except connect.ConnectError as e:
        messages.error(request, str(e))
        _tell(request, e.report, said=str(e))
        return redirect("qualtrics_connection")
    except client.QualtricsError as e:
        messages.error(request, scrub(str(e), token))
        return redirect("qualtrics_connection")
    _tell(request, report)
    return redirect("qualtrics_connection")


@require_POST
@sensitive_post_parameters("brand_admin_token")
@sensitive_variables()
@requires(Capability.MANAGE_INTEGRATIONS)
def repair_view(request: HttpRequest) -> HttpResponse:
    return _with_admin_token(request, "repair")


@require_POST
@sensitive_post_parameters("brand_admin_token")
@sensitive_variables()
@requires(Capability.MANAGE_INTEGRATIONS)
def resubscribe_view(request: HttpRequest) -> HttpResponse:
    return _with_admin_token(request, "resubscribe")


@require_POST
@sensitive_post_parameters("brand_admin_token")
@sensitive_variables()
@requires(Capability.MANAGE_INTEGRATIONS)
def disconnect_view(request: HttpRequest) -> HttpResponse:
    connection = _connection_or_redirect(request)
    if connection is None:
        return redirect("connected_apps")
    form = forms.DisconnectForm(request.POST)
    form.is_valid()
    raw = form.cleaned_data.get("brand_admin_token") or ""
    try:
        report = connect.disconnect(connection, Secret(raw) if raw else None, by=signed_in_user(request))
    except (connect.ConnectError, client.QualtricsError) as e:
        # Only the first change in Qualtrics failing stops a disconnect, before anything changed.
        messages.error(request, f"{scrub(str(e), raw)} Nothing was changed in Qualtrics or in Muster.")
        return redirect("qualtrics_connection")
    messages.success(request, "Muster is disconnected from Qualtrics; its stored token and webhook key were deleted.")
    _tell(request, report)
    return redirect("connected_apps")


def _when(text: str | None) -> datetime | None:
    try:
        return parse_datetime(text or "")
    except ValueError:
        return None


@requires(Capability.USE_INTEGRATIONS)
def surveys_view(request: HttpRequest) -> HttpResponse:
    """The active surveys shared with Muster's service user: what the survey picker offers."""
    connection = shown(current_connection())
    surveys: list[client.SurveySummary] = []
    error = None
    if connection is None:
        error = "Muster is not connected to Qualtrics yet."
    elif connection.is_broken:
        error = f"The Qualtrics connection is broken: {connection.status_reason}"
    else:
        try:
            with connect.connection_account(connection) as account:
                surveys = [s for s in client.list_surveys(account) if s.is_active]
            shared.remember(connection, len(surveys))
        except client.QualtricsError as e:
            error = scrub(f"Qualtrics did not list the surveys: {e}")
    context = {
        "connection": connection,
        # Qualtrics sends ISO 8601 times; shown like every other time (one that does not parse, as sent).
        "surveys": [(s, _when(s.last_modified)) for s in surveys],
        "error": error,
        "section": "settings",
        "service_user": settings.MUSTER_QUALTRICS_SERVICE_USER,
    }
    return render(request, "qualtrics/surveys.html", context)


def survey_return(request: HttpRequest) -> HttpResponse:
    """Where every Qualtrics form's end of survey sends the participant back (DESIGN §5.4).

    It thanks them and shows nothing of their answers. Fetching the response right away, for a
    real Participant ID of a study using the survey, comes with response ingestion.
    """
    # A participant coming back is never turned away; guessing Participant IDs is slowed down.
    if not is_participant_id(request.GET.get("pid", "")):
        seconds = over(request, "qualtrics-return", "60/m")
        if seconds:
            return too_many_requests(request, seconds)
    return render(request, "qualtrics/return.html")
