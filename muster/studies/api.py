"""REST API for studies and their participants."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from ninja import Field, Router, Schema
from ninja.errors import HttpError

from muster.accounts.roles import Capability
from muster.api.common import BODY_ERRORS, ERRORS, require
from muster.api.schemas import Input, JsonInt
from muster.people.models import Person, normalise_email
from muster.people.serialise import Viewer, email
from muster.studies.models import ParticipantStatus, Study, StudyKind, StudyParticipant, StudyStatus
from muster.studies.participants import Refused, add_participants, change_study_status, counts_by_status, move

router: Router = Router(tags=["studies"])


class StudyOut(Schema):
    code: UUID
    name: str
    kind: StudyKind
    status: StudyStatus
    participation_limit: int | None
    seats_taken: int
    landing_slug: str
    landing_text: str
    created: datetime
    counts: dict[str, int]


class StudyIn(Input):
    name: str = Field(min_length=1, max_length=200)
    kind: StudyKind = StudyKind.SURVEY
    participation_limit: JsonInt | None = Field(None, ge=0)
    landing_slug: str = Field(pattern=r"^[a-z0-9-]{1,80}$")
    landing_text: str = ""


class StudyPatch(Input):
    name: str | None = Field(None, min_length=1, max_length=200)
    kind: StudyKind | None = None
    participation_limit: JsonInt | None = Field(None, ge=0)
    landing_slug: str | None = Field(None, pattern=r"^[a-z0-9-]{1,80}$")
    landing_text: str | None = None


class StatusIn(Input):
    status: str


class ParticipantOut(Schema):
    code: UUID
    participant_id: str
    person: UUID
    email: str
    status: ParticipantStatus
    is_test: bool
    created: datetime
    status_changed_at: datetime


class ParticipantsIn(Input):
    people: list[UUID] = []
    emails: list[str] = []


class AddedOut(Schema):
    added: list[ParticipantOut]
    notes: list[str]


def study_out(study: Study) -> dict[str, Any]:
    return {
        **{f: getattr(study, f) for f in StudyOut.model_fields if f != "counts"},
        "counts": counts_by_status(study),
    }


def participant_out(viewer: Viewer, p: StudyParticipant) -> dict[str, Any]:
    return {
        "code": p.code,
        "participant_id": p.participant_id,
        "person": p.person.code,
        "email": email(viewer, p.person.primary_email),
        "status": p.status,
        "is_test": p.is_test,
        "created": p.created,
        "status_changed_at": p.status_changed_at,
    }


def participants() -> Any:
    return StudyParticipant.objects.select_related("person").prefetch_related("person__emails")


@router.get("/studies", response={200: list[StudyOut], **ERRORS}, summary="List studies")
def list_studies(request: HttpRequest, status: StudyStatus | None = None) -> list[dict[str, Any]]:
    require(request, Capability.VIEW)
    studies = Study.objects.all() if status is None else Study.objects.filter(status=status)
    return [study_out(s) for s in studies]


@router.post("/studies", response={201: StudyOut, 409: Any, **BODY_ERRORS}, summary="Create a study")
def post_study(request: HttpRequest, body: StudyIn) -> tuple[int, dict[str, Any]]:
    user = require(request, Capability.MANAGE_STUDIES)
    try:
        with transaction.atomic():
            study = Study.objects.create(**body.dict(), created_by=user)
    except IntegrityError:
        raise HttpError(409, f"The landing slug “{body.landing_slug}” is taken.") from None
    return 201, study_out(study)


@router.get("/studies/{code}", response={200: StudyOut, **BODY_ERRORS}, summary="Get a study")
def get_study(request: HttpRequest, code: UUID) -> dict[str, Any]:
    require(request, Capability.VIEW)
    return study_out(get_object_or_404(Study, code=code))


@router.patch("/studies/{code}", response={200: StudyOut, 409: Any, **BODY_ERRORS}, summary="Update a study")
def patch_study(request: HttpRequest, code: UUID, body: StudyPatch) -> dict[str, Any]:
    require(request, Capability.MANAGE_STUDIES)
    study = get_object_or_404(Study, code=code)
    changes = body.dict(exclude_unset=True)
    for name in ("name", "kind", "landing_slug", "landing_text"):
        if changes.get(name) is not None:
            setattr(study, name, changes[name])
    if "participation_limit" in changes:
        study.participation_limit = changes["participation_limit"]
        if study.participation_limit is not None and study.participation_limit < study.seats_taken:
            raise HttpError(409, f"The study already has {study.seats_taken} participants: the limit cannot be lower.")
    try:
        with transaction.atomic():
            study.save()
    except IntegrityError:
        raise HttpError(409, "That landing slug is taken, or the limit is below the participants already in.") from None
    return study_out(study)


@router.post("/studies/{code}/status", response={200: StudyOut, 409: Any, **BODY_ERRORS}, summary="Change status")
def post_study_status(request: HttpRequest, code: UUID, body: StatusIn) -> dict[str, Any]:
    require(request, Capability.MANAGE_STUDIES)
    study = get_object_or_404(Study, code=code)
    try:
        change_study_status(study, body.status)
    except Refused as e:
        raise HttpError(409, str(e)) from None
    return study_out(study)


@router.get(
    "/studies/{code}/participants", response={200: list[ParticipantOut], **BODY_ERRORS}, summary="List participants"
)
def list_participants(
    request: HttpRequest, code: UUID, status: ParticipantStatus | None = None
) -> list[dict[str, Any]]:
    user = require(request, Capability.VIEW)
    study = get_object_or_404(Study, code=code)
    rows = participants().filter(study=study)
    if status is not None:
        rows = rows.filter(status=status)
    return [participant_out(Viewer.of(user), p) for p in rows[:5000]]


@router.post(
    "/studies/{code}/participants",
    response={200: AddedOut, 409: Any, **BODY_ERRORS},
    summary="Add people by person code or email",
)
def post_participants(request: HttpRequest, code: UUID, body: ParticipantsIn) -> dict[str, Any]:
    user = require(request, Capability.MANAGE_STUDIES)
    study = get_object_or_404(Study, code=code)
    emails = [normalise_email(e) for e in body.emails]
    people = list(Person.objects.filter(code__in=body.people)) + list(Person.objects.filter(emails__email__in=emails))
    if len({p.id for p in people}) < len(set(body.people)) + len(set(emails)):
        raise HttpError(404, "Some of these people do not exist.")
    try:
        added, notes = add_participants(study, people, user)
    except Refused as e:
        raise HttpError(409, str(e)) from None
    fresh = participants().filter(id__in=[p.id for p in added])
    return {"added": [participant_out(Viewer.of(user), p) for p in fresh], "notes": notes}


@router.post(
    "/studies/{code}/participants/{participant_code}/status",
    response={200: ParticipantOut, 409: Any, **BODY_ERRORS},
    summary="Move a participant to another status (refusals say why)",
)
def post_participant_status(request: HttpRequest, code: UUID, participant_code: UUID, body: StatusIn) -> dict[str, Any]:
    user = require(request, Capability.MANAGE_STUDIES)
    participant = get_object_or_404(participants(), code=participant_code, study__code=code)
    try:
        move(participant, body.status)
    except Refused as e:
        raise HttpError(409, str(e)) from None
    return participant_out(Viewer.of(user), participant)
