"""Provisioning: connect, repair, re-subscribe and disconnect (DESIGN §1 step 1, REFERENCE §3, §8).

A brand administrator's token lives only inside one of these calls: it is never stored, logged,
put in a task or echoed back. If a step fails, what was created is removed again and nothing is
stored; the error names the step and carries Qualtrics' message. Every operation returns (or its
error carries) a Report: what it did in Qualtrics, what it did not, what is left to remove by
hand; what Muster stores always matches what Qualtrics holds. Qualtrics' words pass through
`scrub` before they are stored, shown or logged.

One connect runs at a time: it holds the ConnectClaim row (claimed by conditional UPDATE,
renewed before every step, lapsing by itself), so a second one is refused before it calls
Qualtrics: two would each issue the service user a token, and the second would stop the first's.

A disconnect keeps the connection's row (status disconnected, token and key wiped) so that what
points at it keeps its history; a later connect makes a new row. Everything this installation
creates in Qualtrics carries its instance id: the service user's name and the webhook URL's
`muster_instance` parameter, so a reconnect recognises its own leftovers and never another
installation's on the same brand.
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import secrets
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from urllib.parse import parse_qs, urlencode, urlsplit

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.urls import reverse
from django.utils.timezone import now
from django.views.decorators.debug import sensitive_variables

from muster.accounts.models import User
from muster.crypto import Secret
from muster.integrations.qualtrics import client
from muster.integrations.qualtrics.budget import spender
from muster.integrations.qualtrics.models import (
    ConnectClaim,
    ConnectionStatus,
    QualtricsConnection,
    current_connection,
)
from muster.integrations.qualtrics.scrub import scrub
from muster.scheduling import leases

logger = logging.getLogger(__name__)

BRAND_ADMIN = "UT_BRANDADMIN"
TOPICS = "surveyengine.completedResponse.*,surveyengine.partialResponse.*"
INSTANCE_PARAMETER = "muster_instance"


CLAIM_NAME = "connect"
# How long a connect may go between two steps before another may take over; every step renews it.
# One step with its retries takes at most about two minutes (client.request).
CLAIM_SECONDS = 300
CLAIM = timedelta(seconds=CLAIM_SECONDS)


@dataclass
class Report:
    """What a multi-step operation did in Qualtrics, what it did not, and what is left there to
    remove by hand. Every line is scrubbed of the secrets in flight (and those Muster holds)."""

    done: list[str] = field(default_factory=list)
    not_done: list[str] = field(default_factory=list)
    by_hand: list[str] = field(default_factory=list)
    secrets: list[Secret] = field(default_factory=list, repr=False)

    def did(self, line: str) -> None:
        self.done.append(scrub(line, *self.secrets))

    def failed(self, line: str) -> str:
        line = scrub(line, *self.secrets)
        self.not_done.append(line)
        return line

    def left(self, line: str) -> None:
        self.by_hand.append(scrub(line, *self.secrets))

    def summary(self) -> str:
        parts = []
        if self.done:
            parts.append("Done in Qualtrics: " + " ".join(self.done))
        if self.not_done:
            parts.append("Not done: " + " ".join(self.not_done))
        if self.by_hand:
            parts.append("Still in Qualtrics, to remove by hand: " + " ".join(self.by_hand))
        return " ".join(parts)


class ConnectError(Exception):
    """A step failed; `report` says what the operation had done in Qualtrics until then."""

    def __init__(self, step: str, error: Exception, report: Report | None = None) -> None:
        self.report = report if report is not None else Report()
        detail = str(error) if isinstance(error, client.QualtricsError) else "an unexpected error"
        self.message = scrub(f"{step} failed: {detail}", *self.report.secrets)
        super().__init__(self.message)
        self.step = step
        self.error = error

    def __str__(self) -> str:
        return self.message


class ConnectInProgress(ConnectError):
    """Another connect holds the claim: nothing was asked of Qualtrics."""

    def __init__(self, claim: ConnectClaim) -> None:
        by = claim.started_by.display_name if claim.started_by else "someone"
        started = f"{claim.started_at:%H:%M:%S} UTC" if claim.started_at else "a moment ago"
        lapses = f"{claim.lease_expires:%H:%M:%S} UTC" if claim.lease_expires else "a few minutes"
        error = client.QualtricsError(
            f"Another connect to Qualtrics is in progress (started by {by} at {started}). Wait for it to finish; "
            f"if it stopped half-way, a new connect can start after {lapses}. Nothing was asked of Qualtrics."
        )
        super().__init__("Connecting", error)
        self.message = error.message


@dataclass
class Outcome:
    connection: QualtricsConnection
    warnings: list[str] = field(default_factory=list)
    report: Report = field(default_factory=Report)


def instance_id() -> str:
    """Stable for one Muster installation (all its machines share the secret key), different
    between staging and production, so their service users never collide.

    Derived rather than stored in the database on purpose: a staging copy restored from
    production's database keeps its own secret key, so it never takes production's service user
    or removes production's subscriptions."""
    return hashlib.sha256(f"muster-instance:{settings.SECRET_KEY}".encode()).hexdigest()[:10]


def service_username(brand_id: str) -> str:
    # Qualtrics usernames are brand-wide; "name#brand" is the convention Qualtrics itself uses.
    return f"muster-uxr-{instance_id()}#{brand_id}"


def webhook_url() -> str:
    """Where Qualtrics posts events; the query names this installation, so a reconnect can tell
    its own subscriptions from another installation's that post to the same address."""
    query = urlencode({INSTANCE_PARAMETER: instance_id()})
    return f"{settings.MUSTER_PUBLIC_URL}{reverse('qualtrics_webhook')}?{query}"


def is_ours(subscription: client.EventSubscription) -> bool:
    """A subscription this installation created: its URL carries our instance id (an exact
    query parameter, not a substring, and never the address alone)."""
    query = parse_qs(urlsplit(subscription.publication_url or "").query)
    return query.get(INSTANCE_PARAMETER) == [instance_id()]


def public_url_warning() -> str | None:
    host = urlsplit(settings.MUSTER_PUBLIC_URL).hostname or ""
    private = host in ("localhost",) or host.endswith((".local", ".internal", ".localhost"))
    try:
        address = ipaddress.ip_address(host)
        private = private or address.is_private or address.is_loopback or address.is_link_local
    except ValueError:
        pass
    if private:
        return (
            f"MUSTER_PUBLIC_URL is {settings.MUSTER_PUBLIC_URL}, which Qualtrics cannot reach from the internet. "
            "Unless Qualtrics runs on this network (as the local sandbox does), its webhooks will not arrive and "
            "responses come in by polling only."
        )
    return None


def account_for(base_url: str, token: Secret, budget_key: str | None = None) -> client.Account:
    return client.Account(base_url=base_url, token=token, budget=spender(budget_key) if budget_key else None)


def budget_key(connection: QualtricsConnection) -> str:
    """The key of the connection's call budget (budget.py), shared by every process."""
    return f"qualtrics:{connection.pk}"


def connection_account(connection: QualtricsConnection) -> client.Account:
    """The service user's account; one HTTP client for all its calls (`with` closes it)."""
    account = account_for(connection.base_url, connection.token, budget_key(connection))
    account.on_invalid_token = lambda e: mark_broken(connection, f"The service user's token stopped working: {e}")
    return account


def claim(by: User | None) -> str:
    """Claims the right to connect by conditional UPDATE: only WHERE no other connect holds it,
    or its claim lapsed. Returns the holder id; raises ConnectInProgress when another holds it."""
    ConnectClaim.objects.get_or_create(name=CLAIM_NAME)
    holder = uuid.uuid4().hex
    the_claim = ConnectClaim.objects.filter(name=CLAIM_NAME)
    if not leases.take(the_claim, holder, CLAIM, started_at=now(), started_by=by):
        raise ConnectInProgress(the_claim.select_related("started_by").get())
    return holder


def renew(holder: str) -> None:
    """Pushes the claim's lapse forward; a connect that lost its claim (it stalled past the lapse
    and another one started) stops before its next step."""
    try:
        leases.renew(ConnectClaim.objects.filter(name=CLAIM_NAME), holder, CLAIM)
    except leases.LeaseLost:
        raise client.QualtricsError(
            f"This connect stalled for more than {CLAIM_SECONDS // 60} minutes and another one took over."
        ) from None


def release(holder: str) -> None:
    leases.release(ConnectClaim.objects.filter(name=CLAIM_NAME), holder)


def connect_in_progress() -> ConnectClaim | None:
    """The claim of a connect running now, if any (for the page to say so before anyone tries)."""
    live = ConnectClaim.objects.filter(name=CLAIM_NAME, lease_expires__gt=now()).select_related("started_by")
    return live.first()


@contextmanager
def _step(name: str, report: Report, holder: str | None = None) -> Iterator[None]:
    """Turns any failure inside into a ConnectError naming this step, recorded as not done."""
    try:
        if holder:
            renew(holder)
        yield
    except ConnectError:
        raise
    except Exception as e:
        if not isinstance(e, client.QualtricsError):
            logger.error("Qualtrics: %s failed with %s", name, type(e).__name__)
        error = ConnectError(name, e, report)
        report.failed(error.message)
        raise error from None


@sensitive_variables()
def pin_base_url(base_url: str, admin: client.Account) -> tuple[str, client.WhoAmI]:
    """Checks the token with whoami and pins the datacenter host Qualtrics names, if allowed."""
    if not client.host_allowed(base_url):
        raise client.HostNotAllowed(f"{urlsplit(base_url).netloc} is not in MUSTER_QUALTRICS_ALLOWED_HOSTS.")
    me = client.whoami(admin)
    host = client.notice_host(admin)
    if host:
        scheme = urlsplit(base_url).scheme
        pinned = f"{scheme}://{host}"
        if client.host_allowed(pinned):
            base_url = pinned
        else:
            logger.warning("Qualtrics named host %s, which is not allowed; staying on %s", host, base_url)
    return base_url, me


@sensitive_variables()
def connect(
    *,
    base_url: str,
    brand_admin_token: Secret,
    user_type: str,
    by: User | None,
    service_email: str = "",
) -> Outcome:
    """Provisions Muster in Qualtrics; one connect at a time (ConnectInProgress for a second)."""
    if current_connection() is not None:
        raise ConnectError("Checking for an existing connection", client.QualtricsError("Muster is connected already."))
    holder = claim(by)
    try:
        # Checked again under the claim: a connect that finished meanwhile released it.
        if current_connection() is not None:
            raise ConnectError(
                "Checking for an existing connection", client.QualtricsError("Muster is connected already.")
            )
        with account_for(client.base_url_for(base_url), brand_admin_token) as admin:
            report = Report(secrets=[brand_admin_token])
            return _connect(admin, report, holder, user_type=user_type, by=by, service_email=service_email)
    finally:
        release(holder)


@dataclass
class _Made:
    """What this connect changed in Qualtrics so far, for the undo."""

    user_id: str = ""
    username: str = ""
    created_user: bool = False
    # An adopted user that was disabled before this connect enabled it.
    reenabled_user: bool = False
    subscription_id: str = ""


@sensitive_variables()
def _connect(
    admin: client.Account, report: Report, holder: str, *, user_type: str, by: User | None, service_email: str
) -> Outcome:
    warnings: list[str] = []
    made = _Made()
    try:
        with _step("Checking the brand administrator token (whoami)", report, holder):
            base, me = pin_base_url(admin.base_url, admin)
            admin.base_url = base
        if me.account_type and me.account_type != BRAND_ADMIN:
            warnings.append(
                f"This token belongs to {me.user_name or me.user_id}, whose account type is {me.account_type}, "
                "not a Brand Administrator: the next steps need one."
            )
        username = service_username(me.brand_id)
        made.username = username
        first, _, last = settings.MUSTER_QUALTRICS_SERVICE_USER.partition(" ")
        with _step("Looking for an earlier service user", report, holder):
            existing = next((u for u in client.list_users(admin) if u.username == username), None)
        password = Secret(secrets.token_urlsafe(24))
        if existing is None:
            with _step(f"Creating the service user “{settings.MUSTER_QUALTRICS_SERVICE_USER}”", report, holder):
                user_id = client.create_user(
                    admin,
                    username=username,
                    password=password,
                    first_name=first,
                    last_name=last or first,
                    user_type=user_type,
                    email=service_email or settings.DEFAULT_FROM_EMAIL,
                )
            made.user_id, made.created_user = user_id, True
            report.did(f"Created the Qualtrics user {username} ({user_id}).")
        else:
            user_id = existing.id
            made.user_id = user_id
            with _step("Adopting the service user this Muster created before", report, holder):
                # A fresh random password nobody knows; the account is enabled again if it was disabled.
                client.update_user(
                    admin, user_id, {"status": "Enabled", "password": password.value, "userType": user_type}
                )
            made.reenabled_user = (existing.account_status or "").lower() == "disabled"
            report.did(
                f"Adopted the Qualtrics user {username} ({user_id}) this Muster created before: enabled, "
                f"with a new random password and user type {user_type}."
            )
        with _step("Creating the service user's API token", report, holder):
            service_token = client.create_api_token(admin, user_id)
        report.secrets.append(service_token)
        report.did("Created the service user's API token (Qualtrics stopped any earlier one).")
        with (
            _step("Checking the service user's API token", report, holder),
            account_for(admin.base_url, service_token) as service,
        ):
            client.whoami(service)
        with _step("Removing this Muster's earlier event subscriptions", report, holder):
            warnings += remove_stale_subscriptions(admin, report)
        shared_key = Secret(secrets.token_hex(32))
        report.secrets.append(shared_key)
        status = ConnectionStatus.CONNECTED
        reason = ""
        with _step("Creating the event subscription", report, holder):
            try:
                made.subscription_id = client.create_subscription(
                    admin, topics=TOPICS, publication_url=webhook_url(), shared_key=shared_key
                )
            except client.QualtricsError as e:
                # Not fatal: responses still come in by polling.
                status = ConnectionStatus.POLLING_ONLY
                reason = report.failed(
                    f"Qualtrics refused the event subscription: {e}. Responses come in by polling only."
                )
                shared_key = Secret("")
            else:
                report.did(f"Created the event subscription {made.subscription_id}.")
        warning = public_url_warning()
        if warning:
            warnings.append(warning)
        with _step("Saving the connection", report, holder), transaction.atomic():
            connection = QualtricsConnection(
                base_url=admin.base_url,
                brand_id=me.brand_id,
                datacenter=me.datacenter or "",
                service_user_id=user_id,
                service_username=username,
                subscription_id=made.subscription_id,
                status=status,
                status_reason=reason,
                warnings=[scrub(w, *report.secrets) for w in warnings],
                connected_by=by,
            )
            connection.token = service_token
            connection.shared_key = shared_key
            try:
                with transaction.atomic():
                    connection.save()
            except IntegrityError:
                # The one-live-connection constraint: someone else connected meanwhile.
                raise client.QualtricsError("Muster was connected by someone else meanwhile.") from None
            repoint_forms(connection)
    except ConnectError:
        _undo(admin, made, report)
        raise
    return Outcome(connection, connection.warnings, report)


@sensitive_variables()
def remove_stale_subscriptions(admin: client.Account, report: Report | None = None) -> list[str]:
    """Removes this installation's event subscriptions on the brand (left by a disconnect without a
    brand-admin token, or by a database that was reset), so a reconnect leaves exactly one.
    Another installation's subscriptions are never touched. Returns warnings for what it could
    not remove: a leftover subscription is noise (its events fail the HMAC check), not harm."""
    report = report if report is not None else Report()
    try:
        ours = [s for s in client.list_subscriptions(admin) if is_ours(s)]
    except client.QualtricsError as e:
        return [
            report.failed(f"Could not list the brand's event subscriptions to remove this Muster's earlier ones: {e}")
        ]
    warnings = []
    removed = []
    for subscription in ours:
        try:
            client.delete_subscription(admin, subscription.id)
        except client.QualtricsNotFound:
            pass
        except client.QualtricsError as e:
            warnings.append(
                report.failed(f"Could not remove this Muster's earlier event subscription {subscription.id}: {e}")
            )
            report.left(subscription_by_hand(subscription.id))
            continue
        removed.append(subscription.id)
        report.did(f"Removed this Muster's earlier event subscription {subscription.id}.")
        logger.info("Removed this Muster's earlier event subscription %s", subscription.id)
    # The disconnected connections that held them no longer have one to remove by hand.
    QualtricsConnection.objects.filter(status=ConnectionStatus.DISCONNECTED, subscription_id__in=removed).update(
        subscription_id=""
    )
    return warnings


def subscription_by_hand(subscription_id: str) -> str:
    return (
        f"Event subscription {subscription_id} (Qualtrics API: DELETE /eventsubscriptions/{subscription_id}); "
        "connecting again removes it."
    )


def repoint_forms(connection: QualtricsConnection) -> int:
    """The one place a reconnect re-points the forms of the same brand from its earlier
    (disconnected) connections to `connection`, so their responses stay unique per brand and
    keep flowing. Forms arrive with the surveys app, which fills in the SurveyForm update here;
    until then no form exists and nothing moves. Runs in the transaction that saves `connection`."""
    return 0


def _undo(admin: client.Account, made: _Made, report: Report) -> None:
    """Takes back what a failed connect changed in Qualtrics; what it cannot is left to the
    report, to remove by hand (a later connect also removes or adopts it: both carry our instance id)."""
    if made.subscription_id:
        try:
            client.delete_subscription(admin, made.subscription_id)
        except client.QualtricsNotFound:
            pass
        except client.QualtricsError as e:
            logger.warning(
                "Qualtrics connect: %s",
                report.failed(f"Could not remove the event subscription {made.subscription_id} again: {e}"),
            )
            report.left(subscription_by_hand(made.subscription_id))
        else:
            report.did(f"Removed the event subscription {made.subscription_id} again.")
    user = f"{made.username} ({made.user_id})"
    if made.created_user:
        try:
            client.delete_user(admin, made.user_id)
        except client.QualtricsError as e:
            logger.warning("Qualtrics connect: %s", report.failed(f"Could not remove the Qualtrics user {user}: {e}"))
            report.left(f"The Qualtrics user {user}, active: delete it in Admin → Users (connecting again adopts it).")
        else:
            report.did(f"Removed the Qualtrics user {user} again.")
    elif made.reenabled_user:
        try:
            client.update_user(admin, made.user_id, {"status": "Disabled"})
        except client.QualtricsError as e:
            logger.warning(
                "Qualtrics connect: %s", report.failed(f"Could not disable the Qualtrics user {user} again: {e}")
            )
            report.left(f"The Qualtrics user {user}, enabled again: disable it in Admin → Users.")
        else:
            report.did(f"Disabled the Qualtrics user {user} again.")


def test_connection(connection: QualtricsConnection) -> client.WhoAmI:
    """Calls whoami with the stored token; marks the connection broken when the token no longer works."""
    try:
        with connection_account(connection) as account:
            me = client.whoami(account)
    except client.QualtricsAuthError as e:
        mark_broken(connection, f"The service user's token stopped working: {e}")
        raise
    QualtricsConnection.objects.filter(pk=connection.pk).update(last_checked_at=now())
    if connection.is_broken:
        restore_status(connection)
    return me


def _live(connection: QualtricsConnection) -> QuerySet[QualtricsConnection]:
    # Status changes apply to a live connection only: a call still running when someone
    # disconnected never brings the connection back.
    return QualtricsConnection.objects.filter(pk=connection.pk).exclude(status=ConnectionStatus.DISCONNECTED)


def mark_broken(connection: QualtricsConnection, reason: str) -> None:
    reason = scrub(reason)
    if _live(connection).update(status=ConnectionStatus.BROKEN, status_reason=reason, last_checked_at=now()):
        connection.status = ConnectionStatus.BROKEN
        connection.status_reason = reason


def restore_status(connection: QualtricsConnection) -> None:
    status = ConnectionStatus.CONNECTED if connection.subscription_id else ConnectionStatus.POLLING_ONLY
    reason = "" if connection.subscription_id else "No event subscription: responses come in by polling only."
    if _live(connection).update(status=status, status_reason=reason):
        connection.status = status
        connection.status_reason = reason


@sensitive_variables()
def repair(connection: QualtricsConnection, brand_admin_token: Secret) -> Report:
    """Issues a new token for the service user (re-enabling it) and stores it."""
    report = Report(secrets=[brand_admin_token])
    user = f"{connection.service_username} ({connection.service_user_id})"
    with account_for(connection.base_url, brand_admin_token) as admin:
        with _step("Re-enabling the service user", report):
            client.update_user(admin, connection.service_user_id, {"status": "Enabled"})
        report.did(f"Enabled the Qualtrics user {user}.")
        with _step("Creating a new API token for the service user", report):
            token = client.create_api_token(admin, connection.service_user_id)
    report.secrets.append(token)
    report.did("Created a new API token for the service user (Qualtrics stopped the old one).")
    # Stored before its check: the old token stopped working the moment Qualtrics issued this one.
    connection.token = token
    connection.save(update_fields=["token_encrypted"])
    try:
        with _step("Checking the new token", report), account_for(connection.base_url, token) as service:
            client.whoami(service)
    except ConnectError as e:
        if isinstance(e.error, client.QualtricsAuthError):
            mark_broken(connection, f"The service user's new token does not work either: {e.error}")
        raise
    restore_status(connection)
    return report


@sensitive_variables()
def resubscribe(connection: QualtricsConnection, brand_admin_token: Secret) -> Report:
    """Replaces the event subscription (and its shared key)."""
    report = Report(secrets=[brand_admin_token, connection.shared_key])
    with account_for(connection.base_url, brand_admin_token) as admin:
        old = connection.subscription_id
        if old:
            with _step("Removing the old event subscription", report):
                try:
                    client.delete_subscription(admin, old)
                except client.QualtricsNotFound:
                    pass
            report.did(f"Removed the event subscription {old}.")
            # Stored at once: from here on Qualtrics holds no subscription, whatever happens next.
            connection.subscription_id = ""
            connection.shared_key = Secret("")
            connection.save(update_fields=["subscription_id", "shared_key_encrypted"])
            if not connection.is_broken:
                restore_status(connection)
        shared_key = Secret(secrets.token_hex(32))
        report.secrets.append(shared_key)
        with _step("Creating the event subscription", report):
            subscription_id = client.create_subscription(
                admin, topics=TOPICS, publication_url=webhook_url(), shared_key=shared_key
            )
    report.did(f"Created the event subscription {subscription_id}.")
    connection.subscription_id = subscription_id
    connection.shared_key = shared_key
    connection.save(update_fields=["subscription_id", "shared_key_encrypted"])
    if not connection.is_broken:
        restore_status(connection)
    return report


@sensitive_variables()
def disconnect(connection: QualtricsConnection, brand_admin_token: Secret | None, by: User | None = None) -> Report:
    """Marks the connection disconnected and wipes its token and shared key; the row stays, so
    forms and responses keep pointing at it.

    With a brand-admin token the subscription is removed and the service user disabled first. If
    the first change in Qualtrics fails, nothing changes anywhere (ConnectError). Once Qualtrics
    has changed, the disconnect goes through, and the report (kept as the row's reason) says what
    is still in Qualtrics, as it does for a disconnect without a token."""
    report = Report(secrets=[brand_admin_token] if brand_admin_token else [])
    subscription_id = connection.subscription_id
    user = f"{connection.service_username} ({connection.service_user_id})"
    user_disabled = False
    if brand_admin_token:
        with account_for(connection.base_url, brand_admin_token) as admin:
            if subscription_id:
                with _step("Removing the event subscription", report):
                    try:
                        client.delete_subscription(admin, subscription_id)
                    except client.QualtricsNotFound:
                        pass
                report.did(f"Removed the event subscription {subscription_id}.")
                subscription_id = ""
            try:
                with _step("Disabling the service user", report):
                    try:
                        client.update_user(admin, connection.service_user_id, {"status": "Disabled"})
                    except client.QualtricsNotFound:
                        report.did(f"The Qualtrics user {user} no longer exists: nothing to disable.")
                    else:
                        report.did(f"Disabled the Qualtrics user {user}.")
                user_disabled = True
            except ConnectError:
                # Nothing changed in Qualtrics yet: neither does anything in Muster.
                if not report.done:
                    raise
    if subscription_id:
        report.left(subscription_by_hand(subscription_id))
    if not user_disabled:
        report.left(f"The Qualtrics user {user}: disable it in Admin → Users.")
    if not brand_admin_token:
        reason = "Disconnected without a Brand Administrator token. " + report.summary()
    elif report.by_hand:
        reason = "Disconnected; not everything was removed in Qualtrics. " + report.summary()
    elif connection.subscription_id:
        reason = "The event subscription was removed and the service user disabled in Qualtrics."
    else:
        reason = "The service user was disabled in Qualtrics (there was no event subscription)."
    changes = {
        "status": ConnectionStatus.DISCONNECTED,
        "status_reason": reason,
        "token_encrypted": "",
        "shared_key_encrypted": "",
        "subscription_id": subscription_id,
        "disconnected_at": now(),
        "disconnected_by": by,
    }
    # By conditional UPDATE: of two disconnects racing, one does it; the other changes nothing.
    _live(connection).update(**changes)
    connection.refresh_from_db()
    return report
