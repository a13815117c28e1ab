"""REST API for studies and their participants."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from ninja import Field, Router, Schema
from ninja.errors import HttpError

from muster.accounts.roles import Capability
from muster.api.common import BODY_ERRORS, ERRORS, require
from muster.api.schemas import Input, JsonInt
from muster.people import lookup
from muster.people.serialise import Viewer, email
from muster.studies import details, landing
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
    link: str = Field(description="The participant's hand-off link: <public url>/s/<slug>/go/<participant_id>/")


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
        "link": landing.handoff_url(p.study, p),
    }


def participants() -> Any:
    return StudyParticipant.objects.select_related("person", "study").prefetch_related("person__emails")


@router.get("/studies", response={200: list[StudyOut], **ERRORS}, summary="List studies")
def list_studies(request: HttpRequest, status: StudyStatus | None = None) -> list[dict[str, Any]]:
    require(request, Capability.VIEW)
    studies = Study.objects.all() if status is None else Study.objects.filter(status=status)
    return [study_out(s) for s in studies]


@router.post("/studies", response={201: StudyOut, 409: Any, **BODY_ERRORS}, summary="Create a study")
def post_study(request: HttpRequest, body: StudyIn) -> tuple[int, dict[str, Any]]:
    user = require(request, Capability.MANAGE_STUDIES)
    try:
        study = details.create_study(user, **body.dict())
    except details.Invalid as e:
        raise HttpError(409, str(e)) from None
    return 201, study_out(study)


@router.get("/studies/{code}", response={200: StudyOut, **BODY_ERRORS}, summary="Get a study")
def get_study(request: HttpRequest, code: UUID) -> dict[str, Any]:
    require(request, Capability.VIEW)
    return study_out(get_object_or_404(Study, code=code))


@router.patch("/studies/{code}", response={200: StudyOut, 409: Any, **BODY_ERRORS}, summary="Update a study")
def patch_study(request: HttpRequest, code: UUID, body: StudyPatch) -> dict[str, Any]:
    require(request, Capability.MANAGE_STUDIES)
    study = get_object_or_404(Study, code=code)
    # null leaves a detail as it is, except the limit, where it means "no limit".
    changes = {k: v for k, v in body.dict(exclude_unset=True).items() if v is not None or k == "participation_limit"}
    try:
        details.update_study(study, **changes)
    except details.Invalid as e:
        raise HttpError(409, str(e)) from None
    return study_out(study)


@router.post("/studies/{code}/status", response={200: StudyOut, 409: Any, **BODY_ERRORS}, summary="Change status")
def post_study_status(request: HttpRequest, code: UUID, body: StatusIn) -> dict[str, Any]:
    user = require(request, Capability.MANAGE_STUDIES)
    study = get_object_or_404(Study, code=code)
    try:
        change_study_status(study, body.status, user)
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
    try:
        people = lookup.people_named(body.people, body.emails)
    except lookup.Unknown as e:
        # The body names people who do not exist; the panel or study in the URL does: not a 404.
        raise HttpError(422, str(e)) from None
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
