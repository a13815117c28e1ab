"""Studies and their participants (DESIGN §5.3, §5.4, §6)."""

from __future__ import annotations

import base64
import secrets
import uuid

from django.conf import settings
from django.db import models
from django.utils.timezone import now

from muster.people.models import Person


class StudyKind(models.TextChoices):
    SURVEY = "survey", "Survey"
    INTERVIEW = "interview", "Interview"
    UNMODERATED_TEST = "unmoderated_test", "Unmoderated test"


class StudyStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    ACTIVE = "active", "Active"
    PAUSED = "paused", "Paused"
    CLOSED = "closed", "Closed"
    ARCHIVED = "archived", "Archived"


class Study(models.Model):
    code = models.UUIDField(default=uuid.uuid4, editable=False, unique=True)
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=20, choices=StudyKind.choices, default=StudyKind.SURVEY)
    status = models.CharField(max_length=20, choices=StudyStatus.choices, default=StudyStatus.DRAFT)
    # None: no limit. Counts participants who are neither test participants nor cancelled.
    participation_limit = models.PositiveIntegerField(null=True, blank=True)
    # Kept by conditional updates only (muster.studies.participants), never read-modify-write.
    seats_taken = models.PositiveIntegerField(default=0)
    landing_slug = models.SlugField(max_length=80, unique=True)
    landing_text = models.TextField(blank=True)
    created = models.DateTimeField(default=now)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True, related_name="+")
    # The screener and survey steps (SurveyForm, §5.5) join here when the Qualtrics bridge lands.

    class Meta:
        ordering = ["-created", "-id"]
        verbose_name_plural = "studies"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(participation_limit__isnull=True)
                | models.Q(seats_taken__lte=models.F("participation_limit")),
                name="seats_within_limit",
            )
        ]

    def __str__(self) -> str:
        return self.name


class ParticipantStatus(models.TextChoices):
    NOT_CONTACTED = "not_contacted", "Not contacted"
    INVITED = "invited", "Invited"
    LINK_OPENED = "link_opened", "Link opened"
    SCREENER_STARTED = "screener_started", "Screener started"
    SCREENER_COMPLETED = "screener_completed", "Screener completed"
    SCREENER_QUALIFIED = "screener_qualified", "Qualified"
    SCREENER_NOT_QUALIFIED = "screener_not_qualified", "Not qualified"
    SURVEY_STARTED = "survey_started", "Survey started"
    SURVEY_COMPLETED = "survey_completed", "Survey completed"
    CANCELLED = "cancelled", "Cancelled"


def new_participant_id() -> str:
    """128 random bits in base32: 26 characters, unguessable, stable for life (DESIGN §5.4)."""
    return base64.b32encode(secrets.token_bytes(16)).decode().rstrip("=")


class StudyParticipant(models.Model):
    code = models.UUIDField(default=uuid.uuid4, editable=False, unique=True)
    study = models.ForeignKey(Study, models.CASCADE, related_name="participants")
    person = models.ForeignKey(Person, models.CASCADE, related_name="participations")
    participant_id = models.CharField(max_length=26, unique=True, default=new_participant_id, editable=False)
    status = models.CharField(max_length=30, choices=ParticipantStatus.choices, default=ParticipantStatus.NOT_CONTACTED)
    # Test participants (Preview) never count toward the limit and never touch properties.
    is_test = models.BooleanField(default=False)
    added_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True, related_name="+")
    created = models.DateTimeField(default=now)
    status_changed_at = models.DateTimeField(default=now)
    invited_at = models.DateTimeField(null=True, blank=True)
    link_opened_at = models.DateTimeField(null=True, blank=True)
    screener_started_at = models.DateTimeField(null=True, blank=True)
    screener_completed_at = models.DateTimeField(null=True, blank=True)
    screener_qualified_at = models.DateTimeField(null=True, blank=True)
    screener_not_qualified_at = models.DateTimeField(null=True, blank=True)
    survey_started_at = models.DateTimeField(null=True, blank=True)
    survey_completed_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["study", "person"], condition=models.Q(is_test=False), name="one_participation_per_study"
            )
        ]
        indexes = [models.Index(fields=["study", "status"], name="participant_study_status")]

    def __str__(self) -> str:
        return self.participant_id


class StudyStatusChange(models.Model):
    """Every change of a study's status, so closing, reopening, archiving and restoring leave a record."""

    study = models.ForeignKey(Study, models.CASCADE, related_name="status_changes")
    from_status = models.CharField(max_length=20, choices=StudyStatus.choices)
    to_status = models.CharField(max_length=20, choices=StudyStatus.choices)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True, related_name="+")
    at = models.DateTimeField(default=now)

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.from_status} → {self.to_status}"


class LandingLinkUse(models.Model):
    """A used one-time link of a study's landing page (muster.studies.landing): its hash, so a used
    link cannot be used again. The token itself is never stored."""

    digest = models.CharField(max_length=64, unique=True)  # SHA-256 of the signed token, hex
    study = models.ForeignKey(Study, models.CASCADE, related_name="+")
    used_at = models.DateTimeField(default=now)

    def __str__(self) -> str:
        return self.digest[:12]
