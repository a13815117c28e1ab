"""Ingestion: the one function every path (return redirect, webhook, reconciliation export) hands
responses to (DESIGN §8). Tool-neutral: the tool hands over readers, which turn the raw response it
holds into a ResponseData under a given definition.

A batch of one survey's responses is stored and applied in one short transaction; idempotent by
the unique (tool, brand, survey, response id) constraint, so replays, races and three paths at once
change nothing twice.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from muster.surveys.answers import ResponseData
from muster.surveys.models import SurveyForm
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


def ingest(tool: str, brand: str, survey_id: str, reads: Sequence[Reader]) -> list[Ingested]:
    """Stores, attaches and applies a batch of one survey's responses; one Ingested per reader."""
    raise NotImplementedError
