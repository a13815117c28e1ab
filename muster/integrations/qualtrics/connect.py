"""Provisioning: connect, repair, re-subscribe and disconnect (DESIGN §1 step 1, REFERENCE §3, §8).

A brand administrator's token lives only inside one of these calls: it is never stored, logged,
put in a task or echoed back. If a step fails, what was created is removed again and nothing is
stored; the error names the step and carries Qualtrics' message.

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
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
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
from muster.integrations.qualtrics.models import ConnectionStatus, QualtricsConnection, current_connection

logger = logging.getLogger(__name__)

BRAND_ADMIN = "UT_BRANDADMIN"
TOPICS = "surveyengine.completedResponse.*,surveyengine.partialResponse.*"
INSTANCE_PARAMETER = "muster_instance"


class ConnectError(Exception):
    def __init__(self, step: str, error: Exception) -> None:
        detail = str(error) if isinstance(error, client.QualtricsError) else "an unexpected error"
        super().__init__(f"{step} failed: {detail}")
        self.step = step
        self.error = error


@dataclass
class Outcome:
    connection: QualtricsConnection
    warnings: list[str] = field(default_factory=list)


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


def connection_account(connection: QualtricsConnection) -> client.Account:
    """The service user's account; one HTTP client for all its calls (`with` closes it)."""
    account = account_for(connection.base_url, connection.token, f"qualtrics:{connection.pk}")
    account.on_invalid_token = lambda e: mark_broken(connection, f"The service user's token stopped working: {e}")
    return account


@contextmanager
def _step(name: str) -> Iterator[None]:
    """Turns any failure inside into a ConnectError naming this step."""
    try:
        yield
    except ConnectError:
        raise
    except Exception as e:
        if not isinstance(e, client.QualtricsError):
            logger.error("Qualtrics connect: %s failed with %s", name, type(e).__name__)
        raise ConnectError(name, e) from None


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
    if current_connection() is not None:
        raise ConnectError("Checking for an existing connection", client.QualtricsError("Muster is connected already."))
    with account_for(client.base_url_for(base_url), brand_admin_token) as admin:
        return _connect(admin, user_type=user_type, by=by, service_email=service_email)


@sensitive_variables()
def _connect(admin: client.Account, *, user_type: str, by: User | None, service_email: str) -> Outcome:
    warnings: list[str] = []
    created_user: str | None = None
    subscription_id = ""
    try:
        with _step("Checking the brand administrator token (whoami)"):
            base, me = pin_base_url(admin.base_url, admin)
            admin.base_url = base
        if me.account_type and me.account_type != BRAND_ADMIN:
            warnings.append(
                f"This token belongs to {me.user_name or me.user_id}, whose account type is {me.account_type}, "
                "not a Brand Administrator: the next steps need one."
            )
        username = service_username(me.brand_id)
        first, _, last = settings.MUSTER_QUALTRICS_SERVICE_USER.partition(" ")
        with _step("Looking for an earlier service user"):
            existing = next((u for u in client.list_users(admin) if u.username == username), None)
        password = Secret(secrets.token_urlsafe(24))
        if existing is None:
            with _step(f"Creating the service user “{settings.MUSTER_QUALTRICS_SERVICE_USER}”"):
                user_id = client.create_user(
                    admin,
                    username=username,
                    password=password,
                    first_name=first,
                    last_name=last or first,
                    user_type=user_type,
                    email=service_email or settings.DEFAULT_FROM_EMAIL,
                )
                created_user = user_id
        else:
            user_id = existing.id
            with _step("Adopting the service user this Muster created before"):
                # A fresh random password nobody knows; the account is enabled again if it was disabled.
                client.update_user(
                    admin, user_id, {"status": "Enabled", "password": password.value, "userType": user_type}
                )
        with _step("Creating the service user's API token"):
            service_token = client.create_api_token(admin, user_id)
        with _step("Checking the service user's API token"), account_for(admin.base_url, service_token) as service:
            client.whoami(service)
        with _step("Removing this Muster's earlier event subscriptions"):
            warnings += remove_stale_subscriptions(admin)
        shared_key = Secret(secrets.token_hex(32))
        status = ConnectionStatus.CONNECTED
        reason = ""
        try:
            subscription_id = client.create_subscription(
                admin, topics=TOPICS, publication_url=webhook_url(), shared_key=shared_key
            )
        except client.QualtricsError as e:
            status = ConnectionStatus.POLLING_ONLY
            reason = f"Qualtrics refused the event subscription: {e}. Responses come in by polling only."
            shared_key = Secret("")
        warning = public_url_warning()
        if warning:
            warnings.append(warning)
        with _step("Saving the connection"), transaction.atomic():
            connection = QualtricsConnection(
                base_url=admin.base_url,
                brand_id=me.brand_id,
                datacenter=me.datacenter or "",
                service_user_id=user_id,
                service_username=username,
                subscription_id=subscription_id,
                status=status,
                status_reason=reason,
                warnings=warnings,
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
        _undo(admin, created_user, subscription_id)
        raise
    return Outcome(connection, warnings)


@sensitive_variables()
def remove_stale_subscriptions(admin: client.Account) -> list[str]:
    """Removes this installation's event subscriptions on the brand (left by a disconnect without a
    brand-admin token, or by a database that was reset), so a reconnect leaves exactly one.
    Another installation's subscriptions are never touched. Returns warnings for what it could
    not remove: a leftover subscription is noise (its events fail the HMAC check), not harm."""
    try:
        ours = [s for s in client.list_subscriptions(admin) if is_ours(s)]
    except client.QualtricsError as e:
        return [f"Could not list the brand's event subscriptions to remove this Muster's earlier ones: {e}"]
    warnings = []
    removed = []
    for subscription in ours:
        try:
            client.delete_subscription(admin, subscription.id)
        except client.QualtricsNotFound:
            pass
        except client.QualtricsError as e:
            warnings.append(f"Could not remove this Muster's earlier event subscription {subscription.id}: {e}")
            continue
        removed.append(subscription.id)
        logger.info("Removed this Muster's earlier event subscription %s", subscription.id)
    # The disconnected connections that held them no longer have one to remove by hand.
    QualtricsConnection.objects.filter(status=ConnectionStatus.DISCONNECTED, subscription_id__in=removed).update(
        subscription_id=""
    )
    return warnings


def repoint_forms(connection: QualtricsConnection) -> int:
    """The one place a reconnect re-points the forms of the same brand from its earlier
    (disconnected) connections to `connection`, so their responses stay unique per brand and
    keep flowing. Forms arrive with the surveys app, which fills in the SurveyForm update here;
    until then no form exists and nothing moves. Runs in the transaction that saves `connection`."""
    return 0


def _undo(admin: client.Account, created_user: str | None, subscription_id: str) -> None:
    if subscription_id:
        try:
            client.delete_subscription(admin, subscription_id)
        except client.QualtricsError as e:
            logger.warning("Could not remove event subscription %s after a failed connect: %s", subscription_id, e)
    if created_user:
        try:
            client.delete_user(admin, created_user)
        except client.QualtricsError as e:
            logger.warning("Could not remove Qualtrics user %s after a failed connect: %s", created_user, e)


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
def repair(connection: QualtricsConnection, brand_admin_token: Secret) -> None:
    """Issues a new token for the service user (re-enabling it) and stores it."""
    with account_for(connection.base_url, brand_admin_token) as admin:
        with _step("Re-enabling the service user"):
            client.update_user(admin, connection.service_user_id, {"status": "Enabled"})
        with _step("Creating a new API token for the service user"):
            token = client.create_api_token(admin, connection.service_user_id)
    with _step("Checking the new token"), account_for(connection.base_url, token) as service:
        client.whoami(service)
    connection.token = token
    connection.save(update_fields=["token_encrypted"])
    restore_status(connection)


@sensitive_variables()
def resubscribe(connection: QualtricsConnection, brand_admin_token: Secret) -> None:
    """Replaces the event subscription (and its shared key)."""
    with account_for(connection.base_url, brand_admin_token) as admin:
        if connection.subscription_id:
            with _step("Removing the old event subscription"):
                try:
                    client.delete_subscription(admin, connection.subscription_id)
                except client.QualtricsNotFound:
                    pass
        shared_key = Secret(secrets.token_hex(32))
        with _step("Creating the event subscription"):
            subscription_id = client.create_subscription(
                admin, topics=TOPICS, publication_url=webhook_url(), shared_key=shared_key
            )
    connection.subscription_id = subscription_id
    connection.shared_key = shared_key
    connection.save(update_fields=["subscription_id", "shared_key_encrypted"])
    if not connection.is_broken:
        restore_status(connection)


@sensitive_variables()
def disconnect(connection: QualtricsConnection, brand_admin_token: Secret | None, by: User | None = None) -> list[str]:
    """Marks the connection disconnected and wipes its token and shared key; the row stays, so
    forms and responses keep pointing at it. With a brand-admin token the subscription is removed
    and the service user disabled first (if that fails, nothing changes); without one, returns
    what to remove in Qualtrics by hand."""
    left: list[str] = []
    subscription_id = connection.subscription_id
    if brand_admin_token:
        with account_for(connection.base_url, brand_admin_token) as admin:
            if subscription_id:
                with _step("Removing the event subscription"):
                    try:
                        client.delete_subscription(admin, subscription_id)
                    except client.QualtricsNotFound:
                        pass
                subscription_id = ""
            with _step("Disabling the service user"):
                client.update_user(admin, connection.service_user_id, {"status": "Disabled"})
        reason = "The event subscription was removed and the service user disabled in Qualtrics."
    else:
        if subscription_id:
            left.append(f"Event subscription {subscription_id} (Qualtrics API: DELETE /eventsubscriptions).")
        left.append(
            f"The Qualtrics user {connection.service_username} ({connection.service_user_id}): disable it in "
            "Admin → Users."
        )
        reason = "Disconnected without a Brand Administrator token. Still in Qualtrics: " + " ".join(left)
        if subscription_id:
            reason += " Connecting again removes that subscription."
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
    return left
