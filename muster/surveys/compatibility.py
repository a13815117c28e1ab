"""Which questions (and sub-parts) may write to which property types: one table (issue 15).

A cell is None when the pair is compatible, else the reason it is refused. Rows are the shape of
what a question or part answers; columns the property types. Unsupported and not-answerable
questions are refused with their own reason before the table is asked.
"""

from __future__ import annotations

from muster.people.models import PropertyType as T
from muster.surveys.questions import NPS_GROUP, NPS_SCORE, OTHER_TEXT_SUFFIX, Choice, Kind, QuestionDef, Support

ONE = "single_choice"  # one choice of several
MANY = "multiple_choice"  # any number of choices
OTHER = "other_text"  # the text of an "other, please specify" choice
TEXT = "text"  # a typed answer: a text entry or a form field
POSITION = "slider_statement"  # a slider statement's position
RANK = "rank_item"  # a rank order item's rank, 1 the top
SCORE = "nps_score"  # 0 to 10
GROUP = "nps_group"  # detractor, passive, promoter

NOT_A_DATE = "Its answers are not dates."
NOT_A_NUMBER = "Its answers are not numbers."
MANY_NOT_ONE = "Several answers do not fit one value: map it to a multi-select property."
TEXT_NOT_LIST = "A typed answer is one value: map it to a text, number, date, yes/no or single-select property."
ONLY_TEXT = "It is free text: map it to a text property."
NO_YES_NO = "Its answers are not yes or no."
NUMBER_OR_TEXT = "Its answers are numbers: map it to a number or text property."

# Shape × property type. The comments say what is written when the pair is compatible.
TABLE: dict[str, dict[str, str | None]] = {
    ONE: {
        T.TEXT: None,  # the choice's label
        T.NUMBER: None,  # the choice's recode value; an answer whose recode is not a number is refused
        T.DATE: NOT_A_DATE,
        T.BOOLEAN: None,  # each choice mapped to yes or no
        T.SINGLE_SELECT: None,  # each choice mapped to an option
        T.MULTI_SELECT: None,  # each choice mapped to an option
    },
    MANY: {
        T.TEXT: None,  # the labels, joined by "; "
        T.NUMBER: "Several answers are not one number.",
        T.DATE: NOT_A_DATE,
        T.BOOLEAN: NO_YES_NO,
        T.SINGLE_SELECT: MANY_NOT_ONE,
        T.MULTI_SELECT: None,  # each choice mapped to an option
    },
    OTHER: {
        T.TEXT: None,
        T.NUMBER: ONLY_TEXT,
        T.DATE: ONLY_TEXT,
        T.BOOLEAN: ONLY_TEXT,
        T.SINGLE_SELECT: ONLY_TEXT,
        T.MULTI_SELECT: ONLY_TEXT,
    },
    TEXT: {
        T.TEXT: None,
        T.NUMBER: None,  # when the answer is a number; otherwise that answer is refused
        T.DATE: None,  # when the answer is a date (YYYY-MM-DD)
        T.BOOLEAN: None,  # when the answer is yes or no
        T.SINGLE_SELECT: None,  # when the answer is one of the options' labels
        T.MULTI_SELECT: TEXT_NOT_LIST,
    },
    POSITION: {
        T.TEXT: None,
        T.NUMBER: None,
        T.DATE: NOT_A_DATE,
        T.BOOLEAN: NUMBER_OR_TEXT,
        T.SINGLE_SELECT: NUMBER_OR_TEXT,
        T.MULTI_SELECT: NUMBER_OR_TEXT,
    },
    RANK: {
        T.TEXT: None,
        T.NUMBER: None,
        T.DATE: NOT_A_DATE,
        T.BOOLEAN: NUMBER_OR_TEXT,
        T.SINGLE_SELECT: NUMBER_OR_TEXT,
        T.MULTI_SELECT: NUMBER_OR_TEXT,
    },
    SCORE: {
        T.TEXT: None,
        T.NUMBER: None,
        T.DATE: NOT_A_DATE,
        T.BOOLEAN: NUMBER_OR_TEXT,
        T.SINGLE_SELECT: NUMBER_OR_TEXT,
        T.MULTI_SELECT: NUMBER_OR_TEXT,
    },
    GROUP: {
        T.TEXT: None,  # the group's name
        T.NUMBER: NOT_A_NUMBER,
        T.DATE: NOT_A_DATE,
        T.BOOLEAN: NO_YES_NO,
        T.SINGLE_SELECT: None,  # each group mapped to an option
        T.MULTI_SELECT: None,  # each group mapped to an option
    },
}

# The property type "Create Property" gives each shape.
CREATED_TYPE: dict[str, str] = {
    ONE: T.SINGLE_SELECT,
    MANY: T.MULTI_SELECT,
    OTHER: T.TEXT,
    TEXT: T.TEXT,
    POSITION: T.NUMBER,
    RANK: T.NUMBER,
    SCORE: T.NUMBER,
    GROUP: T.SINGLE_SELECT,
}

# Shapes whose answers are choices, mapped choice by choice to options (or yes/no).
CHOICE_SHAPES = frozenset({ONE, MANY, GROUP})


class NotMappable(Exception):
    """This question or part cannot be mapped (to this property type); the message says why."""


def shape(question: QuestionDef, part: str | None) -> str:
    """What the question (part None) or its part answers; NotMappable when there is nothing to map."""
    if question.support != Support.SUPPORTED:
        raise NotMappable(question.reason or f"{question.plain_text or question.qid} has nothing to map.")
    if part is None:
        if not question.whole:
            names = ", ".join(p.part for p in question.parts)
            raise NotMappable(f"Map one of its parts ({names}), not the question as a whole.")
        whole: dict[str, str] = {Kind.SINGLE_CHOICE: ONE, Kind.MULTIPLE_CHOICE: MANY, Kind.TEXT: TEXT}
        if question.kind not in whole:
            raise NotMappable("Map one of its parts, not the question as a whole.")
        return whole[question.kind]
    if question.part(part) is None:
        names = ", ".join(p.part for p in question.parts) or "none"
        raise NotMappable(f"The question has no part “{part}” (its parts: {names}).")
    if question.kind == Kind.NPS:
        return SCORE if part == NPS_SCORE else GROUP
    if part.endswith(OTHER_TEXT_SUFFIX) and question.kind in (Kind.SINGLE_CHOICE, Kind.MULTIPLE_CHOICE):
        return OTHER
    parts: dict[str, str] = {Kind.FORM: TEXT, Kind.SLIDER: POSITION, Kind.RANK_ORDER: RANK}
    if question.kind not in parts:
        raise NotMappable(f"The part “{part}” has nothing to map.")
    return parts[question.kind]


def refusal(question: QuestionDef, part: str | None, property_type: str) -> str | None:
    """Why this question or part cannot write to a property of this type, or None when it can."""
    try:
        return TABLE[shape(question, part)][property_type]
    except NotMappable as e:
        return str(e)


def choices_of(question: QuestionDef, part: str | None) -> tuple[Choice, ...]:
    """The choices an answer of this question or part picks from (the NPS group's for `group`)."""
    if part == NPS_GROUP and question.kind == Kind.NPS:
        found = question.part(part)
        return found.choices if found else ()
    return question.choices if part is None else ()


__all__ = ["CREATED_TYPE", "NPS_SCORE", "TABLE", "NotMappable", "refusal", "shape"]
