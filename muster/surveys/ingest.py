"""Ingestion: the one function every path (return redirect, webhook, reconciliation export) hands
responses to (DESIGN §8). Tool-neutral: the tool hands over readers, which turn the raw response it
holds into a ResponseData under a given definition.

A batch of one survey's responses is stored and applied in one short transaction; idempotent by
the unique (tool, brand, survey, response id) constraint, so replays, races and three paths at once
change nothing twice.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models.signals import post_delete
from django.dispatch import receiver
from django.utils.timezone import now

from muster.people.models import Revision, Source
from muster.people.writes import write
from muster.studies.models import ParticipantStatus, StudyParticipant
from muster.studies.participants import advance
from muster.surveys.answers import AnswerValue, ResponseData
from muster.surveys.apply import apply_mappings, for_applying
from muster.surveys.models import (
    DefinitionVersion,
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
    out = []
    with transaction.atomic():
        held = {
            r.response_id: r
            for r in Response.objects.filter(
                tool=tool, brand=brand, survey_id=survey_id, response_id__in=[d.response_id for d, _, _ in routed]
            )
        }
        unknown: dict[int, Counter[str]] = {}
        for data, form, participant in routed:
            if erased_digest(tool, brand, survey_id, data.response_id) in erased:
                out.append(Ingested(data.response_id, "erased"))
                continue
            result = _one(tool, brand, survey_id, data, form, participant, held, mappings[form.id])
            if result.outcome in ("created", "updated"):
                unknown.setdefault(form.id, Counter()).update(data.unknown_keys)
            out.append(result)
        for form_id, counts in unknown.items():
            if counts:
                _count_unknown(form_id, counts)
    return out


def _one(
    tool: str,
    brand: str,
    survey_id: str,
    data: ResponseData,
    form: SurveyForm,
    participant: StudyParticipant | None,
    held: dict[str, Response],
    mappings: list[QuestionMapping],
) -> Ingested:
    existing = held.get(data.response_id)
    if existing is not None and not _newer(data, existing):
        return Ingested(data.response_id, "unchanged")
    test = data.is_test or (participant is not None and participant.is_test)
    fields = {
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
        "updated_at": now(),
    }
    outcome = "updated"
    if existing is None:
        try:
            with transaction.atomic():
                existing = Response.objects.create(
                    tool=tool, brand=brand, survey_id=survey_id, response_id=data.response_id, **fields
                )
            outcome = "created"
        except IntegrityError:
            # Another path stored it meanwhile: treat it as held.
            existing = Response.objects.get(tool=tool, brand=brand, survey_id=survey_id, response_id=data.response_id)
            if not _newer(data, existing):
                return Ingested(data.response_id, "unchanged")
    if outcome == "updated":
        for name, value in fields.items():
            setattr(existing, name, value)
    result = Ingested(data.response_id, outcome)
    errors: list[dict[str, object]] = []
    if participant is not None and not test:
        errors = _apply(existing, data, form.version, participant, mappings, result)
        _advance(participant, form, data)
    existing.errors = errors
    existing.save()
    result.errors = errors
    held[data.response_id] = existing
    return result


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
    response: Response,
    data: ResponseData,
    version: DefinitionVersion | None,
    participant: StudyParticipant,
    mappings: list[QuestionMapping],
    result: Ingested,
) -> list[dict[str, object]]:
    questions = {q.qid: q for q in (version.question_defs() if version else [])}
    changes, refused = apply_mappings(questions, mappings, data.answers, participant.person_id, data.as_of)
    errors: list[dict[str, object]] = [{"qid": r.qid, "part": r.part, "reason": r.reason} for r in refused]
    if not changes:
        return errors
    sources = {m.property_id: (m.qid, m.part or None) for m in mappings}
    revision = Revision(source=Source.RESPONSE, source_code=str(response.code), at=now())
    written = write(changes, revision)
    result.changed = len(written.history)
    for s in written.refused:
        qid, part = sources.get(s.change.prop.id, ("", None))
        errors.append({"qid": qid, "part": part, "reason": f"{s.change.prop.label}: {s.reason}"})
    return errors


def _advance(participant: StudyParticipant, form: SurveyForm, data: ResponseData) -> None:
    started, completed = STEPS.get(OwnerKind(form.owner_kind), (None, None))
    if started is None or completed is None:
        return
    begun = data.started_at or data.recorded_at or now()
    advance(participant, started, begun)
    if data.finished:
        advance(participant, completed, data.recorded_at or now())


def _json(value: AnswerValue) -> object:
    return list(value) if isinstance(value, tuple) else value


def _count_unknown(form_id: int, counts: Counter[str]) -> None:
    form = SurveyForm.objects.select_for_update(of=("self",)).get(id=form_id)
    held = Counter(form.unknown_keys)
    held.update(counts)
    SurveyForm.objects.filter(id=form_id).update(unknown_keys=dict(held))
