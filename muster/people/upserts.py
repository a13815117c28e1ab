"""People by email with their names and values, a batch at a time, through the batch writer.

The CSV import (`import_batch`) and the bulk API (`api.bulk_people`) both come this way: known
emails are matched (primary or not), unknown ones become people, and each entry is written whole
or not at all.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from django.db import IntegrityError, transaction
from django.utils.timezone import now

from muster.people.models import ImportSeen, Person, PersonEmail, PersonImport, Property, Revision, Source
from muster.people.sql import insert_many, select_in, update_many
from muster.people.writes import Change, Policy, Skipped, create_people, unique_owners, write


class Entry(Protocol):
    """One person by email (normalised); an empty name keeps the name held."""

    email: str
    first_name: str
    last_name: str
    values: list[tuple[Property, Any]]


@dataclass(slots=True)
class Given:
    email: str
    first_name: str = ""
    last_name: str = ""
    values: list[tuple[Property, Any]] = field(default_factory=list)


@dataclass
class Outcome:
    status: str  # created | updated | unchanged
    skipped: list[Skipped] = field(default_factory=list)


@dataclass
class Clash:
    prop: Property
    value: str
    reason: str


TAKEN = "the value is already another person's."


def clashes(entries: Sequence[Entry], *, together: bool, numbers: Sequence[int] = ()) -> dict[int, Clash]:
    """Entries (by index) whose unique value is another person's, or another entry's too.

    Two entries giving the same value nobody holds yet: with `together` both are refused (their
    reason names them by `numbers`, else by index), else the first keeps it.
    """
    uniques = [(i, p, v) for i, e in enumerate(entries) for p, v in e.values if p.unique and v is not None]
    if not uniques:
        return {}
    owners = dict(select_in(PersonEmail, "email, person_id", "email", sorted({e.email for e in entries})))
    taken = unique_owners([Change(0, p, v) for _, p, v in uniques])
    found: dict[int, Clash] = {}
    for i, prop, value in uniques:
        owner = taken.get((prop.id, value))
        if owner is not None and owner != owners.get(entries[i].email):
            found.setdefault(i, Clash(prop, value, f"{prop.label}: {TAKEN}"))
    # An entry refused already claims nothing: the value's owner is not in doubt.
    claims: dict[tuple[int, str], list[int]] = {}
    for i, prop, value in uniques:
        if i not in found:
            claims.setdefault((prop.id, value), []).append(i)
    for (_, value), indices in claims.items():
        prop = next(p for p, v in entries[indices[0]].values if p.unique and v == value)
        if together and len(indices) > 1:
            named = " and ".join(str(numbers[i] if numbers else i) for i in indices)
            for i in indices:
                found.setdefault(i, Clash(prop, value, f"{prop.label}: items {named} give the same value."))
        elif not together:
            for i in indices[1:]:  # the first keeps the value
                found.setdefault(i, Clash(prop, value, f"{prop.label}: {TAKEN}"))
    return found


def upsert(
    entries: Sequence[Entry], revision: Revision, *, source: str, policy: str = Policy.OVERWRITE, as_of: Any = None
) -> list[Outcome]:
    """Writes entries with distinct emails and no clashing unique values (see `clashes`); call it in a transaction.

    Raises IntegrityError when the writer refuses a value after all (another writer took it
    meanwhile), so that the caller can write the entries one by one.
    """
    emails = [e.email for e in entries]
    owners: dict[str, int] = dict(select_in(PersonEmail, "email, person_id", "email", emails))
    fresh = [(e.email, e.first_name, e.last_name) for e in entries if e.email not in owners]
    known = {person_id: (first, last) for person_id, first, last in held_names(list(owners.values()))}
    made = create_people(fresh, source, revision.at)
    owners |= made
    new = set(made.values())
    renamed = set()
    names = []
    for e in entries:
        person_id = owners[e.email]
        if person_id in new:
            continue
        first, last = known[person_id]
        fill = policy != Policy.OVERWRITE
        new_first = e.first_name if e.first_name and not (fill and first) else first
        new_last = e.last_name if e.last_name and not (fill and last) else last
        if (new_first, new_last) != (first, last):
            names.append([person_id, new_first, new_last])
            renamed.add(person_id)
    # Names are not property values: no history.
    update_many(Person, "first_name = {}, last_name = {}", sorted(names))
    changes = [Change(owners[e.email], p, v, policy, as_of) for e in entries for p, v in e.values]
    written = write(changes, revision)
    if written.refused:
        raise IntegrityError(written.refused[0].reason)
    changed = written.changed | renamed
    skipped: dict[int, list[Skipped]] = {}
    for s in written.skipped:
        skipped.setdefault(s.change.person, []).append(s)
    outcomes = []
    for e in entries:
        person_id = owners[e.email]
        status = "created" if person_id in new else "updated" if person_id in changed else "unchanged"
        outcomes.append(Outcome(status, skipped.get(person_id, [])))
    return outcomes


def held_names(people: list[int]) -> list[tuple[Any, ...]]:
    return select_in(Person, "id, first_name, last_name", "id", sorted(people))


class Row(Entry, Protocol):
    number: int


R = TypeVar("R")
# (row number, email, reason, column, value, property) -> the import's record of a refused row.
Reject = Callable[[int, str, str, str, str, Property | None], R]


def import_batch(
    person_import: PersonImport, rows: Sequence[Row], user: Any, reject: Reject[R]
) -> tuple[int, int, list[R]]:
    """A CSV import's batch of valid rows, in one transaction; on a constraint failure, row by row.

    Returns the rows created, updated (known people, changed or not) and refused.
    """
    if not rows:
        return 0, 0, []
    good, refusals = screen(person_import, rows)
    refused = [reject(r.number, r.email, reason, column, value, prop) for r, reason, column, value, prop in refusals]
    revision = Revision(source=Source.CSV, source_code=str(person_import.code), changed_by=user, at=now())
    try:
        with transaction.atomic():
            # An import's values are as of its upload: whatever changed since is newer.
            outcomes = upsert(good, revision, source=Source.CSV, as_of=person_import.created)
            insert_many(ImportSeen, ["person_import_id", "email"], [[person_import.id, r.email] for r in good])
        created = sum(1 for o in outcomes if o.status == "created")
        return created, len(good) - created, refused
    except IntegrityError:
        if len(good) == 1:
            reason = "Conflicts with a change made meanwhile."
            return 0, 0, [*refused, reject(good[0].number, good[0].email, reason, "", "", None)]
    created = updated = 0
    for row in good:
        c, u, r = import_batch(person_import, [row], user, reject)
        created, updated, refused = created + c, updated + u, refused + r
    return created, updated, refused


def screen(
    person_import: PersonImport, rows: Sequence[Row]
) -> tuple[list[Row], list[tuple[Row, str, str, str, Property | None]]]:
    """Refuses rows whose email an earlier batch wrote, or whose unique value belongs to someone else."""
    emails = [r.email for r in rows]
    seen = {email for (email,) in select_in(ImportSeen, "email", "email", emails, person_import_id=person_import.id)}
    fresh = [r for r in rows if r.email not in seen]
    found = clashes(fresh, together=False)
    refused: list[tuple[Row, str, str, str, Property | None]] = [
        (r, "Duplicate email: an earlier row of this file has it.", "", "", None) for r in rows if r.email in seen
    ]
    refused += [(fresh[i], c.reason, c.prop.label, c.value, c.prop) for i, c in sorted(found.items())]
    return [r for i, r in enumerate(fresh) if i not in found], refused
