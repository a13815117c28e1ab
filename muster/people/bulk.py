"""The API's bulk upsert of people: each item checked on its own, the valid ones written together.

Every problem of an item is reported, and an item with one is written not at all; two items with
the same email, or the same value of a unique property, are refused together rather than one of
them guessed at. The valid items go through `upserts` (and so the batch writer) in one
transaction, or one by one when another writer got in the way meanwhile.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

from django.db import IntegrityError, transaction

from muster.people import values as pv
from muster.people.models import PersonEmail, Property, PropertyValue, Revision, Source, normalise_email
from muster.people.serialise import Viewer, error_text
from muster.people.sql import select_in
from muster.people.tuning import collections_per_batch
from muster.people.upserts import Given, clashes, upsert

LIMIT = 1000


@dataclass
class Result:
    index: int
    email: str = ""
    status: str = "refused"  # or created, updated, unchanged
    errors: list[str] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)


FIELDS = ("email", "first_name", "last_name", "properties")
# As the one-person API's email field: something@something, at most 254 characters.
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+$")


def upsert_items(viewer: Viewer, items: list[Any], policy: str, revision: Revision) -> list[dict[str, Any]]:
    # A call allocates some 100,000 objects that live until it ends: the cycle collector would
    # walk all the process holds several times meanwhile (about half the call's time, bench/writer.py).
    with collections_per_batch() as collect:
        results = checked_and_written(viewer, items, policy, revision)
        collect()
    return results


def checked_and_written(viewer: Viewer, items: list[Any], policy: str, revision: Revision) -> list[dict[str, Any]]:
    props = {p.key: p for p in Property.objects.prefetch_related("options")}
    options = {p.id: pv.OptionIndex(p.options.all()) for p in props.values() if p.is_select}
    results = [Result(i) for i in range(len(items))]
    given: dict[int, Given] = {}
    for i, item in enumerate(items):
        entry, errors = shape(item)
        results[i].email = entry.email if entry else email_of(item)
        results[i].errors = errors
        if entry is not None:
            given[i] = entry
    held = held_options([g.email for g in given.values()], props)
    for i, entry in list(given.items()):
        errors = results[i].errors
        raw = items[i].get("properties") or {}
        for key, value in raw.items():
            prop = props.get(key)
            if prop is None:
                errors.append(f"properties.{key}: there is no such property.")
                continue
            try:
                parsed = pv.parse(prop, value, options.get(prop.id, ()), held.get((entry.email, prop.id), ()))
            except pv.InvalidValue as e:
                errors.append(f"properties.{key}: {error_text(viewer, prop, value, str(e))}")
                continue
            entry.values.append((prop, parsed))
    # Whatever else is wrong with them, items with the same email are refused together.
    by_email: dict[str, list[int]] = {}
    for i, entry in given.items():
        by_email.setdefault(entry.email, []).append(i)
    for indices in by_email.values():
        if len(indices) > 1:
            for i in indices:
                results[i].errors.append(f"Duplicate email: items {' and '.join(map(str, indices))} have it.")
    order = [i for i in given if not results[i].errors]
    for n, clash in clashes([given[i] for i in order], together=True, numbers=order).items():
        results[order[n]].errors.append(clash.reason)
    valid = [i for i in order if not results[i].errors]
    try:
        with transaction.atomic():
            outcomes = upsert([given[i] for i in valid], copy(revision), source=Source.API, policy=policy)
        written = dict(zip(valid, outcomes, strict=True))
    except IntegrityError:
        written = {}
        for i in valid:
            try:
                with transaction.atomic():
                    written[i] = upsert([given[i]], copy(revision), source=Source.API, policy=policy)[0]
            except IntegrityError:
                results[i].errors.append("Conflicts with a change made meanwhile.")
    for i, outcome in written.items():
        results[i].status = outcome.status
        results[i].skipped = [{"property": s.change.prop.key, "reason": s.reason} for s in outcome.skipped]
    return [asdict(r) for r in results]


def copy(revision: Revision) -> Revision:
    """An unsaved revision like the given one: one saved in a rolled-back transaction is gone."""
    return Revision(
        source=revision.source, source_code=revision.source_code, changed_by=revision.changed_by, at=revision.at
    )


def email_of(item: Any) -> str:
    found = item.get("email") if isinstance(item, dict) else None
    return found.strip()[:254] if isinstance(found, str) else ""


def shape(item: Any) -> tuple[Given | None, list[str]]:
    """The item's email and names, or what is wrong with its shape (values are parsed after)."""
    if not isinstance(item, dict):
        return None, ["The item must be a JSON object."]
    errors = [f"{key}: there is no such field." for key in item if key not in FIELDS]
    address = item.get("email")
    if not isinstance(address, str) or not EMAIL_RE.match(address.strip()) or len(address.strip()) > 254:
        errors.append("email: missing or not an email address.")
    names = {}
    for key in ("first_name", "last_name"):
        name = item.get(key)
        if name is not None and (not isinstance(name, str) or len(name.strip()) > 150):
            errors.append(f"{key}: must be text of at most 150 characters.")
        names[key] = name.strip() if isinstance(name, str) else ""
    if not isinstance(item.get("properties", {}), dict):
        errors.append("properties: must be an object of property keys and values.")
    if errors:
        return None, errors
    assert isinstance(address, str)
    return Given(normalise_email(address), names["first_name"], names["last_name"]), []


def held_options(emails: list[str], props: dict[str, Property]) -> dict[tuple[str, int], list[Any]]:
    """(email, property id) -> the options a known person's select value uses, when some are retired.

    A retired option is refused for new values, but whoever holds it keeps it (`values.parse`).
    """
    retired = [p for p in props.values() if p.is_select and any(o.retired for o in p.options.all())]
    if not retired or not emails:
        return {}
    owners = dict(select_in(PersonEmail, "person_id, email", "email", emails))
    rows = (
        PropertyValue.objects.filter(person_id__in=list(owners), property__in=retired)
        .select_related("value_option")
        .prefetch_related("value_options")
    )
    by_id = {p.id: p for p in retired}
    found: dict[tuple[str, int], list[Any]] = {}
    for row in rows:
        parsed = pv.stored(by_id[row.property_id], row)
        found[(owners[row.person_id], row.property_id)] = parsed if isinstance(parsed, list) else [parsed]
    return found
