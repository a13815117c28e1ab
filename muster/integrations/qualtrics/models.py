from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils.timezone import now

from muster.crypto import Secret, decrypt, encrypt
from muster.scheduling.leases import Leased


class ConnectionStatus(models.TextChoices):
    CONNECTED = "connected", "Connected"
    POLLING_ONLY = "polling_only", "Polling only"
    BROKEN = "broken", "Broken"
    # Kept, never deleted: forms and responses keep pointing at it. Its token and key are wiped.
    DISCONNECTED = "disconnected", "Disconnected"


class QualtricsConnection(models.Model):
    """A connection to a Qualtrics brand. Holds only the service user's token and the webhook's
    shared key, both encrypted; never a brand administrator's token.

    At most one is live (any status but disconnected); `current_connection()` finds it. A
    disconnect keeps the row, without its secrets, so what points at it keeps its history.
    """

    code = models.UUIDField(default=uuid.uuid4, editable=False, unique=True)
    base_url = models.URLField()
    brand_id = models.CharField(max_length=100)
    datacenter = models.CharField(max_length=50, blank=True)
    service_user_id = models.CharField(max_length=100)
    service_username = models.CharField(max_length=200)
    token_encrypted = models.TextField(blank=True)
    subscription_id = models.CharField(max_length=100, blank=True)
    shared_key_encrypted = models.TextField(blank=True)
    status = models.CharField(max_length=20, choices=ConnectionStatus.choices, default=ConnectionStatus.CONNECTED)
    status_reason = models.TextField(blank=True)
    warnings = models.JSONField(default=list, blank=True)
    connected_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True)
    connected_at = models.DateTimeField(default=now)
    last_checked_at = models.DateTimeField(null=True, blank=True)
    last_webhook_at = models.DateTimeField(null=True, blank=True)
    disconnected_at = models.DateTimeField(null=True, blank=True)
    disconnected_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        constraints = [
            # At most one live connection: a unique index on a constant over the live rows.
            models.UniqueConstraint(
                models.Value(True),
                condition=~models.Q(status="disconnected"),
                name="qualtricsconnection_one_live",
            ),
        ]

    def __str__(self) -> str:
        return f"Qualtrics {self.brand_id} ({self.get_status_display()})"

    @property
    def token(self) -> Secret:
        return Secret(decrypt(self.token_encrypted) if self.token_encrypted else "")

    @token.setter
    def token(self, value: Secret) -> None:
        self.token_encrypted = encrypt(value.value)

    @property
    def shared_key(self) -> Secret:
        return Secret(decrypt(self.shared_key_encrypted) if self.shared_key_encrypted else "")

    @shared_key.setter
    def shared_key(self, value: Secret) -> None:
        self.shared_key_encrypted = encrypt(value.value) if value.value else ""

    @property
    def is_broken(self) -> bool:
        return self.status == ConnectionStatus.BROKEN

    @property
    def is_live(self) -> bool:
        return self.status != ConnectionStatus.DISCONNECTED


def current_connection() -> QualtricsConnection | None:
    """The one live connection, or None when Muster is not connected to Qualtrics."""
    live = QualtricsConnection.objects.exclude(status=ConnectionStatus.DISCONNECTED)
    return live.select_related("connected_by").first()


def last_disconnected() -> QualtricsConnection | None:
    """The most recently disconnected connection, to say what became of it."""
    gone = QualtricsConnection.objects.filter(status=ConnectionStatus.DISCONNECTED)
    return gone.select_related("connected_by", "disconnected_by").order_by("-disconnected_at", "-pk").first()


class ConnectClaim(Leased):
    """Connect is single-flight: only the attempt holding this one row's lease talks to Qualtrics.

    Taken by conditional UPDATE (`connect.claim`, through `scheduling.leases`) and renewed before
    every step; it lapses by itself, so a connect that crashed never blocks the next one for longer.
    """

    name = models.CharField(max_length=20, unique=True)
    started_at = models.DateTimeField(null=True, blank=True)
    started_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True, related_name="+")

    def __str__(self) -> str:
        return f"{self.name}: {self.lease_holder or 'free'}"


class WebhookEvent(models.Model):
    """A verified event from Qualtrics, recorded once per (response, topic kind)."""

    connection = models.ForeignKey(QualtricsConnection, models.CASCADE, related_name="events")
    topic = models.CharField(max_length=300)
    kind = models.CharField(max_length=40)  # completedResponse, partialResponse, ...
    survey_id = models.CharField(max_length=100)
    response_id = models.CharField(max_length=100)
    message = models.JSONField()
    received_at = models.DateTimeField(default=now)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["connection", "response_id", "kind"], name="webhookevent_once"),
        ]
        indexes = [
            # Used by ingestion to find events still to process.
            models.Index(
                fields=["received_at"], name="webhookevent_unprocessed", condition=models.Q(processed_at=None)
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.response_id}"


class CallBudget(models.Model):
    """Qualtrics calls spent in the current minute, per connection, shared by every process."""

    key = models.CharField(max_length=100, unique=True)
    window_start = models.DateTimeField()
    used = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.key}: {self.used}"


class PendingFetch(models.Model):
    """A single-response fetch queued and not done yet (`sync.fetch_response`).

    At most one per (connection, response id), by constraint: a duplicated webhook, or a webhook
    and the return redirect arriving together, queue one fetch, never two. Qualtrics' response ids
    are unique across surveys, so the survey is not part of the key; a second request naming
    another survey becomes the fallback tried on a 404. Deleted when the response is in or the
    fetch is given up. A row long past `next_attempt_at` lost its task (a worker died before it
    ran): the next request for that response takes it over.
    """

    connection = models.ForeignKey(QualtricsConnection, models.CASCADE, related_name="pending_fetches")
    survey_id = models.CharField(max_length=100)
    response_id = models.CharField(max_length=100)
    # The participant's other step's survey, tried when this one answers 404 (the return redirect
    # guesses the survey from the participant's status; the guess may be one step behind).
    fallback_survey_id = models.CharField(max_length=100, blank=True)
    requested_at = models.DateTimeField(default=now)
    attempts = models.PositiveIntegerField(default=0)  # calls that reached Qualtrics and failed
    next_attempt_at = models.DateTimeField(default=now)
    last_error = models.TextField(blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["connection", "response_id"], name="pendingfetch_once"),
        ]

    def __str__(self) -> str:
        return f"fetch {self.survey_id}/{self.response_id}"
