"""A survey tool held in memory, to test what `surveys` does with what a tool returns.

Flows over real HTTP use the Qualtrics tool against the sandbox; this one lets a test change a
definition between two imports without a second system.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime

from muster.surveys import tools
from muster.surveys.answers import ResponseData
from muster.surveys.models import question_json
from muster.surveys.questions import (
    NPS_GROUPS,
    Choice,
    ImportedDefinition,
    Kind,
    Links,
    Part,
    QuestionDef,
    ReportItem,
    SurveySummary,
)


def choice_question(qid: str, labels: list[str], kind: str = Kind.SINGLE_CHOICE, **extra: object) -> QuestionDef:
    choices = tuple(Choice(str(i), str(i), label) for i, label in enumerate(labels, start=1))
    return QuestionDef(qid, qid.lower(), f"<b>{qid}</b>", f"{qid} text", kind, "MC/SAVR/TX", choices=choices, **extra)  # type: ignore[arg-type]


def text_question(qid: str) -> QuestionDef:
    return QuestionDef(qid, qid.lower(), qid, f"{qid} text", Kind.TEXT, "TE/SL")


def nps_question(qid: str) -> QuestionDef:
    group = tuple(Choice(i, i, label) for i, label in NPS_GROUPS)
    parts = (Part("score", "Score", "number"), Part("group", "Group", "choice", group))
    return QuestionDef(qid, qid.lower(), qid, f"{qid} text", Kind.NPS, "MC/NPS", parts=parts, whole=False)


def slider_question(qid: str, statements: list[str]) -> QuestionDef:
    parts = tuple(Part(str(i), s, "number") for i, s in enumerate(statements, start=1))
    return QuestionDef(qid, qid.lower(), qid, f"{qid} text", Kind.SLIDER, "Slider/HSLIDER", parts=parts, whole=False)


def matrix_question(qid: str) -> QuestionDef:
    return QuestionDef(
        qid, qid.lower(), qid, f"{qid} text", Kind.MATRIX, "Matrix/Likert", reason="Matrix tables can't be mapped yet."
    )


class FakeTool:
    name = "fake"
    label = "Fake tool"

    def __init__(self) -> None:
        self.questions: dict[str, list[QuestionDef]] = {}
        self.responses: dict[str, list[ResponseData]] = {}
        self.down = ""

    def unavailable(self) -> str:
        return self.down

    def surveys(self) -> list[SurveySummary]:
        return [SurveySummary(sid, f"Survey {sid}", True) for sid in self.questions]

    def definition(self, survey_id: str, participant_field: str) -> ImportedDefinition:
        if survey_id not in self.questions:
            raise tools.ToolError("No such survey.")
        questions = tuple(replace(q, position=i) for i, q in enumerate(self.questions[survey_id]))
        digest = hashlib.sha256(json.dumps([question_json(q) for q in questions]).encode()).hexdigest()
        report = (ReportItem("Participant ID field", True),)
        return ImportedDefinition(
            survey_id,
            f"Survey {survey_id}",
            questions,
            report,
            datetime(2026, 1, 1, tzinfo=UTC),
            digest,
            "brand1",
            "https://fake.example",
        )

    def latest_responses(
        self, survey_id: str, questions: Sequence[QuestionDef], participant_field: str, limit: int
    ) -> list[ResponseData]:
        return self.responses.get(survey_id, [])[:limit]

    def links(self, survey_id: str, base_url: str) -> Links:
        return Links(f"{base_url}/take/{survey_id}", f"{base_url}/edit/{survey_id}", f"{base_url}/data/{survey_id}")


@contextmanager
def fake_tool() -> Iterator[FakeTool]:
    tool = FakeTool()
    tools.register(tool)
    try:
        yield tool
    finally:
        tools.tools.pop(tool.name, None)
