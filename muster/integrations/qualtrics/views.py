from __future__ import annotations

import json
import logging
from pathlib import Path

from django.conf import settings
from django.contrib import messages
from django.core import signing
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables
from django.views.decorators.http import require_POST

from muster.accounts.decorators import requires, signed_in_user
from muster.accounts.roles import Capability
from muster.crypto import Secret
from muster.integrations.qualtrics import client, connect, forms, shared, sync
from muster.integrations.qualtrics.models import QualtricsConnection, current_connection, last_disconnected
from muster.integrations.qualtrics.scrub import scrub, shown
from muster.ratelimits import over, too_many_requests
from muster.studies.participants import is_participant_id

logger = logging.getLogger(__name__)


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
        "surveys": [(s, client.moment(s.last_modified)) for s in surveys],
        "error": error,
        "section": "settings",
        "service_user": settings.MUSTER_QUALTRICS_SERVICE_USER,
    }
    return render(request, "qualtrics/surveys.html", context)


def survey_return(request: HttpRequest) -> HttpResponse:
    """Where every Qualtrics form's end of survey sends the participant back (DESIGN §5.4).

    For a real Participant ID of a study with an attached Qualtrics form, the response `rid` is
    queued for a fetch at once (the page never waits on Qualtrics). The page thanks them, shows
    nothing of their answers, and polls a small status for a few seconds. Every pid and rid gets
    the same page: the status link it polls is signed, and says nothing about the pid either.
    """
    pid, rid = request.GET.get("pid", "")[:100], request.GET.get("rid", "")[:100]
    # A participant coming back is never turned away; guessing Participant IDs is slowed down.
    if not is_participant_id(pid):
        seconds = over(request, "qualtrics-return", "60/m")
        if seconds:
            return too_many_requests(request, seconds)
    else:
        try:
            sync.on_return(pid, rid)
        except Exception:
            # The participant is thanked whatever happens; the reconciliation brings the response in.
            logger.exception("The return redirect could not queue a fetch")
    ticket = signing.dumps({"pid": pid, "rid": rid}, salt=RETURN_SALT)
    return render(request, "qualtrics/return.html", _status(ticket, 0, arrived=False))


RETURN_SALT = "qualtrics-return-status"
RETURN_POLLS = 5  # the page polls once a second, this many times, then says the answers are on their way


def _status(ticket: str, polls: int, arrived: bool) -> dict[str, object]:
    return {"arrived": arrived, "polling": not arrived and polls < RETURN_POLLS, "ticket": ticket, "next": polls + 1}


def survey_return_status(request: HttpRequest) -> HttpResponse:
    """The return page's status fragment: whether the response is in yet (stored and attached to
    the participant, which moved their status in the same transaction)."""
    ticket = request.GET.get("t", "")
    try:
        polls = min(RETURN_POLLS, max(1, int(request.GET.get("n", "1"))))
    except ValueError:
        polls = RETURN_POLLS
    if over(request, "qualtrics-return-status", "300/m"):
        return render(request, "qualtrics/return_status.html", _status(ticket, RETURN_POLLS, arrived=False))
    try:
        signed = signing.loads(ticket, salt=RETURN_SALT, max_age=600)
        pid, rid = str(signed["pid"]), str(signed["rid"])
    except (signing.BadSignature, KeyError, TypeError):
        pid = rid = ""
    arrived = bool(pid and sync.is_response_id(rid)) and sync.arrived(pid, rid)
    return render(request, "qualtrics/return_status.html", _status(ticket, polls, arrived))
