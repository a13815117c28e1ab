"""Saving a form's Property Mapping: the rules the mapping page and the API share (DESIGN §5.7)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db import transaction

from muster.accounts.models import User
from muster.people.models import SELECT_TYPES, Property, PropertyType
from muster.people.properties import PropertyError, create_property, key_from
from muster.people.values import FALSE_WORDS, TRUE_WORDS
from muster.people.writes import Policy
from muster.surveys.compatibility import CHOICE_SHAPES, CREATED_TYPE, NotMappable, choices_of, refusal, shape
from muster.surveys.models import MappingStatus, Question, QuestionMapping, SurveyForm
from muster.surveys.questions import Choice, QuestionDef


@dataclass
class Wanted:
    """One mapping as asked for: an existing property by key, or one to create."""

    qid: str
    part: str | None = None
    property: str | None = None  # a key
    create: dict[str, Any] | None = None  # {"key", "label", "type"?}
    options: dict[str, Any] = field(default_factory=dict)  # {choice id: option code or label | yes/no}
    policy: str = Policy.OVERWRITE


@dataclass
class Saved:
    mappings: list[QuestionMapping]
    refused: list[tuple[int, str]]  # (index into the request, reason)


class Refused(Exception):
    pass


@transaction.atomic
def save_mappings(form: SurveyForm, wanted: list[Wanted], by: User | None, *, may_create: bool) -> Saved:
    """Replaces the form's mappings with the valid ones of `wanted`.

    A refused item is not saved, and the mapping it would have replaced is kept as it was: a typo
    never deletes a working mapping. Every other mapping not asked for is removed.
    """
    questions = {q.qid: q for q in form.questions.filter(removed=False)}
    existing = {(m.qid, m.part): m for m in form.mappings.select_related("property")}
    refused: list[tuple[int, str]] = []
    keep: set[tuple[str, str]] = set()
    saved: list[QuestionMapping] = []
    writes_to: dict[int, int] = {}
    for index, item in enumerate(wanted):
        key = (item.qid, item.part or "")
        if key in keep:
            refused.append((index, "This question or part is mapped twice in the request."))
            continue
        try:
            with transaction.atomic():
                mapping = _save_one(form, questions, existing.get(key), item, by, may_create, writes_to, index)
        except (Refused, PropertyError, NotMappable) as e:
            refused.append((index, str(e)))
            if key in existing:
                keep.add(key)
            continue
        keep.add(key)
        saved.append(mapping)
    for key, old in existing.items():
        if key not in keep:
            old.delete()
    return Saved(saved, refused)


def _save_one(
    form: SurveyForm,
    questions: dict[str, Question],
    mapping: QuestionMapping | None,
    item: Wanted,
    by: User | None,
    may_create: bool,
    writes_to: dict[int, int],
    index: int,
) -> QuestionMapping:
    row = questions.get(item.qid)
    if row is None:
        raise Refused(f"This survey has no question {item.qid}.")
    question = row.definition()
    form_shape = shape(question, item.part)
    if item.policy not in Policy.values:
        raise Refused(f"“{item.policy}” is not a write policy: use overwrite, only_if_empty or add.")
    if (item.property is None) == (item.create is None):
        raise Refused("Name an existing property or one to create, not both or neither.")
    prop = _create(question, item, form_shape, may_create) if item.create is not None else _existing(item.property)
    why = refusal(question, item.part, prop.type)
    if why is not None:
        raise Refused(f"{prop.label} is a {prop.get_type_display().lower()} property: {why}")
    if item.policy == Policy.ADD and prop.type != PropertyType.MULTI_SELECT:
        raise Refused("“Add” keeps what is held and adds the answer: only multi-select properties can do that.")
    if prop.id in writes_to:
        raise Refused(f"Item {writes_to[prop.id]} of this form already writes to {prop.label}.")
    options = _options(question, item, prop) if form_shape in CHOICE_SHAPES else {}
    mapping = mapping or QuestionMapping(form=form, qid=item.qid, part=item.part or "", created_by=by)
    mapping.property = prop
    mapping.options = options
    mapping.policy = item.policy
    mapping.version = form.version
    mapping.status = MappingStatus.ACTIVE
    mapping.paused_reason = ""
    mapping.save()
    writes_to[prop.id] = index
    return mapping


def _existing(key: str | None) -> Property:
    prop = Property.objects.filter(key=key).prefetch_related("options").first()
    if prop is None:
        raise Refused(f"There is no property with the key “{key}”.")
    return prop


def _create(question: QuestionDef, item: Wanted, form_shape: str, may_create: bool) -> Property:
    if not may_create:
        raise Refused("Your role cannot create properties.")
    assert item.create is not None
    label = str(item.create.get("label") or _label(question, item.part)).strip()
    kind = str(item.create.get("type") or CREATED_TYPE[form_shape])
    options = [c.label for c in _unique_labels(choices_of(question, item.part))] if kind in SELECT_TYPES else None
    prop = create_property(str(item.create.get("key") or key_from(label)), label, kind, options=options)
    return Property.objects.prefetch_related("options").get(id=prop.id)


def _label(question: QuestionDef, part: str | None) -> str:
    text = question.plain_text or question.export_tag or question.qid
    found = question.part(part) if part else None
    return f"{text[:150]} – {found.label[:40]}" if found else text[:200]


def _unique_labels(choices: tuple[Choice, ...]) -> list[Choice]:
    seen: set[str] = set()
    out = []
    for c in choices:
        if c.label.strip() and c.label.casefold() not in seen:
            seen.add(c.label.casefold())
            out.append(c)
    return out


def suggest(choices: tuple[Choice, ...], prop: Property) -> dict[str, int]:
    """Each choice's option of the same label (case-insensitive), where one exists."""
    by_label = {o.label.casefold(): o.id for o in prop.options.all() if not o.retired}
    return {c.id: by_label[c.label.casefold()] for c in choices if c.label.casefold() in by_label}


def _options(question: QuestionDef, item: Wanted, prop: Property) -> dict[str, Any]:
    """{choice id: option id}, or {choice id: true/false} for a yes/no property; given ones checked,
    the rest suggested by label."""
    choices = choices_of(question, item.part)
    ids = {c.id for c in choices}
    for choice_id in item.options:
        if choice_id not in ids:
            raise Refused(f"{question.qid} has no choice “{choice_id}”.")
    if prop.type == PropertyType.BOOLEAN:
        said: dict[str, Any] = {}
        for choice_id, given in item.options.items():
            word = str(given).strip().casefold()
            if word not in TRUE_WORDS | FALSE_WORDS:
                raise Refused(f"Map choice “{choice_id}” to yes or no.")
            said[choice_id] = word in TRUE_WORDS
        return said
    mapped = suggest(choices, prop)
    options = list(prop.options.all())
    for choice_id, given in item.options.items():
        if given in (None, ""):
            mapped.pop(choice_id, None)  # asked to leave this choice unmapped
            continue
        wanted = str(given).strip().casefold()
        option = next((o for o in options if str(o.code) == wanted or o.label.casefold() == wanted), None)
        if option is None:
            raise Refused(f"{prop.label} has no option “{given}” (for choice “{choice_id}”).")
        mapped[choice_id] = option.id
    return mapped
