"""The one batch writer of property values (DESIGN §6): every value change goes through `write`.

A manual edit, the API, the CSV import and survey responses hand it a batch of changes (person,
property, parsed value) that share one Revision. Each change has a write policy and an as-of
time; a change as of an earlier time than the value held is skipped, and says why. The writer is
set-based: it reads what the batch's people hold and writes what changed with a fixed number of
statements, whatever the number of people (plain SQL from `sql`, rows as lists and tuples: a
model instance per value costs more than writing it, at thousands of values a second).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from json.encoder import encode_basestring_ascii
from operator import attrgetter
from typing import Any

from django.db import connection, models

from muster.people.models import (
    Person,
    PersonEmail,
    Property,
    PropertyOption,
    PropertyType,
    PropertyValue,
    PropertyValueChange,
    Revision,
)
from muster.people.sql import delete_in, insert_many, insert_returning, table, update_in, update_many


class Policy(models.TextChoices):
    OVERWRITE = "overwrite", "Overwrite"
    ONLY_IF_EMPTY = "only_if_empty", "Only if empty"
    # Multi-select: the union of what is held and what is given. Any other type: as only_if_empty,
    # since adding to a single value would replace it.
    ADD = "add", "Add to multi-select"


@dataclass(slots=True)
class Change:
    person: int  # the person's id
    prop: Property
    value: Any  # parsed (`values.parse`); None empties
    policy: str = Policy.OVERWRITE
    as_of: datetime | None = None  # None: the revision's time
    # The id of this change's own (saved) revision, when a batch mixes several sources (a batch of
    # survey responses: one revision each); None: the batch's revision.
    revision: int | None = None


@dataclass(slots=True)
class Skipped:
    change: Change
    reason: str


@dataclass
class Written:
    revision: Revision | None = None  # saved once the batch changed something
    # One per changed value: [person id, property id, old, new, revision id], old and new as JSON text.
    history: list[list[Any]] = field(default_factory=list)
    # Not written, and not an error: an older as-of, or a policy that keeps what is held.
    skipped: list[Skipped] = field(default_factory=list)
    # Not written: the unique value is another person's, or the batch changes the value twice.
    refused: list[Skipped] = field(default_factory=list)

    @property
    def changed(self) -> set[int]:
        return {row[0] for row in self.history}


OLDER = "A newer value is held: this change is as of an earlier time."
NOT_EMPTY = "The person already has a value and the policy fills only empty ones."
TAKEN = "the value is already another person's."
TWICE = "Another change of the same write sets this value."

NOTHING = (None, None, None)
OVERWRITE = Policy.OVERWRITE.value
COLUMNS = ["value_text", "value_number", "value_date", "value_bool", "value_option_id"]
COLUMN: dict[str, str] = {
    PropertyType.TEXT: "value_text",
    PropertyType.NUMBER: "value_number",
    PropertyType.DATE: "value_date",
    PropertyType.BOOLEAN: "value_bool",
    PropertyType.SINGLE_SELECT: "value_option_id",
}


def write(changes: Sequence[Change], revision: Revision) -> Written:
    """Writes a batch of changes under one revision (saved if anything changes); call it in a transaction.

    A unique value another person holds is refused, and so is a second change of the same
    (person, property); a database constraint hit meanwhile raises IntegrityError.
    """
    done = Written()
    if not changes:
        return done
    stamp = revision.at
    at = connection.ops.adapt_datetimefield_value(stamp)
    props = {c.prop.id: c.prop for c in changes}
    labels = option_labels(props)
    current = current_values(sorted({c.person for c in changes}), props, labels)
    owners = unique_owners(changes)
    # By value column: each row sets only its own column.
    inserts: dict[int, list[list[Any]]] = {i: [] for i in range(len(COLUMNS))}
    updates: dict[int, list[list[Any]]] = {i: [] for i in range(len(COLUMNS))}
    handling = {p.id: Handling.of(p, labels, inserts, updates) for p in props.values()}
    history = done.history
    multi: list[tuple[int | None, int, int, tuple[int, ...], Any]] = []
    emptied: list[int] = []
    # Unchanged values true at a later time, by that time: a batch's changes mostly share one.
    confirmed: dict[Any, list[int]] = {}
    seen: set[tuple[int, int]] = set()
    claimed: dict[tuple[int, str], int] = {}
    revision_id = revision.pk
    # The batch's changes mostly share one as-of (an import's upload, a response's date).
    given_as_of: datetime | None = None
    as_of, as_of_at = comparable(stamp), at
    for c in changes:
        h = handling[c.prop.id]
        key = (c.person, h.id)
        if key in seen:
            done.refused.append(Skipped(c, TWICE))
            continue
        seen.add(key)
        value_id, held, held_as_of = current.get(key, NOTHING)
        if c.as_of is not given_as_of:
            given_as_of = c.as_of
            moment = stamp if given_as_of is None else given_as_of
            as_of, as_of_at = comparable(moment), connection.ops.adapt_datetimefield_value(moment)
        if held_as_of is not None and as_of < held_as_of:
            done.skipped.append(Skipped(c, OLDER))
            continue
        value = c.value
        new = None if value is None else h.held_form(value)
        if c.policy != OVERWRITE and held is not None:
            if value is None:
                continue
            if not (h.multi and c.policy == Policy.ADD):
                done.skipped.append(Skipped(c, NOT_EMPTY))
                continue
            new = tuple(sorted({*held, *(new or ())}, key=lambda i: (labels[i][1], i)))
        elif c.policy != OVERWRITE and value is None:
            continue
        if held == new:
            if value_id is not None and as_of > held_as_of:
                # The same value, true at a later time: an older change must not replace it now.
                confirmed.setdefault(as_of_at, []).append(value_id)
            continue  # unchanged: no write, no history
        if h.unique and new is not None:
            owner = owners.get((h.id, new), c.person)
            if owner != c.person or claimed.setdefault((h.id, new), c.person) != c.person:
                done.refused.append(Skipped(c, f"{c.prop.label}: {TAKEN}"))
                continue
        own = c.revision
        if own is None:
            if revision_id is None:  # the batch's revision, saved once it changes something
                revision.save()
                revision_id = revision.pk
            own = revision_id
        old = "null" if held is None else h.held_json(held)
        if new is None:
            assert value_id is not None  # held is not None
            emptied.append(value_id)
            history.append([c.person, h.id, old, "null", own])
        elif h.multi:
            history.append([c.person, h.id, old, h.held_json(new), own])
            multi.append((value_id, c.person, h.id, new, as_of_at))
        else:
            history.append([c.person, h.id, old, h.parsed_json(value), own])
            if value_id is None:
                h.inserts.append([h.id, h.adapt(value), c.person, h.unique, at, as_of_at])
            elif h.text:
                h.updates.append([value_id, h.adapt(value), at, as_of_at, h.unique])
            else:
                h.updates.append([value_id, h.adapt(value), at, as_of_at])
    if history and revision.pk is not None:
        done.revision = revision
    for i, made in inserts.items():
        # In the order of the value indexes (property, value, person): neighbours share index pages.
        made.sort()
        insert_many(PropertyValue, ["property_id", COLUMNS[i], "person_id", "is_unique", "updated", "as_of"], made)
    # Only the column of the value's type is set, so only that column's index is touched.
    for i, changed in updates.items():
        extra = ", is_unique = {}" if i == 0 else ""
        update_many(PropertyValue, f"{COLUMNS[i]} = {{}}, updated = {{}}, as_of = {{}}{extra}", sorted(changed))
    for moment, ids in confirmed.items():
        update_in(PropertyValue, "as_of = %s", [moment], "id", sorted(ids))
    if multi:
        write_multi(multi, at)
    through = PropertyValue.value_options.through
    delete_in(through, "propertyvalue_id", emptied)
    delete_in(PropertyValue, "id", emptied)
    insert_many(
        PropertyValueChange,
        ["person_id", "property_id", "old", "new", "revision_id"],
        history,
    )
    return done


def comparable(moment: datetime) -> Any:
    """A time as a raw cursor gives back an as-of: naive UTC on SQLite, aware on PostgreSQL."""
    if connection.vendor == "sqlite":
        return moment.astimezone(UTC).replace(tzinfo=None)
    return moment


def unique_owners(changes: Sequence[Change]) -> dict[tuple[int, str | None], int]:
    """(property id, text) -> the person holding it, for the unique values the batch sets."""
    texts: dict[int, set[str]] = {}
    for c in changes:
        if c.prop.unique and c.value is not None:
            texts.setdefault(c.prop.id, set()).add(c.value)
    owners: dict[tuple[int, str | None], int] = {}
    for prop_id, wanted in texts.items():
        owners |= {
            (prop_id, text): person_id
            for text, person_id in PropertyValue.objects.filter(
                property_id=prop_id, is_unique=True, value_text__in=list(wanted)
            ).values_list("value_text", "person_id")
        }
    return owners


def create_people(people: list[tuple[str, str, str]], source: str, stamp: datetime) -> dict[str, int]:
    """Inserts people (email, first name, last name) and their primary emails; returns email -> person id.

    The emails are normalised and belong to nobody yet (the callers checked).
    """
    if not people:
        return {}
    code_field = Person._meta.get_field("code")
    at = connection.ops.adapt_datetimefield_value(stamp)
    # Each person's code as the database holds it, to match the ids the insert returns.
    codes = [code_field.get_db_prep_value(uuid.uuid4(), connection) for _ in people]
    ids = dict(
        insert_returning(
            Person,
            ["code", "first_name", "last_name", "opted_out", "source", "created"],
            [[c, first, last, False, source, at] for c, (_, first, last) in zip(codes, people, strict=True)],
            "code, id",
        )
    )
    emails = {address: ids[c] for c, (address, _, _) in zip(codes, people, strict=True)}
    insert_many(PersonEmail, ["person_id", "email", "is_primary"], [[i, e, True] for e, i in emails.items()])
    return emails


def adapter(prop: Property) -> Any:
    """Parsed value -> what the database driver takes for the value's column."""
    if prop.type == PropertyType.DATE:
        return connection.ops.adapt_datefield_value
    if prop.type == PropertyType.SINGLE_SELECT:
        return attrgetter("id")
    return same


def option_labels(props: dict[int, Property]) -> dict[int, tuple[str, int]]:
    """Option id -> (label, position) for the select properties among `props`.

    Read afresh: a value may use an option added since the caller read the property.
    """
    selects = [p.id for p in props.values() if p.is_select]
    if not selects:
        return {}
    found = PropertyOption.objects.filter(property__in=selects).values_list("id", "label", "position")
    return {i: (label, position) for i, label, position in found}


def current_values(
    people: list[int], props: dict[int, Property], labels: dict[int, tuple[str, int]]
) -> dict[tuple[int, int], tuple[int, Any, Any]]:
    """(person id, property id) -> (value id, value as its column holds it, as-of) for these people.

    A multi-select value is the tuple of its option ids, in the options' order. Plain SQL and
    tuples, a query per value column: Django's per-row converters cost more than the query.
    """
    found: dict[tuple[int, int], tuple[int, Any, Any]] = {}
    if not people or not props:
        return found
    columns: dict[str, list[int]] = {}
    for p in props.values():
        columns.setdefault(COLUMN.get(p.type, ""), []).append(p.id)
    persons = ", ".join(["%s"] * len(people))
    with connection.cursor() as cursor:
        for column, ids in columns.items():
            cursor.execute(
                f"SELECT id, person_id, property_id, {column or 'NULL'}, as_of FROM {table(PropertyValue)} "  # noqa: S608
                f"WHERE person_id IN ({persons}) AND property_id IN ({', '.join(['%s'] * len(ids))})",
                [*people, *ids],
            )
            found |= {
                (person_id, prop_id): (value_id, cell, as_of)
                for value_id, person_id, prop_id, cell, as_of in cursor.fetchall()
            }
    if "" not in columns:  # no multi-select property
        return found
    multi = {
        value_id: key for key, (value_id, _, _) in found.items() if props[key[1]].type == PropertyType.MULTI_SELECT
    }
    if multi:
        chosen: dict[int, list[int]] = {value_id: [] for value_id in multi}
        through = PropertyValue.value_options.through
        for value_id, option_id in through.objects.filter(propertyvalue_id__in=list(multi)).values_list(
            "propertyvalue_id", "propertyoption_id"
        ):
            chosen[value_id].append(option_id)
        for value_id, key in multi.items():
            ordered = tuple(sorted(chosen[value_id], key=lambda i: (labels[i][1], i)))
            found[key] = (value_id, ordered or None, found[key][2])
    return found


@dataclass(slots=True)
class Handling:
    """How `write` treats one property's values: compares, records and binds them by their type."""

    id: int
    multi: bool
    text: bool
    unique: bool
    # Parsed value -> the form `current_values` gives, to compare the two.
    held_form: Callable[[Any], Any]
    # The form `current_values` gives -> JSON text, for history's old value.
    held_json: Callable[[Any], str]
    # Parsed value -> JSON text, for history's new value.
    parsed_json: Callable[[Any], str]
    # Parsed value -> what the database driver takes for the value's column.
    adapt: Callable[[Any], Any]
    # Where new values and changed values of the property go (lists shared by column).
    inserts: list[list[Any]]
    updates: list[list[Any]]

    @classmethod
    def of(
        cls,
        prop: Property,
        labels: dict[int, tuple[str, int]],
        inserts: dict[int, list[list[Any]]],
        updates: dict[int, list[list[Any]]],
    ) -> Handling:
        slot = COLUMNS.index(COLUMN[prop.type]) if prop.type in COLUMN else -1
        kind = PropertyType(prop.type)
        held_form: Callable[[Any], Any] = same
        held_json: Callable[[Any], str] = JSON_TEXT[kind]
        if kind == PropertyType.SINGLE_SELECT:
            held_form = attrgetter("id")
            held_json = lambda option_id: encode_basestring_ascii(labels[option_id][0])  # noqa: E731
        elif kind == PropertyType.MULTI_SELECT:
            held_form = lambda options: tuple(o.id for o in options)  # noqa: E731
            held_json = lambda option_ids: json.dumps([labels[i][0] for i in option_ids])  # noqa: E731
        return cls(
            id=prop.id,
            multi=kind == PropertyType.MULTI_SELECT,
            text=kind == PropertyType.TEXT,
            unique=prop.unique,
            held_form=held_form,
            held_json=held_json,
            parsed_json=JSON_TEXT[kind],
            adapt=adapter(prop),
            inserts=inserts.get(slot, []),
            updates=updates.get(slot, []),
        )


def same(value: Any) -> Any:
    return value


def number_text(number: float) -> str:
    """A number as JSON text, whole numbers without ".0" (as `values.number_json` gives them)."""
    if type(number) is int or (number.is_integer() and abs(number) < 2**53):
        return int.__repr__(int(number))
    return float.__repr__(number)


# Non-empty parsed values as JSON text, for history: what json.dumps(values.to_json(...)) gives, in
# one call. Text, numbers, dates and booleans are also how `current_values` gives them (Django's
# converters turn SQLite's dates and booleans back into Python ones).
JSON_TEXT: dict[PropertyType, Callable[[Any], str]] = {
    PropertyType.TEXT: encode_basestring_ascii,
    PropertyType.NUMBER: number_text,
    PropertyType.DATE: lambda day: f'"{day.isoformat()}"',
    PropertyType.BOOLEAN: lambda yes: "true" if yes else "false",
    PropertyType.SINGLE_SELECT: lambda option: encode_basestring_ascii(option.label),
    PropertyType.MULTI_SELECT: lambda options: json.dumps([o.label for o in options]),
}


def write_multi(multi: list[tuple[int | None, int, int, tuple[int, ...], Any]], at: Any) -> None:
    """Multi-select values: new rows first (their options need their ids), then the options."""
    made = {
        (person_id, prop_id): value_id
        for value_id, person_id, prop_id in insert_returning(
            PropertyValue,
            ["person_id", "property_id", "is_unique", "updated", "as_of"],
            [[person_id, prop_id, False, at, as_of] for i, person_id, prop_id, _, as_of in multi if i is None],
            "id, person_id, property_id",
        )
    }
    held = sorted([i, at, as_of] for i, _, _, _, as_of in multi if i is not None)
    update_many(PropertyValue, "updated = {}, as_of = {}", held)
    through = PropertyValue.value_options.through
    delete_in(through, "propertyvalue_id", [i for i, *_ in held])
    rows = [(i or made[(person_id, prop_id)], ids) for i, person_id, prop_id, ids, _ in multi]
    insert_many(through, ["propertyvalue_id", "propertyoption_id"], [[i, o] for i, ids in rows for o in ids])
