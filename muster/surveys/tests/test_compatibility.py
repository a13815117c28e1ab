"""The compatibility table, cell by cell: every (question shape, property type) pair."""

from __future__ import annotations

import pytest

from muster.people.models import PropertyType as T
from muster.surveys.compatibility import refusal
from muster.surveys.questions import Kind, Part, QuestionDef
from muster.surveys.tests.fake import choice_question, matrix_question, nps_question, slider_question, text_question

SINGLE = choice_question("QID1", ["A", "B"])
MULTI = choice_question("QID2", ["A", "B"], kind=Kind.MULTIPLE_CHOICE)
OTHER = choice_question("QID3", ["A", "Other"], parts=(Part("2_text", "Other", "text"),))
TEXT = text_question("QID4")
FORM = QuestionDef(
    "QID5", "q5", "", "Household", Kind.FORM, "TE/FORM", parts=(Part("1", "Adults", "text"),), whole=False
)
SLIDER = slider_question("QID6", ["Fast"])
RANK = QuestionDef(
    "QID7", "q7", "", "Rank", Kind.RANK_ORDER, "RO/DND", parts=(Part("1", "Price", "number"),), whole=False
)
NPS = nps_question("QID8")

OK = None
# (question, part) -> the property types it may write to; every other type is refused.
ALLOWED = {
    (SINGLE, None): {T.TEXT, T.NUMBER, T.BOOLEAN, T.SINGLE_SELECT, T.MULTI_SELECT},
    (MULTI, None): {T.TEXT, T.MULTI_SELECT},
    (OTHER, None): {T.TEXT, T.NUMBER, T.BOOLEAN, T.SINGLE_SELECT, T.MULTI_SELECT},
    (OTHER, "2_text"): {T.TEXT},
    (TEXT, None): {T.TEXT, T.NUMBER, T.DATE, T.BOOLEAN, T.SINGLE_SELECT},
    (FORM, "1"): {T.TEXT, T.NUMBER, T.DATE, T.BOOLEAN, T.SINGLE_SELECT},
    (SLIDER, "1"): {T.TEXT, T.NUMBER},
    (RANK, "1"): {T.TEXT, T.NUMBER},
    (NPS, "score"): {T.TEXT, T.NUMBER},
    (NPS, "group"): {T.TEXT, T.SINGLE_SELECT, T.MULTI_SELECT},
}
CELLS = [(q, part, t) for (q, part) in ALLOWED for t in T.values]


@pytest.mark.parametrize(("question", "part", "prop_type"), CELLS, ids=[f"{q.kind}-{p}-{t}" for q, p, t in CELLS])
def test_each_cell_allows_or_refuses_with_a_reason(question: QuestionDef, part: str | None, prop_type: str) -> None:
    why = refusal(question, part, prop_type)
    if prop_type in ALLOWED[(question, part)]:
        assert why is OK
    else:
        assert why and why.endswith(".")


@pytest.mark.parametrize("prop_type", T.values)
def test_an_unsupported_question_is_refused_with_its_own_reason(prop_type: str) -> None:
    assert refusal(matrix_question("QID9"), None, prop_type) == "Matrix tables can't be mapped yet."


@pytest.mark.parametrize("question", [FORM, SLIDER, RANK, NPS])
def test_a_question_that_answers_by_parts_cannot_be_mapped_whole(question: QuestionDef) -> None:
    why = refusal(question, None, T.TEXT)
    assert why and "parts" in why


def test_a_part_the_question_does_not_have_is_refused_naming_the_parts() -> None:
    assert refusal(SLIDER, "9", T.NUMBER) == "The question has no part “9” (its parts: 1)."


def test_a_single_text_question_has_no_parts() -> None:
    assert refusal(TEXT, "1", T.TEXT) == "The question has no part “1” (its parts: none)."
