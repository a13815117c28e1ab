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

from muster.people.models import Panel, Property
from muster.people.writes import Policy
from muster.studies.models import Study
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
