"""Typed property values: parsing input, reading and writing values, and their history.

Values change through the batch writer (`writes.write`) alone; `set_values` is its shape for one
person.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import date
from operator import attrgetter
from typing import Any

from django.db import IntegrityError, transaction
from django.utils.timezone import now

from muster.accounts.models import User
from muster.people import writes
from muster.people.models import (
    Person,
    PersonEmail,
    Property,
    PropertyOption,
    PropertyType,
    PropertyValue,
    PropertyValueChange,
    Revision,
    normalise_email,
)

# A parsed value: str, float, date, bool, PropertyOption, list[PropertyOption]; None is empty.
Parsed = Any
# A value as JSON (history, API): str, int/float, ISO date, bool, option label, list of labels; None is empty.
Json = Any

# A number as text: ASCII digits, an optional sign, point and exponent; no grouping of any kind.
NUMBER = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?")
TRUE_WORDS = {"true", "yes", "y", "1"}
FALSE_WORDS = {"false", "no", "n", "0"}
MULTI_SEPARATOR = ";"


class InvalidValue(ValueError):
    """A value that does not fit its property. The message never contains the value (it may be PII)."""


class EmailTaken(ValueError):
    pass


class OptionIndex:
    """A property's options by code and by case-folded label, to parse many values (CSV import).

    The first option in order that matches wins, as in `find_option`.
    """

    def __init__(self, options: Iterable[PropertyOption]) -> None:
        self.options = list(options)
        self.by_key: dict[str, PropertyOption] = {}
        for option in self.options:
            self.by_key.setdefault(str(option.code), option)
            self.by_key.setdefault(option.label.casefold(), option)

    def __iter__(self) -> Iterator[PropertyOption]:
        return iter(self.options)


def find_option(
    prop: Property,
    options: Iterable[PropertyOption],
    given: str,
    held: Iterable[PropertyOption] = (),
    *,
    many: bool = False,
) -> PropertyOption:
    wanted = given.strip().casefold()
    if isinstance(options, OptionIndex):
        found = options.by_key.get(wanted)
    else:
        found = next((o for o in options if str(o.code) == wanted or o.label.casefold() == wanted), None)
    if found is None:
        raise InvalidValue(f"is not one of the options of {prop.label}.")
    # A retired option is refused for new values; whoever already holds it keeps it. The message
    # does not name the option: it is the value, and may be PII.
    if found.retired and found.id not in {o.id for o in held}:
        raise InvalidValue(f"{'includes' if many else 'is'} a retired option of {prop.label}.")
    return found


def held_options(person: Person, prop: Property) -> list[PropertyOption]:
    """The options a person's value of a select property uses now (they keep them once retired)."""
    if not prop.is_select:
        return []
    row = (
        PropertyValue.objects.filter(person=person, property=prop)
        .select_related("value_option")
        .prefetch_related("value_options")
        .first()
    )
    parsed = stored(prop, row)
    if parsed is None:
        return []
    return parsed if isinstance(parsed, list) else [parsed]


def parse(
    prop: Property,
    raw: Any,
    options: Iterable[PropertyOption] | None = None,
    held: Iterable[PropertyOption] = (),
) -> Parsed:
    """Turns form, CSV or JSON input into the property's type, or raises InvalidValue.

    `held` are the options the person's value uses now: they are accepted even when retired.
    """
    if raw is None or (isinstance(raw, str) and not raw.strip()) or raw == []:
        return None
    if prop.type == PropertyType.TEXT:
        if not isinstance(raw, str | int | float) or isinstance(raw, bool):
            raise InvalidValue(f"is not text ({prop.label}).")
        text = str(raw).strip()
        if len(text) > 1000:
            raise InvalidValue(f"is longer than 1,000 characters ({prop.label}).")
        return text
    if prop.type == PropertyType.NUMBER:
        if isinstance(raw, bool):
            raise InvalidValue(f"is not a number ({prop.label}).")
        if isinstance(raw, str) and not NUMBER.fullmatch(raw.strip()):
            # 1,5 is one and a half in much of Europe and fifteen elsewhere: only one reading is taken.
            raise InvalidValue(
                f"is not a number ({prop.label}): write digits, with a point for decimals and no separators."
            )
        try:
            number = float(raw)
        except (TypeError, ValueError):
            raise InvalidValue(f"is not a number ({prop.label}).") from None
        if not math.isfinite(number):
            raise InvalidValue(f"is not a number ({prop.label}).")
        return number
    if prop.type == PropertyType.DATE:
        if isinstance(raw, date):
            return raw
        try:
            return date.fromisoformat(str(raw).strip())
        except ValueError:
            raise InvalidValue(f"is not a date as YYYY-MM-DD ({prop.label}).") from None
    if prop.type == PropertyType.BOOLEAN:
        if isinstance(raw, bool):
            return raw
        word = str(raw).strip().casefold()
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
        raise InvalidValue(f"is not yes or no ({prop.label}).")
    choices: Iterable[PropertyOption]
    if isinstance(options, OptionIndex):
        choices = options
    else:
        choices = list(prop.options.all()) if options is None else list(options)
    held = list(held)
    if prop.type == PropertyType.SINGLE_SELECT:
        if not isinstance(raw, str):
            raise InvalidValue(f"is not one of the options of {prop.label}.")
        return find_option(prop, choices, raw, held)
    parts = raw.split(MULTI_SEPARATOR) if isinstance(raw, str) else raw
    if not isinstance(parts, list) or not all(isinstance(p, str) for p in parts):
        raise InvalidValue(f"is not a list of options of {prop.label}.")
    picked: dict[int, PropertyOption] = {}
    for part in parts:
        if part.strip():
            option = find_option(prop, choices, part, held, many=True)
            picked[option.id] = option
    return sorted(picked.values(), key=lambda o: (o.position, o.id)) or None


def to_json(prop: Property, parsed: Parsed) -> Json:
    return None if parsed is None else JSON_OF[PropertyType(prop.type)](parsed)


def number_json(number: float) -> int | float:
    return int(number) if float(number).is_integer() and abs(number) < 2**53 else number


def same(parsed: Parsed) -> Json:
    return parsed


JSON_OF: dict[PropertyType, Callable[[Parsed], Json]] = {
    PropertyType.TEXT: same,
    PropertyType.NUMBER: number_json,
    PropertyType.DATE: date.isoformat,
    PropertyType.BOOLEAN: same,
    PropertyType.SINGLE_SELECT: attrgetter("label"),
    PropertyType.MULTI_SELECT: lambda options: [o.label for o in options],
}


def stored(prop: Property, value: PropertyValue | None) -> Parsed:
    """The parsed value a row holds (multi-select uses the prefetched options when there are)."""
    if value is None:
        return None
    if prop.type == PropertyType.TEXT:
        return value.value_text
    if prop.type == PropertyType.NUMBER:
        return value.value_number
    if prop.type == PropertyType.DATE:
        return value.value_date
    if prop.type == PropertyType.BOOLEAN:
        return value.value_bool
    if prop.type == PropertyType.SINGLE_SELECT:
        return value.value_option
    return sorted(value.value_options.all(), key=lambda o: (o.position, o.id)) or None


def values_of(people: Iterable[Person], properties: Iterable[Property]) -> dict[tuple[int, int], Json]:
    """(person id, property id) -> JSON value, in two queries whatever the number of people."""
    props = {p.id: p for p in properties}
    rows = (
        PropertyValue.objects.filter(person__in=[p.id for p in people], property__in=list(props))
        .select_related("value_option")
        .prefetch_related("value_options")
    )
    return {(v.person_id, v.property_id): to_json(props[v.property_id], stored(props[v.property_id], v)) for v in rows}


@transaction.atomic
def set_values(
    person: Person,
    changes: Mapping[Property, Parsed],
    *,
    source: str,
    source_code: str = "",
    user: User | None = None,
) -> list[PropertyValueChange]:
    """Writes parsed values (None empties) as of now, through the batch writer; returns the changes made.

    Raises InvalidValue when a unique value belongs to someone else; nothing is written then.
    """
    revision = Revision(source=source, source_code=source_code, changed_by=user, at=now())
    batch = [writes.Change(person.id, prop, parsed) for prop, parsed in changes.items()]
    taken = next((p for p, parsed in changes.items() if p.unique and parsed is not None), None)
    try:
        with transaction.atomic():
            written = writes.write(batch, revision)
    except IntegrityError:
        # Another writer took the unique value between the writer's check and its write.
        raise InvalidValue(f"is already the {taken.label if taken else 'value'} of another person.") from None
    if written.refused:
        raise InvalidValue(f"is already the {written.refused[0].change.prop.label} of another person.")
    return [
        PropertyValueChange(
            person=person, property_id=prop_id, old=json.loads(old), new=json.loads(new), revision=revision
        )
        for _, prop_id, old, new, _ in written.history
    ]


@transaction.atomic
def create_person(
    email: str,
    *,
    first_name: str = "",
    last_name: str = "",
    source: str,
    values: Mapping[Property, Parsed] | None = None,
    source_code: str = "",
    user: User | None = None,
) -> Person:
    """Raises EmailTaken when the email already belongs to someone (primary or not)."""
    address = normalise_email(email)
    if PersonEmail.objects.filter(email=address).exists():
        raise EmailTaken("This email already belongs to another person.")
    person = Person.objects.create(first_name=first_name.strip(), last_name=last_name.strip(), source=source)
    try:
        with transaction.atomic():
            PersonEmail.objects.create(person=person, email=address, is_primary=True)
    except IntegrityError:
        raise EmailTaken("This email already belongs to another person.") from None
    if values:
        set_values(person, values, source=source, source_code=source_code, user=user)
    return person


@transaction.atomic
def set_emails(person: Person, primary: str, others: Iterable[str] = ()) -> None:
    """Replaces a person's emails; raises EmailTaken when one belongs to someone else."""
    wanted = [normalise_email(primary)] + [normalise_email(e) for e in others if e.strip()]
    wanted = list(dict.fromkeys(wanted))
    if PersonEmail.objects.filter(email__in=wanted).exclude(person=person).exists():
        raise EmailTaken("This email already belongs to another person.")
    PersonEmail.objects.filter(person=person).delete()
    try:
        with transaction.atomic():
            PersonEmail.objects.bulk_create(
                [PersonEmail(person=person, email=e, is_primary=i == 0) for i, e in enumerate(wanted)]
            )
    except IntegrityError:
        raise EmailTaken("This email already belongs to another person.") from None


def opt_out(person: Person) -> None:
    Person.objects.filter(id=person.id, opted_out=False).update(opted_out=True, opted_out_at=now())
    person.refresh_from_db(fields=["opted_out", "opted_out_at"])
