"""Survey forms, their definition versions, questions and mappings (DESIGN §5.5, §6).

A form points at its owner (a study's screener or survey step, or a panel's sign-up), so `studies`
and `people` never import `surveys`. The tool's ids (survey id, QIDs, choice ids) are opaque strings.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.db import models
from django.utils.timezone import now

from muster.people.models import Panel, Person, Property
from muster.people.writes import Policy
from muster.studies.models import Study, StudyParticipant
from muster.surveys.questions import Choice, Kind, Part, QuestionDef, Support


class OwnerKind(models.TextChoices):
    SCREENER = "screener", "Screener"
    SURVEY = "survey", "Survey"
    SIGNUP = "signup", "Sign-up form"


def default_participant_field() -> str:
    return str(settings.MUSTER_QUALTRICS_PARTICIPANT_FIELD)


class SurveyForm(models.Model):
    code = models.UUIDField(default=uuid.uuid4, editable=False, unique=True)
    tool = models.CharField(max_length=40)  # a registered survey tool's name: "qualtrics"
    # The tool's account (a Qualtrics brand id): a response is unique per (brand, survey, response).
    brand = models.CharField(max_length=100)
    survey_id = models.CharField(max_length=100)
    survey_name = models.CharField(max_length=300)
    base_url = models.URLField(blank=True)  # where participants take it (Qualtrics' BrandBaseURL)
    owner_kind = models.CharField(max_length=20, choices=OwnerKind.choices)
    # PROTECT: a form keeps its responses; its owner cannot be deleted from under it.
    study = models.ForeignKey(Study, models.PROTECT, null=True, blank=True, related_name="forms")
    panel = models.ForeignKey(Panel, models.PROTECT, null=True, blank=True, related_name="forms")
    participant_field = models.CharField(max_length=100, default=default_participant_field)
    version = models.ForeignKey(
        "DefinitionVersion", models.SET_NULL, null=True, blank=True, related_name="+"
    )  # the definition in use
    attached_at = models.DateTimeField(default=now)
    attached_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True, related_name="+")
    # Detached forms stay, with their responses; a step has at most one attached form.
    detached_at = models.DateTimeField(null=True, blank=True)
    detached_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True, related_name="+")
    # Sync state (DESIGN §6, §8), kept by the tool's reconciliation; the cursor is the tool's own
    # (a Qualtrics continuation token), opaque here.
    sync_cursor = models.TextField(blank=True)
    synced_until = models.DateTimeField(null=True, blank=True)  # the last export's end, for a date-window fallback
    next_sync_at = models.DateTimeField(null=True, blank=True)
    last_synced_at = models.DateTimeField(null=True, blank=True)
    last_webhook_at = models.DateTimeField(null=True, blank=True)
    sync_error = models.TextField(blank=True)  # the last failure, shown; empty once a sync succeeds
    sync_failures = models.PositiveIntegerField(default=0)
    # Set when the survey is gone (confirmed with the tool): polling stops, and this says why.
    sync_stopped = models.TextField(blank=True)
    backfilled_at = models.DateTimeField(null=True, blank=True)  # the first full export is done
    # Keys the answer reader did not understand, counted per question id, over every response read.
    unknown_keys = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-attached_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["study", "owner_kind"],
                condition=models.Q(detached_at=None, study__isnull=False),
                name="one_form_per_study_step",
            ),
            models.UniqueConstraint(
                fields=["panel"], condition=models.Q(detached_at=None, panel__isnull=False), name="one_signup_form"
            ),
            models.CheckConstraint(
                condition=(models.Q(owner_kind="signup", study=None, panel__isnull=False))
                | (models.Q(owner_kind__in=["screener", "survey"], panel=None, study__isnull=False)),
                name="form_owner_matches_kind",
            ),
        ]
        indexes = [models.Index(fields=["tool", "brand", "survey_id"], name="form_survey")]

    def __str__(self) -> str:
        return f"{self.survey_name} ({self.get_owner_kind_display()})"

    @property
    def attached(self) -> bool:
        return self.detached_at is None


class DefinitionVersion(models.Model):
    """One imported definition, kept for good: responses are read with the questions they had."""

    form = models.ForeignKey(SurveyForm, models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    digest = models.CharField(max_length=64)
    last_modified = models.DateTimeField(null=True, blank=True)  # as the tool says
    fetched_at = models.DateTimeField(default=now)
    questions = models.JSONField(default=list)  # QuestionDef.as stored by `question_json`
    report = models.JSONField(default=list)  # [{"item", "ok", "fix"}]
    changes = models.JSONField(default=list)  # from the previous version: [{"qid", "change", "detail"}]

    class Meta:
        ordering = ["form", "-number"]
        constraints = [models.UniqueConstraint(fields=["form", "number"], name="one_version_number")]

    def __str__(self) -> str:
        return f"v{self.number}"

    def question_defs(self) -> list[QuestionDef]:
        return [question_def(q) for q in self.questions]


class Question(models.Model):
    """A question of the form as its current version has it; one that left the survey stays, flagged."""

    form = models.ForeignKey(SurveyForm, models.CASCADE, related_name="questions")
    qid = models.CharField(max_length=100)
    export_tag = models.CharField(max_length=200, blank=True)
    text = models.TextField(blank=True)  # sanitised HTML
    plain_text = models.TextField(blank=True)
    kind = models.CharField(max_length=30, choices=Kind.choices)
    tool_kind = models.CharField(max_length=100, blank=True)
    support = models.CharField(max_length=20, choices=Support.choices)
    reason = models.TextField(blank=True)
    position = models.PositiveIntegerField(default=0)
    choices = models.JSONField(default=list)
    parts = models.JSONField(default=list)
    whole = models.BooleanField(default=True)
    removed = models.BooleanField(default=False)  # no longer in the survey
    flags = models.JSONField(default=list)  # what the last re-import found: "new", "retyped", ...

    class Meta:
        ordering = ["removed", "position", "id"]
        constraints = [models.UniqueConstraint(fields=["form", "qid"], name="one_question_per_qid")]

    def __str__(self) -> str:
        return f"{self.qid} {self.plain_text[:40]}"

    def definition(self) -> QuestionDef:
        return question_def(
            {
                "qid": self.qid,
                "export_tag": self.export_tag,
                "text": self.text,
                "plain_text": self.plain_text,
                "kind": self.kind,
                "tool_kind": self.tool_kind,
                "reason": self.reason,
                "choices": self.choices,
                "parts": self.parts,
                "whole": self.whole,
                "position": self.position,
            }
        )


class MappingStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    PAUSED = "paused", "Paused"


class QuestionMapping(models.Model):
    """A question (or one of its parts) written to a property; keyed by qid and choice ids, never labels."""

    code = models.UUIDField(default=uuid.uuid4, editable=False, unique=True)
    form = models.ForeignKey(SurveyForm, models.CASCADE, related_name="mappings")
    qid = models.CharField(max_length=100)
    part = models.CharField(max_length=200, blank=True)  # "" the whole question
    # PROTECT: a property a mapping writes to cannot be deleted until the mapping goes.
    property = models.ForeignKey(Property, models.PROTECT, related_name="mappings")
    options = models.JSONField(default=dict)  # {choice id: option id}, for select and yes/no properties
    policy = models.CharField(max_length=20, choices=Policy.choices, default=Policy.OVERWRITE)
    version = models.ForeignKey(DefinitionVersion, models.SET_NULL, null=True, blank=True, related_name="+")
    status = models.CharField(max_length=10, choices=MappingStatus.choices, default=MappingStatus.ACTIVE)
    paused_reason = models.TextField(blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(default=now)

    class Meta:
        ordering = ["form", "id"]
        constraints = [models.UniqueConstraint(fields=["form", "qid", "part"], name="one_mapping_per_part")]

    def __str__(self) -> str:
        part = f" ({self.part})" if self.part else ""
        return f"the mapping of {self.qid}{part} in the survey “{self.form.survey_name}”"


def question_json(q: QuestionDef) -> dict[str, Any]:
    def choice(c: Choice) -> dict[str, Any]:
        return {"id": c.id, "recode": c.recode, "label": c.label, "has_text": c.has_text}

    return {
        "qid": q.qid,
        "export_tag": q.export_tag,
        "text": q.text,
        "plain_text": q.plain_text,
        "kind": q.kind,
        "tool_kind": q.tool_kind,
        "reason": q.reason,
        "choices": [choice(c) for c in q.choices],
        "parts": [
            {"part": p.part, "label": p.label, "kind": p.kind, "choices": [choice(c) for c in p.choices]}
            for p in q.parts
        ],
        "whole": q.whole,
        "position": q.position,
    }


def question_def(data: dict[str, Any]) -> QuestionDef:
    def choice(c: dict[str, Any]) -> Choice:
        return Choice(str(c["id"]), str(c.get("recode", c["id"])), str(c.get("label", "")), bool(c.get("has_text")))

    return QuestionDef(
        qid=data["qid"],
        export_tag=data.get("export_tag", ""),
        text=data.get("text", ""),
        plain_text=data.get("plain_text", ""),
        kind=data["kind"],
        tool_kind=data.get("tool_kind", ""),
        reason=data.get("reason", ""),
        choices=tuple(choice(c) for c in data.get("choices", [])),
        parts=tuple(
            Part(p["part"], p.get("label", ""), p.get("kind", "text"), tuple(choice(c) for c in p.get("choices", [])))
            for p in data.get("parts", [])
        ),
        whole=bool(data.get("whole", True)),
        position=int(data.get("position", 0)),
    )


class Response(models.Model):
    """A response as the tool gave it (kept whole), what was read from it, and what it wrote.

    Unique per (tool, brand, survey, response id): a reconnect, a re-attach or a replay never
    makes a second one. It is attached to a participant only through the Participant ID it
    carries itself; without a valid one it stays unattached, on a form of its survey, flagged.
    """

    code = models.UUIDField(default=uuid.uuid4, editable=False, unique=True)
    tool = models.CharField(max_length=40)
    brand = models.CharField(max_length=100)
    survey_id = models.CharField(max_length=100)
    response_id = models.CharField(max_length=100)
    form = models.ForeignKey(SurveyForm, models.CASCADE, related_name="responses")
    version = models.ForeignKey(DefinitionVersion, models.SET_NULL, null=True, blank=True, related_name="+")
    # Erasing the person deletes their responses (and remembers them: ErasedResponse).
    person = models.ForeignKey(Person, models.CASCADE, null=True, blank=True, related_name="+")
    participant = models.ForeignKey(StudyParticipant, models.SET_NULL, null=True, blank=True, related_name="+")
    carried_id = models.CharField(max_length=200, blank=True)  # the Participant ID as the response carries it
    flagged = models.BooleanField(default=False)  # unattached: no valid Participant ID; for review
    finished = models.BooleanField(default=False)
    progress = models.PositiveSmallIntegerField(default=0)
    recorded_at = models.DateTimeField(null=True, blank=True)
    last_modified_at = models.DateTimeField(null=True, blank=True)
    channel = models.CharField(max_length=40, blank=True)
    is_test = models.BooleanField(default=False)
    raw = models.JSONField(default=dict)  # values, labels and the rest, whole
    answers = models.JSONField(default=dict)  # {"<qid>" or "<qid>:<part>": value}, as read
    errors = models.JSONField(default=list)  # [{"qid", "part", "reason"}]: answers that wrote nothing
    unknown_keys = models.JSONField(default=dict)
    received_at = models.DateTimeField(default=now)
    updated_at = models.DateTimeField(default=now)

    class Meta:
        ordering = ["-recorded_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["tool", "brand", "survey_id", "response_id"], name="one_response"),
        ]
        indexes = [
            models.Index(fields=["form", "recorded_at"], name="response_form_recorded"),
            models.Index(fields=["participant"], name="response_participant"),
            models.Index(fields=["person"], name="response_person"),
        ]

    def __str__(self) -> str:
        return self.response_id


class ErasedResponse(models.Model):
    """A response deleted with an erased person, remembered only by a hash of its ids, so no
    reconciliation or re-sync brings it back."""

    digest = models.CharField(max_length=64, unique=True)
    erased_at = models.DateTimeField(default=now)

    def __str__(self) -> str:
        return self.digest[:12]
