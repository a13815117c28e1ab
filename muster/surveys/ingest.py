"""Ingestion: the one function every path (return redirect, webhook, reconciliation export) hands
responses to (DESIGN §8). Tool-neutral: the tool hands over readers, which turn the raw response it
holds into a ResponseData under a given definition.

A batch of one survey's responses is stored and applied in one short transaction; idempotent by
the unique (tool, brand, survey, response id) constraint, so replays, races and three paths at once
change nothing twice.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models.signals import post_delete
from django.dispatch import receiver
from django.utils.timezone import now

from muster.people.models import Revision, Source
from muster.people.sql import insert_many, update_many
from muster.people.writes import Change, write
from muster.studies.models import ParticipantStatus, StudyParticipant
from muster.studies.participants import advance_many
from muster.surveys.answers import AnswerValue, ResponseData
from muster.surveys.apply import apply_mappings, for_applying
from muster.surveys.models import (
    ErasedResponse,
    MappingStatus,
    OwnerKind,
    QuestionMapping,
    Response,
    SurveyForm,
)
from muster.surveys.questions import QuestionDef

# (the questions of the definition to read with, the form's participant field) -> the response.
Reader = Callable[[Sequence[QuestionDef], str], ResponseData]


@dataclass
class Ingested:
    response_id: str
    # created | updated (an edit, re-applied) | unchanged (a replay) | erased (refused: it was
    # deleted with an erased person) | dropped (no form uses the survey)
    outcome: str
    changed: int = 0  # property values it changed
    errors: list[dict[str, object]] = field(default_factory=list)


def forms_using(tool: str, brand: str, survey_id: str) -> list[SurveyForm]:
    """The attached forms of this survey, whatever their owner, oldest first."""
    forms = SurveyForm.objects.filter(tool=tool, brand=brand, survey_id=survey_id, detached_at=None)
    return list(forms.select_related("version", "study").order_by("attached_at", "id"))


def erased_digest(tool: str, brand: str, survey_id: str, response_id: str) -> str:
    return hashlib.sha256(f"{tool}\n{brand}\n{survey_id}\n{response_id}".encode()).hexdigest()


@receiver(post_delete, sender=Response)
def remember_erased(sender: type[Response], instance: Response, **kwargs: Any) -> None:
    """Responses are deleted only with an erased person: remember them, by hash, so none comes back."""
    digest = erased_digest(instance.tool, instance.brand, instance.survey_id, instance.response_id)
    ErasedResponse.objects.get_or_create(digest=digest)


# The statuses a response moves its participant to, by the step of its form: (started, completed).
STEPS = {
    OwnerKind.SCREENER: (ParticipantStatus.SCREENER_STARTED, ParticipantStatus.SCREENER_COMPLETED),
    OwnerKind.SURVEY: (ParticipantStatus.SURVEY_STARTED, ParticipantStatus.SURVEY_COMPLETED),
}


def ingest(tool: str, brand: str, survey_id: str, reads: Sequence[Reader]) -> list[Ingested]:
    """Stores, attaches and applies a batch of one survey's responses; one Ingested per reader.

    Each response is read with the definition version of the form it routes to (the form of the
    study whose participant has the Participant ID it carries), and records that version.
    """
    forms = forms_using(tool, brand, survey_id)
    if not forms:
        return [Ingested(read((), "").response_id, "dropped") for read in reads]
    first = forms[0]
    by_study = {f.study_id: f for f in forms if f.study_id is not None}
    questions = {f.id: f.version.question_defs() if f.version else [] for f in forms}
    datas = [read(questions[first.id], first.participant_field) for read in reads]
    participants = {
        p.participant_id: p
        for p in StudyParticipant.objects.filter(
            participant_id__in=[d.participant_id for d in datas if d.participant_id], study_id__in=list(by_study)
        )
    }
    routed: list[tuple[ResponseData, SurveyForm, StudyParticipant | None]] = []
    for read, data in zip(reads, datas, strict=True):
        participant = participants.get(data.participant_id)
        form = by_study[participant.study_id] if participant is not None else first
        if form.id != first.id and (
            form.version_id != first.version_id or form.participant_field != first.participant_field
        ):
            data = read(questions[form.id], form.participant_field)
        routed.append((data, form, participant))
    erased = set(
        ErasedResponse.objects.filter(
            digest__in=[erased_digest(tool, brand, survey_id, d.response_id) for d, _, _ in routed]
        ).values_list("digest", flat=True)
    )
    mappings = {f.id: for_applying(f.mappings.filter(status=MappingStatus.ACTIVE)) for f in forms}
    by_qid = {form_id: {q.qid: q for q in qs} for form_id, qs in questions.items()}
    live = [(d, f, p) for d, f, p in routed if erased_digest(tool, brand, survey_id, d.response_id) not in erased]
    for attempt in range(3):
        try:
            with transaction.atomic():
                plans, results = _plan(tool, brand, survey_id, live)
                _apply(plans, by_qid, mappings)
                _write_rows(plans)
                _advance(plans)
                _count_unknown(plans)
            break
        except IntegrityError:
            # Another path stored one of these meanwhile (the unique constraint): all of this batch
            # was rolled back; plan it again against what is held now.
            if attempt == 2:
                raise
    given = iter(results)
    return [
        Ingested(d.response_id, "erased")
        if erased_digest(tool, brand, survey_id, d.response_id) in erased
        else next(given)
        for d, _, _ in routed
    ]


@dataclass
class Plan:
    data: ResponseData
    form: SurveyForm
    participant: StudyParticipant | None
    row: Response
    result: Ingested
    test: bool


def _plan(
    tool: str, brand: str, survey_id: str, routed: list[tuple[ResponseData, SurveyForm, StudyParticipant | None]]
) -> tuple[dict[str, Plan], list[Ingested]]:
    """What each response is: new, an edit of a held one (re-applied), or a replay (nothing)."""
    held = {
        r.response_id: r
        for r in Response.objects.filter(
            tool=tool, brand=brand, survey_id=survey_id, response_id__in=[d.response_id for d, _, _ in routed]
        )
    }
    plans: dict[str, Plan] = {}
    results: list[Ingested] = []  # one per response given, in order
    for data, form, participant in routed:
        earlier = plans.get(data.response_id)
        existing = earlier.row if earlier else held.get(data.response_id)
        if existing is not None and not _newer(data, existing):
            results.append(Ingested(data.response_id, "unchanged"))
            continue
        test = data.is_test or (participant is not None and participant.is_test)
        row = existing or Response(tool=tool, brand=brand, survey_id=survey_id, response_id=data.response_id)
        for name, value in _fields(data, form, participant, test).items():
            setattr(row, name, value)
        outcome = "created" if row.pk is None and earlier is None else "updated"
        plans[data.response_id] = Plan(data, form, participant, row, Ingested(data.response_id, outcome), test)
        results.append(plans[data.response_id].result)
    return plans, results


def _write_rows(plans: dict[str, Plan]) -> None:
    """The new responses in one INSERT, the edited ones in one UPDATE, errors included."""
    _insert([p.row for p in plans.values() if p.row.pk is None])
    _update([p.row for p in plans.values() if p.row.pk is not None], UPDATED)


# Columns an edit rewrites, with their type for PostgreSQL's VALUES list (whose columns are text
# unless cast); SQLite takes the values as they are.
UPDATED = {
    "form_id": "integer",
    "version_id": "integer",
    "person_id": "integer",
    "participant_id": "integer",
    "carried_id": "text",
    "flagged": "boolean",
    "finished": "boolean",
    "progress": "integer",
    "recorded_at": "timestamp with time zone",
    "last_modified_at": "timestamp with time zone",
    "channel": "text",
    "is_test": "boolean",
    "raw": "jsonb",
    "answers": "jsonb",
    "unknown_keys": "jsonb",
    "errors": "jsonb",
    "updated_at": "timestamp with time zone",
}
JSON_COLUMNS = {"raw", "answers", "unknown_keys", "errors"}


INSERTED = ["code", "tool", "brand", "survey_id", "response_id", "received_at", *UPDATED]


def _insert(rows: list[Response]) -> None:
    """INSERTs new responses in a statement per batch (COPY on PostgreSQL): Django's bulk_create
    prepares every value of every row through its field machinery, slower than the write."""
    if not rows:
        return
    fields = {f.attname: f for f in Response._meta.concrete_fields}

    def value(row: Response, column: str) -> Any:
        found = getattr(row, column)
        if column in JSON_COLUMNS:
            return json.dumps(found)
        return fields[column].get_db_prep_save(found, connection)

    insert_many(Response, INSERTED, [[value(row, c) for c in INSERTED] for row in rows])


def _update(rows: list[Response], columns: dict[str, str]) -> None:
    """UPDATEs these responses' columns in a statement per batch (plain SQL: Django's bulk_update
    builds a CASE per column and row, slower than the rows it writes)."""
    if not rows:
        return
    postgres = connection.vendor == "postgresql"
    adapt = connection.ops.adapt_datetimefield_value
    assignments = ", ".join(
        f"{connection.ops.quote_name(c)} = " + (f"CAST({{}} AS {t})" if postgres else "{}") for c, t in columns.items()
    )

    def value(row: Response, column: str) -> Any:
        found = getattr(row, column)
        if column in JSON_COLUMNS:
            return json.dumps(found)
        if isinstance(found, datetime):
            return adapt(found)
        return found

    update_many(Response, assignments, [[row.pk, *(value(row, c) for c in columns)] for row in rows])


def _fields(data: ResponseData, form: SurveyForm, participant: StudyParticipant | None, test: bool) -> dict[str, Any]:
    return {
        "form": form,
        "version": form.version,
        "person_id": participant.person_id if participant else None,
        "participant": participant,
        "carried_id": data.participant_id[:200],
        "flagged": participant is None,
        "finished": data.finished,
        "progress": max(0, min(data.progress, 100)),
        "recorded_at": data.recorded_at,
        "last_modified_at": data.last_modified_at,
        "channel": data.channel[:40],
        "is_test": test,
        "raw": data.raw,
        "answers": {(a.qid if a.part is None else f"{a.qid}:{a.part}"): _json(a.value) for a in data.answers},
        "unknown_keys": data.unknown_keys,
        "errors": [],
        "updated_at": now(),
    }


def _newer(data: ResponseData, held: Response) -> bool:
    """Whether this copy of a held response should replace it: changed since, or the same time with
    other contents (an equal as-of replaces; an older copy never does)."""
    held_as_of = held.last_modified_at or held.recorded_at
    if data.as_of is None or held_as_of is None:
        return data.raw != held.raw
    if data.as_of != held_as_of:
        return data.as_of > held_as_of
    return data.raw != held.raw


def _apply(
    plans: dict[str, Plan], by_qid: dict[int, dict[str, QuestionDef]], mappings: dict[int, list[QuestionMapping]]
) -> None:
    """The batch's answers through the one writer in one call, each change under its response's own
    revision (history points at the response); refusals recorded on the response they concern."""
    changes: list[Change] = []
    owner: dict[int, Plan] = {}  # id(change) -> its response
    latest: dict[tuple[int, int], Change] = {}
    for plan in plans.values():
        if plan.participant is None or plan.test:
            continue
        found, refused = apply_mappings(
            by_qid[plan.form.id], mappings[plan.form.id], plan.data.answers, plan.participant.person_id, plan.data.as_of
        )
        plan.row.errors = [{"qid": r.qid, "part": r.part, "reason": r.reason} for r in refused]
        for change in found:
            owner[id(change)] = plan
            # A person's two responses in one batch: the writer takes one change of a value, the newest.
            key = (change.person, change.prop.id)
            kept = latest.get(key)
            if kept is None or _moment(change) >= _moment(kept):
                latest[key] = change
    changes = list(latest.values())
    if changes:
        stamp = now()
        answering = list({id(owner[id(c)]): owner[id(c)] for c in changes}.values())
        revisions = Revision.objects.bulk_create(
            [Revision(source=Source.RESPONSE, source_code=str(p.row.code), at=stamp) for p in answering]
        )
        ids = {id(p): r.pk for p, r in zip(answering, revisions, strict=True)}
        for c in changes:
            c.revision = ids[id(owner[id(c)])]
        written = write(changes, Revision(source=Source.RESPONSE, at=stamp))
        sources = {(f, m.property_id): (m.qid, m.part or None) for f, ms in mappings.items() for m in ms}
        by_revision = {ids[id(p)]: p for p in answering}
        for row in written.history:
            by_revision[row[4]].result.changed += 1
        for s in written.refused:
            plan = owner[id(s.change)]
            qid, part = sources.get((plan.form.id, s.change.prop.id), ("", None))
            plan.row.errors.append({"qid": qid, "part": part, "reason": f"{s.change.prop.label}: {s.reason}"})
    for plan in plans.values():
        plan.result.errors = plan.row.errors


def _moment(change: Change) -> datetime:
    return change.as_of or datetime.min.replace(tzinfo=UTC)


def _advance(plans: dict[str, Plan]) -> None:
    """Participants move forward with the response's own times, as `advance` moves them."""
    moves: dict[str, dict[int, datetime]] = {}
    for plan in plans.values():
        steps = STEPS.get(OwnerKind(plan.form.owner_kind))
        if plan.participant is None or plan.test or steps is None:
            continue
        started, completed = steps
        data = plan.data
        moves.setdefault(started, {})[plan.participant.id] = data.started_at or data.recorded_at or now()
        if data.finished:
            moves.setdefault(completed, {})[plan.participant.id] = data.recorded_at or now()
    # Started first: a completed response also stamps when it was begun.
    for target in (*(s for s, _ in STEPS.values()), *(c for _, c in STEPS.values())):
        advance_many(target, moves.get(target, {}))


def _json(value: AnswerValue) -> object:
    return list(value) if isinstance(value, tuple) else value


def _count_unknown(plans: dict[str, Plan]) -> None:
    """Adds the keys the reader did not understand, per question, to each form's counts."""
    counts: dict[int, Counter[str]] = {}
    for plan in plans.values():
        if plan.data.unknown_keys:
            counts.setdefault(plan.form.id, Counter()).update(plan.data.unknown_keys)
    for form_id, found in counts.items():
        form = SurveyForm.objects.select_for_update(of=("self",)).get(id=form_id)
        held = Counter(form.unknown_keys)
        held.update(found)
        SurveyForm.objects.filter(id=form_id).update(unknown_keys=dict(held))
