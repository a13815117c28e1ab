"""Dry run: the form's current mappings applied to its latest real responses, nothing written.

It runs the one writer inside a transaction that is always rolled back, so what it shows is what
ingestion would do — policies, as-of times and unique values included — not a second reading of
the rules.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction

from muster.people.models import Property, Revision
from muster.people.serialise import Viewer, value_json
from muster.people.writes import write
from muster.studies.models import StudyParticipant
from muster.surveys import tools
from muster.surveys.apply import Refusal, apply_mappings, for_applying
from muster.surveys.models import MappingStatus, SurveyForm

LIMIT = 50


@dataclass
class DryRunResponse:
    response_id: str
    participant_id: str
    person: int | None  # the person's id; None when no participant of this study has the ID
    changes: list[dict[str, Any]] = field(default_factory=list)  # {"property", "old", "new"}
    refused: list[dict[str, Any]] = field(default_factory=list)  # {"qid", "part", "reason"}
    note: str = ""  # why nothing applies (no such participant, a test response)


class _RollBack(Exception):
    pass


def dry_run(form: SurveyForm, limit: int, viewer: Viewer) -> list[DryRunResponse]:
    """ToolError when the tool cannot fetch the responses."""
    limit = max(1, min(limit, LIMIT))
    tool = tools.get(form.tool)
    why = tool.unavailable()
    if why:
        raise tools.ToolError(why)
    version = form.version
    if version is None:
        return []
    questions = version.question_defs()
    responses = tool.latest_responses(form.survey_id, questions, form.participant_field, limit)
    by_qid = {q.qid: q for q in questions}
    mappings = for_applying(form.mappings.filter(status=MappingStatus.ACTIVE))
    people = _participants(form, [r.participant_id for r in responses])
    props = {m.property.id: m.property for m in mappings}
    # A form writes each property from one question or part (mappings.save_mappings).
    sources = {m.property.id: (m.qid, m.part or None) for m in mappings}
    out = []
    for r in responses:
        person = people.get(r.participant_id)
        result = DryRunResponse(r.response_id, r.participant_id, person)
        out.append(result)
        if r.is_test:
            result.note = "A test or preview response: it never changes properties."
            continue
        changes, refused = apply_mappings(by_qid, mappings, r.answers, person or 0, r.as_of)
        result.refused = [_refusal(x) for x in refused]
        if person is None:
            result.note = (
                "No participant of this study has this Participant ID: ingestion would keep it unattached."
                if r.participant_id
                else "The response carries no Participant ID: ingestion would keep it unattached."
            )
            continue
        result.changes, skipped = _would_write(changes, props, sources, viewer, r.response_id)
        result.refused += skipped
    return out


def _participants(form: SurveyForm, ids: list[str]) -> dict[str, int]:
    if form.study_id is None:
        return {}
    found = StudyParticipant.objects.filter(study_id=form.study_id, participant_id__in=[i for i in ids if i])
    return dict(found.values_list("participant_id", "person_id"))


def _refusal(r: Refusal) -> dict[str, Any]:
    return {"qid": r.qid, "part": r.part, "reason": r.reason}


def _would_write(
    changes: list[Any],
    props: dict[int, Property],
    sources: dict[int, tuple[str, str | None]],
    viewer: Viewer,
    response_id: str,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    written = None
    try:
        with transaction.atomic():
            written = write(changes, Revision(source="response", source_code=response_id[:100]))
            raise _RollBack
    except _RollBack:
        pass
    assert written is not None
    shown = []
    for _person, prop_id, old, new, _revision in written.history:
        prop = props[prop_id]
        old_value, new_value = json.loads(old), json.loads(new)
        shown.append(
            {
                "property": prop.key,
                "old": value_json(viewer, prop, old_value),
                "new": value_json(viewer, prop, new_value),
            }
        )
    not_written = [
        {
            "qid": sources[s.change.prop.id][0],
            "part": sources[s.change.prop.id][1],
            "reason": f"{s.change.prop.label}: {s.reason}",
        }
        for s in written.skipped + written.refused
    ]
    return shown, not_written
