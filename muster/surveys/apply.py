"""`apply_mappings`: the one place answers become property value changes (DESIGN §5.6).

Dry run, ingestion and the API all come here; the changes go to the one writer
(`people.writes.write`), with the response's as-of (its last change, else its recorded date).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from muster.people.models import PropertyOption, PropertyType
from muster.people.values import InvalidValue, parse
from muster.people.writes import Change
from muster.surveys.answers import Answer
from muster.surveys.compatibility import CHOICE_SHAPES, NotMappable, choices_of, refusal, shape
from muster.surveys.models import MappingStatus, QuestionMapping
from muster.surveys.questions import QuestionDef


@dataclass(frozen=True)
class Refusal:
    qid: str
    part: str | None
    reason: str


def apply_mappings(
    questions: Mapping[str, QuestionDef],
    mappings: Iterable[QuestionMapping],
    answers: Iterable[Answer],
    person: int,
    as_of: datetime | None,
) -> tuple[list[Change], list[Refusal]]:
    """The changes a response's answers make through the active mappings, and the answers refused.

    `questions` are the definition the response was read under, so an answer is read with the
    choices it had. An empty answer changes nothing: a skipped question never empties a property.
    Mappings need their property and its options loaded (`for_applying`).
    """
    by_key = {(a.qid, a.part): a for a in answers}
    changes: list[Change] = []
    refused: list[Refusal] = []
    for m in mappings:
        if m.status != MappingStatus.ACTIVE:
            continue
        part = m.part or None
        answer = by_key.get((m.qid, part))
        if answer is None or answer.value in ("", ()):
            continue
        question = questions.get(m.qid)
        if question is None:
            refused.append(Refusal(m.qid, part, "The question is not in the definition this response was read under."))
            continue
        try:
            value = convert(question, part, m, answer)
        except (InvalidValue, NotMappable) as e:
            refused.append(Refusal(m.qid, part, reason(e)))
            continue
        changes.append(Change(person, m.property, value, m.policy, as_of))
    return changes, refused


def reason(error: Exception) -> str:
    text = str(error)
    # The people module's messages start with a verb ("is not a number (Age)."): say what is.
    return f"The answer {text}" if text[:1].islower() else text


def for_applying(mappings: Any) -> list[QuestionMapping]:
    """Mappings with what `apply_mappings` reads, in two queries."""
    return list(mappings.select_related("property").prefetch_related("property__options"))


def convert(question: QuestionDef, part: str | None, mapping: QuestionMapping, answer: Answer) -> Any:
    """An answer as a parsed value of the mapping's property; InvalidValue when it does not fit."""
    prop = mapping.property
    why = refusal(question, part, prop.type)
    if why is not None:
        raise NotMappable(why)
    form = shape(question, part)
    value = answer.value
    if form not in CHOICE_SHAPES:
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, tuple):
            raise InvalidValue("is a list of choices, not one value.")
        return parse(prop, value if prop.type != PropertyType.TEXT else str(value))
    chosen = value if isinstance(value, tuple) else (str(value),)
    choices = {c.id: c for c in choices_of(question, part)}
    unknown = [c for c in chosen if c not in choices]
    if unknown:
        raise InvalidValue(f"is a choice the survey does not have ({', '.join(unknown)}).")
    if prop.type == PropertyType.TEXT:
        return parse(prop, "; ".join(choices[c].label for c in chosen))
    if prop.type == PropertyType.NUMBER:
        return parse(prop, choices[chosen[0]].recode)
    if prop.type == PropertyType.BOOLEAN:
        said = mapping.options.get(chosen[0])
        if not isinstance(said, bool):
            raise InvalidValue(f"“{choices[chosen[0]].label}” is mapped to neither yes nor no ({prop.label}).")
        return said
    options = {o.id: o for o in prop.options.all()}
    picked: list[PropertyOption] = []
    for c in chosen:
        option = options.get(mapping.options.get(c))  # type: ignore[arg-type]
        if option is None:
            raise InvalidValue(f"“{choices[c].label}” has no option of {prop.label} mapped to it.")
        if option.retired:
            raise InvalidValue(f"“{choices[c].label}” is mapped to a retired option of {prop.label}.")
        if option not in picked:
            picked.append(option)
    if prop.type == PropertyType.SINGLE_SELECT:
        return picked[0]
    return sorted(picked, key=lambda o: (o.position, o.id))
