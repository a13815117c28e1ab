"""REST API of the Qualtrics loop's forms (DESIGN §5.7): attach and detach per study step, a form
with its questions and report, its mappings, a dry run, a re-import."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from django.core.paginator import Paginator
from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from ninja import Field, Query, Router, Schema
from ninja.errors import HttpError

from muster.accounts.roles import Capability, can
from muster.api.common import BODY_ERRORS, require
from muster.api.schemas import Input, JsonInt
from muster.people.serialise import MASK, Viewer
from muster.people.writes import Policy
from muster.studies.models import Study
from muster.surveys import tools
from muster.surveys.attach import Owner, Reimported, attach, attached_form, detach, reimport
from muster.surveys.dryrun import LIMIT, dry_run
from muster.surveys.mappings import Wanted, save_mappings
from muster.surveys.models import OwnerKind, QuestionMapping, Response, SurveyForm
from muster.surveys.questions import Kind

router: Router = Router(tags=["surveys"])

TOOL_ERRORS: dict[int, Any] = {**BODY_ERRORS, 409: Any, 503: Any}


class AttachIn(Input):
    tool: str = Field(min_length=1, max_length=40)
    survey_id: str = Field(min_length=1, max_length=100)


class OwnerOut(Schema):
    kind: OwnerKind
    study: UUID | None
    panel: UUID | None


class ReportItemOut(Schema):
    item: str
    ok: bool
    fix: str


class PartOut(Schema):
    part: str
    label: str


class ChoiceOut(Schema):
    id: str
    recode: str
    label: str


class QuestionOut(Schema):
    qid: str
    export_tag: str
    text: str
    kind: str
    support: str
    reason: str
    parts: list[PartOut]
    choices: list[ChoiceOut]
    flags: list[str]
    removed: bool


class MappingOut(Schema):
    code: UUID
    qid: str
    part: str | None
    property: str
    options: dict[str, Any]
    policy: Policy
    status: str
    reason: str
    version: int | None


class ChangeOut(Schema):
    qid: str
    change: str
    detail: str


class FormOut(Schema):
    code: UUID
    owner: OwnerOut
    tool: str
    survey_id: str
    survey_name: str
    participant_field: str
    version: int | None
    attached: bool
    view_in_qualtrics_url: str
    report: list[ReportItemOut]
    questions: list[QuestionOut]
    mappings: list[MappingOut]
    # What the last re-import found, and the mappings it paused; empty otherwise.
    changes: list[ChangeOut] = []
    paused: list[UUID] = []


class MappingIn(Input):
    qid: str = Field(min_length=1, max_length=100)
    part: str | None = Field(None, max_length=200)
    property: str | None = Field(None, max_length=64)
    create: dict[str, str] | None = None
    options: dict[str, str | bool | None] = {}
    policy: Policy = Policy.OVERWRITE


class MappingsIn(Input):
    mappings: list[MappingIn] = Field(max_length=1000)


class RefusedOut(Schema):
    index: int
    reason: str


class MappingsOut(Schema):
    mappings: list[MappingOut]
    refused: list[RefusedOut]


class ResponseOut(Schema):
    code: UUID
    response_id: str
    participant_id: str  # as the response carries it (the tool's participant field)
    person: UUID | None
    finished: bool
    progress: int
    recorded_at: datetime | None
    is_test: bool
    flagged: bool  # kept unattached: no valid Participant ID
    version: int | None
    answers: dict[str, Any]  # {"<qid>" or "<qid>:<part>": value}
    errors: list[dict[str, Any]]


class ResponsePage(Schema):
    count: int
    page: int
    pages: int
    items: list[ResponseOut]


class DryRunIn(Input):
    limit: JsonInt = Field(10, ge=1, le=LIMIT)


class ValueChangeOut(Schema):
    property: str
    old: Any
    new: Any


class AnswerRefusedOut(Schema):
    qid: str
    part: str | None
    reason: str


class DryRunResponseOut(Schema):
    response_id: str
    participant_id: str
    changes: list[ValueChangeOut]
    refused: list[AnswerRefusedOut]
    note: str


class DryRunOut(Schema):
    responses: list[DryRunResponseOut]


def mapping_out(m: QuestionMapping) -> dict[str, Any]:
    labels = {o.id: o.label for o in m.property.options.all()}
    options = {c: (v if isinstance(v, bool) else labels.get(v, "")) for c, v in m.options.items()}
    return {
        "code": m.code,
        "qid": m.qid,
        "part": m.part or None,
        "property": m.property.key,
        "options": options,
        "policy": m.policy,
        "status": m.status,
        "reason": m.paused_reason,
        "version": m.version.number if m.version else None,
    }


def form_out(form: SurveyForm, reimported: Reimported | None = None) -> dict[str, Any]:
    version = form.version
    try:
        edit = tools.get(form.tool).links(form.survey_id, form.base_url).edit
    except tools.ToolError:
        edit = ""
    mappings = form.mappings.select_related("property", "version").prefetch_related("property__options")
    return {
        "code": form.code,
        "owner": {
            "kind": form.owner_kind,
            "study": form.study.code if form.study else None,
            "panel": form.panel.code if form.panel else None,
        },
        "tool": form.tool,
        "survey_id": form.survey_id,
        "survey_name": form.survey_name,
        "participant_field": form.participant_field,
        "version": version.number if version else None,
        "attached": form.attached,
        "view_in_qualtrics_url": edit,
        "report": version.report if version else [],
        "questions": [
            {
                "qid": q.qid,
                "export_tag": q.export_tag,
                "text": q.text,
                "kind": q.kind,
                "support": q.support,
                "reason": q.reason,
                "parts": [{"part": p["part"], "label": p["label"]} for p in q.parts],
                "choices": [{"id": c["id"], "recode": c["recode"], "label": c["label"]} for c in q.choices],
                "flags": q.flags,
                "removed": q.removed,
            }
            for q in form.questions.all()
        ],
        "mappings": [mapping_out(m) for m in mappings],
        "changes": reimported.changes if reimported else [],
        "paused": [m.code for m in reimported.paused] if reimported else [],
    }


def _form(code: UUID) -> SurveyForm:
    return get_object_or_404(SurveyForm.objects.select_related("version", "study", "panel"), code=code)


def _tool_error(e: tools.ToolError) -> HttpError:
    return HttpError(503 if e.transient else 409, str(e))


def _attach(request: HttpRequest, code: UUID, kind: str, body: AttachIn) -> dict[str, Any]:
    user = require(request, Capability.MANAGE_STUDIES)
    study = get_object_or_404(Study, code=code)
    try:
        form = attach(Owner(kind, study=study), body.tool, body.survey_id, user)
    except tools.ToolError as e:
        raise _tool_error(e) from None
    return form_out(_form(form.code))


def _detach(request: HttpRequest, code: UUID, kind: str) -> dict[str, Any]:
    user = require(request, Capability.MANAGE_STUDIES)
    study = get_object_or_404(Study, code=code)
    form = attached_form(Owner(kind, study=study))
    if form is None:
        raise HttpError(404, f"This study has no {OwnerKind(kind).label.lower()} attached.")
    detach(form, user)
    return form_out(_form(form.code))


@router.put("/studies/{code}/screener", response={200: FormOut, **TOOL_ERRORS}, summary="Attach the screener")
def put_screener(request: HttpRequest, code: UUID, body: AttachIn) -> dict[str, Any]:
    return _attach(request, code, OwnerKind.SCREENER, body)


@router.put("/studies/{code}/survey", response={200: FormOut, **TOOL_ERRORS}, summary="Attach the survey")
def put_survey(request: HttpRequest, code: UUID, body: AttachIn) -> dict[str, Any]:
    return _attach(request, code, OwnerKind.SURVEY, body)


@router.delete(
    "/studies/{code}/screener", response={200: FormOut, **BODY_ERRORS}, summary="Detach the screener (keeps responses)"
)
def delete_screener(request: HttpRequest, code: UUID) -> dict[str, Any]:
    return _detach(request, code, OwnerKind.SCREENER)


@router.delete(
    "/studies/{code}/survey", response={200: FormOut, **BODY_ERRORS}, summary="Detach the survey (keeps responses)"
)
def delete_survey(request: HttpRequest, code: UUID) -> dict[str, Any]:
    return _detach(request, code, OwnerKind.SURVEY)


@router.get("/forms/{code}", response={200: FormOut, **BODY_ERRORS}, summary="A form, its questions and report")
def get_form(request: HttpRequest, code: UUID) -> dict[str, Any]:
    require(request, Capability.VIEW)
    return form_out(_form(code))


@router.put(
    "/forms/{code}/mappings",
    response={200: MappingsOut, **BODY_ERRORS},
    summary="Replace the form's mappings (refusals listed with reasons, the rest saved)",
)
def put_mappings(request: HttpRequest, code: UUID, body: MappingsIn) -> dict[str, Any]:
    user = require(request, Capability.MANAGE_STUDIES)
    form = _form(code)
    wanted = [
        Wanted(m.qid, m.part or None, m.property, m.create, {k: v for k, v in m.options.items()}, m.policy)
        for m in body.mappings
    ]
    saved = save_mappings(form, wanted, user, may_create=can(user, Capability.CREATE_PROPERTY_FROM_MAPPING))
    mappings = form.mappings.select_related("property", "version").prefetch_related("property__options")
    return {
        "mappings": [mapping_out(m) for m in mappings],
        "refused": [{"index": i, "reason": r} for i, r in saved.refused],
    }


@router.post(
    "/forms/{code}/dry-run",
    response={200: DryRunOut, **TOOL_ERRORS},
    summary="The mappings applied to the latest responses; nothing is written",
)
def post_dry_run(request: HttpRequest, code: UUID, body: DryRunIn) -> dict[str, Any]:
    user = require(request, Capability.MANAGE_STUDIES)
    form = _form(code)
    try:
        results = dry_run(form, body.limit, Viewer.of(user))
    except tools.ToolError as e:
        raise _tool_error(e) from None
    return {"responses": [r.__dict__ for r in results]}


@router.get(
    "/forms/{code}/responses",
    response={200: ResponsePage, **BODY_ERRORS},
    summary="A form's responses, newest first, with their answers and errors",
)
def list_responses(
    request: HttpRequest, code: UUID, page: int = Query(1, ge=1), page_size: int = Query(50, ge=1, le=200)
) -> dict[str, Any]:
    user = require(request, Capability.VIEW)
    form = _form(code)
    rows = form.responses.select_related("person", "version").order_by("-recorded_at", "-id")
    paginator = Paginator(rows, page_size)
    count = paginator.count
    items = list(rows[(page - 1) * page_size : page * page_size])
    hidden = masked_answers(form, Viewer.of(user))
    return {
        "count": count,
        "page": page,
        "pages": paginator.num_pages,
        "items": [response_out(r, hidden) for r in items],
    }


def masked_answers(form: SurveyForm, viewer: Viewer) -> set[str]:
    """The answer keys a viewer who may not see PII gets masked: those mapped to a PII property, and
    every free-text answer (people type their names and emails anywhere)."""
    if viewer.pii:
        return set()
    hidden = {
        m.qid if not m.part else f"{m.qid}:{m.part}" for m in form.mappings.select_related("property") if m.property.pii
    }
    for q in form.questions.all():
        if q.kind == Kind.TEXT:
            hidden.add(q.qid)
        hidden |= {f"{q.qid}:{p['part']}" for p in q.parts if p.get("kind") == "text"}
    return hidden


def response_out(r: Response, hidden: set[str]) -> dict[str, Any]:
    return {
        "code": r.code,
        "response_id": r.response_id,
        "participant_id": r.carried_id,
        "person": r.person.code if r.person else None,
        "finished": r.finished,
        "progress": r.progress,
        "recorded_at": r.recorded_at,
        "is_test": r.is_test,
        "flagged": r.flagged,
        "version": r.version.number if r.version else None,
        "answers": {k: (MASK if k in hidden and v not in (None, "", []) else v) for k, v in r.answers.items()},
        "errors": r.errors,
    }


@router.post("/forms/{code}/reimport", response={200: FormOut, **TOOL_ERRORS}, summary="Import the definition again")
def post_reimport(request: HttpRequest, code: UUID) -> dict[str, Any]:
    require(request, Capability.MANAGE_STUDIES)
    form = _form(code)
    try:
        result = reimport(form)
    except tools.ToolError as e:
        raise _tool_error(e) from None
    return form_out(_form(code), result)


__all__ = ["router"]
