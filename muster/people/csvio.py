"""CSV import and export of people, keyed by email.

Import streams the file with the stdlib csv reader, validates each row in Python, then writes
batches of good rows with bulk queries in one transaction per batch. A row is written whole or
not at all: any row that fails validation, or whose batch hits a database constraint, is retried
alone and, if it still fails, recorded as rejected with its reason. Empty cells leave values as
they are; an import never empties a value.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from defusedcsv import csv as safe_csv
from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import QuerySet
from django.utils.timezone import now
from django_tasks import task

from muster.people import values as pv
from muster.people.models import (
    ImportRejection,
    ImportSeen,
    ImportStatus,
    Person,
    PersonEmail,
    PersonImport,
    Property,
    PropertyType,
    PropertyValue,
    PropertyValueChange,
    Source,
    normalise_email,
)
from muster.people.serialise import Viewer, email, shown, value_text

log = logging.getLogger(__name__)

BATCH = 1000
EMAIL = "email"
FIRST_NAME = "first_name"
LAST_NAME = "last_name"
BUILTIN = {EMAIL: "Email", FIRST_NAME: "First name", LAST_NAME: "Last name"}
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
SURROGATES = re.compile("[\udc80-\udcff]")


class BadFile(ValueError):
    pass


def import_dir() -> Path:
    path = Path(settings.MEDIA_ROOT) / "imports"
    path.mkdir(parents=True, exist_ok=True)
    return path


def read_header(path: Path) -> list[str]:
    with path.open("rb") as f:
        first = f.readline(65536)
    try:
        header = next(csv.reader([first.decode("utf-8-sig")]), [])
    except UnicodeDecodeError:
        raise BadFile("The first line is not UTF-8 text: save the file as CSV UTF-8.") from None
    except csv.Error as e:
        raise BadFile(f"The first line is not CSV: {e}.") from None
    header = [h.strip() for h in header]
    if not any(header):
        raise BadFile("The file is empty or has no header row.")
    if len(set(header)) != len(header):
        raise BadFile("Two columns have the same name: rename one and upload again.")
    return header


def guess_mapping(columns: list[str], properties: list[Property]) -> dict[str, str]:
    """Column → target by name: email, first/last name, or a property's key or label."""
    guesses = {"email": EMAIL, "e-mail": EMAIL, "email address": EMAIL, "first name": FIRST_NAME}
    guesses |= {"firstname": FIRST_NAME, "first_name": FIRST_NAME, "last name": LAST_NAME, "lastname": LAST_NAME}
    guesses |= {"last_name": LAST_NAME, "surname": LAST_NAME}
    for p in properties:
        guesses.setdefault(p.key.casefold(), str(p.code))
        guesses.setdefault(p.label.casefold(), str(p.code))
    return {c: guesses.get(c.strip().casefold(), "") for c in columns}


@dataclass
class Row:
    number: int
    email: str
    first_name: str
    last_name: str
    values: dict[Property, Any] = field(default_factory=dict)


@dataclass
class Rejection:
    number: int
    email: str
    reason: str
    column: str = ""
    value: str = ""
    prop: Property | None = None


@dataclass
class Plan:
    """The mapping resolved: which column index feeds what."""

    email: int
    first_name: int | None
    last_name: int | None
    properties: list[tuple[int, str, Property]]


def plan_for(person_import: PersonImport) -> Plan:
    columns = person_import.columns
    mapping = person_import.mapping
    props = {str(p.code): p for p in Property.objects.prefetch_related("options")}
    targets = {target: columns.index(column) for column, target in mapping.items() if target in BUILTIN}
    if EMAIL not in targets:
        raise BadFile("Map one column to Email: people are matched by email.")
    return Plan(
        email=targets[EMAIL],
        first_name=targets.get(FIRST_NAME),
        last_name=targets.get(LAST_NAME),
        properties=[(columns.index(c), c, props[t]) for c, t in mapping.items() if t in props],
    )


def validate(plan: Plan, number: int, cells: list[str], width: int) -> Row | Rejection:
    address = normalise_email(cells[plan.email]) if plan.email < len(cells) else ""
    if any(SURROGATES.search(c) for c in cells):
        return Rejection(number, "" if SURROGATES.search(address) else address, "Bad encoding: the row is not UTF-8.")
    if len(cells) != width:
        return Rejection(number, address, f"The row has {len(cells)} cells; the header has {width}.")
    if not EMAIL_RE.match(address) or len(address) > 254:
        return Rejection(number, address, "The email is missing or not an email address.")

    def cell(i: int | None) -> str:
        return cells[i].strip()[:150] if i is not None else ""

    row = Row(number, address, cell(plan.first_name), cell(plan.last_name))
    for i, column, prop in plan.properties:
        try:
            parsed = pv.parse(prop, cells[i], prop.options.all())
        except pv.InvalidValue as e:
            return Rejection(number, address, f"{column}: the value {e}", column, cells[i][:1000], prop)
        if parsed is not None:
            row.values[prop] = parsed
    return row


def rows_of(path: Path, person_import: PersonImport) -> Iterator[tuple[int, list[str], int]]:
    """(row number, cells, bytes read so far). Undecodable bytes survive as surrogates for `validate`."""
    with path.open("rb") as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8-sig", errors="surrogateescape", newline="")
        reader = csv.reader(text)
        next(reader, None)
        for cells in reader:
            if not any(c.strip() for c in cells):
                continue
            yield reader.line_num, cells, raw.tell()


@task()
def import_people(code: str) -> None:
    """The background import of an uploaded CSV (queued by the mapping step)."""
    claimed = PersonImport.objects.filter(code=code, status=ImportStatus.QUEUED).update(status=ImportStatus.RUNNING)
    if claimed != 1:
        return
    person_import = PersonImport.objects.get(code=code)
    try:
        run_import(person_import)
    except Exception as e:
        log.exception("Import %s failed", code)
        PersonImport.objects.filter(id=person_import.id).update(
            status=ImportStatus.FAILED,
            error=str(e)[:500] if isinstance(e, BadFile) else "Unexpected error.",
            finished=now(),
        )
        raise


def run_import(person_import: PersonImport) -> None:
    plan = plan_for(person_import)
    width = len(person_import.columns)
    user = person_import.created_by
    batch: list[Row] = []
    in_batch: set[str] = set()
    rejected: list[Rejection] = []
    counts = {"created": 0, "updated": 0, "rejected": 0, "done": 0}
    position = 0

    def flush() -> None:
        nonlocal batch, in_batch, rejected
        created, updated, refused = write(person_import, batch, user)
        rejected += refused
        ImportRejection.objects.bulk_create(
            ImportRejection(
                person_import=person_import,
                row=r.number,
                email=r.email[:254],
                column=r.column[:200],
                property=r.prop,
                value=r.value[:1000],
                reason=r.reason[:300],
            )
            for r in rejected
        )
        counts["created"] += created
        counts["updated"] += updated
        counts["rejected"] += len(rejected)
        counts["done"] += len(batch) + len(rejected) - len(refused)
        PersonImport.objects.filter(id=person_import.id).update(
            rows_done=counts["done"],
            rows_created=counts["created"],
            rows_updated=counts["updated"],
            rows_rejected=counts["rejected"],
            bytes_done=position,
        )
        batch, in_batch, rejected = [], set(), []

    for number, cells, read in rows_of(Path(person_import.path), person_import):
        position = read
        result = validate(plan, number, cells, width)
        if isinstance(result, Row) and result.email in in_batch:
            result = Rejection(number, result.email, "Duplicate email: an earlier row of this file has it.")
        if isinstance(result, Rejection):
            rejected.append(result)
        else:
            batch.append(result)
            in_batch.add(result.email)
        if len(batch) >= BATCH:
            flush()
    flush()
    ImportSeen.objects.filter(person_import=person_import).delete()
    PersonImport.objects.filter(id=person_import.id).update(
        status=ImportStatus.DONE, bytes_done=person_import.size, finished=now()
    )


def write(person_import: PersonImport, rows: list[Row], user: Any) -> tuple[int, int, list[Rejection]]:
    """Writes rows in one transaction; on a constraint failure, row by row. Returns created, updated, rejected."""
    if not rows:
        return 0, 0, []
    rows, refused = screen(person_import, rows)
    try:
        with transaction.atomic():
            created, updated = write_rows(person_import, rows, user)
        return created, updated, refused
    except IntegrityError:
        if len(rows) == 1:
            return 0, 0, [*refused, Rejection(rows[0].number, rows[0].email, "Conflicts with a change made meanwhile.")]
    created = updated = 0
    for row in rows:
        c, u, r = write(person_import, [row], user)
        created, updated, refused = created + c, updated + u, refused + r
    return created, updated, refused


def screen(person_import: PersonImport, rows: list[Row]) -> tuple[list[Row], list[Rejection]]:
    """Rejects rows whose email an earlier batch wrote, or whose unique value belongs to someone else."""
    emails = [r.email for r in rows]
    seen = set(ImportSeen.objects.filter(person_import=person_import, email__in=emails).values_list("email", flat=True))
    owners = dict(PersonEmail.objects.filter(email__in=emails).values_list("email", "person_id"))
    taken: dict[tuple[int, str], int] = {}
    for prop in {p for r in rows for p in r.values if p.unique}:
        texts = [r.values[prop] for r in rows if prop in r.values]
        taken |= {
            (prop.id, str(t)): person_id
            for t, person_id in PropertyValue.objects.filter(
                property=prop, is_unique=True, value_text__in=texts
            ).values_list("value_text", "person_id")
        }
    good, refused = [], []
    claimed: dict[tuple[int, str], str] = {}
    for r in rows:
        if r.email in seen:
            refused.append(Rejection(r.number, r.email, "Duplicate email: an earlier row of this file has it."))
            continue
        clash = None
        for prop, parsed in r.values.items():
            if not prop.unique:
                continue
            owner = taken.get((prop.id, parsed))
            if (owner is not None and owner != owners.get(r.email)) or claimed.get(
                (prop.id, parsed), r.email
            ) != r.email:
                clash = Rejection(
                    r.number, r.email, f"{prop.label}: the value is already another person's.", prop.label, parsed, prop
                )
                break
        if clash:
            refused.append(clash)
            continue
        for prop, parsed in r.values.items():
            if prop.unique:
                claimed[(prop.id, parsed)] = r.email
        good.append(r)
    return good, refused


def write_rows(person_import: PersonImport, rows: list[Row], user: Any) -> tuple[int, int]:
    stamp = now()
    code = str(person_import.code)
    owners = dict(PersonEmail.objects.filter(email__in=[r.email for r in rows]).values_list("email", "person_id"))
    fresh = [r for r in rows if r.email not in owners]
    people = Person.objects.bulk_create(
        Person(first_name=r.first_name, last_name=r.last_name, source=Source.CSV, created=stamp) for r in fresh
    )
    PersonEmail.objects.bulk_create(
        PersonEmail(person_id=p.id, email=r.email, is_primary=True) for p, r in zip(people, fresh, strict=True)
    )
    owners |= {r.email: p.id for p, r in zip(people, fresh, strict=True)}
    renamed = [
        Person(id=owners[r.email], first_name=r.first_name, last_name=r.last_name)
        for r in rows
        if r not in fresh and (r.first_name or r.last_name)
    ]
    if renamed:
        # Names are not property values: no history, and an empty name cell keeps the old one.
        old = {p.id: p for p in Person.objects.filter(id__in=[p.id for p in renamed])}
        for p in renamed:
            p.first_name = p.first_name or old[p.id].first_name
            p.last_name = p.last_name or old[p.id].last_name
        Person.objects.bulk_update(renamed, ["first_name", "last_name"])

    props = {p.id: p for r in rows for p in r.values}
    existing = {
        (v.person_id, v.property_id): v
        for v in PropertyValue.objects.filter(person_id__in=list(owners.values()), property_id__in=list(props))
        .select_related("value_option")
        .prefetch_related("value_options")
    }
    # Rows go to the database as plain lists through executemany: building a model instance per
    # value costs more than writing it, at thousands of rows a second.
    at = connection.ops.adapt_datetimefield_value(stamp)
    user_id = user.id if user is not None else None
    inserts: list[list[Any]] = []
    updates: list[list[Any]] = []
    history: list[list[Any]] = []
    multi: list[tuple[PropertyValue, list[Any]]] = []
    for r in rows:
        person_id = owners[r.email]
        for prop, parsed in r.values.items():
            row = existing.get((person_id, prop.id))
            old, new = pv.to_json(prop, pv.stored(prop, row)), pv.to_json(prop, parsed)
            if old == new:
                continue
            history.append([person_id, prop.id, json.dumps(old), json.dumps(new), Source.CSV, code, user_id, at])
            if prop.type == PropertyType.MULTI_SELECT:
                value = row or PropertyValue(person_id=person_id, property=prop, updated=stamp)
                multi.append((value, parsed))
                continue
            cells = [None, None, None, None, None]
            cells[COLUMN[prop.type]] = column_value(prop, parsed)
            if row is None:
                inserts.append([person_id, prop.id, *cells, prop.unique, at])
            else:
                updates.append([*cells, prop.unique, at, row.id])
    columns = ["value_text", "value_number", "value_date", "value_bool", "value_option_id", "is_unique", "updated"]
    insert_many(PropertyValue, ["person_id", "property_id", *columns], inserts)
    update_many(PropertyValue, columns, updates)
    if multi:
        PropertyValue.objects.bulk_create([v for v, _ in multi if v.id is None])
        through = PropertyValue.value_options.through
        through.objects.filter(propertyvalue_id__in=[v.id for v, _ in multi]).delete()
        insert_many(
            through, ["propertyvalue_id", "propertyoption_id"], [[v.id, o.id] for v, options in multi for o in options]
        )
    insert_many(
        PropertyValueChange,
        ["person_id", "property_id", "old", "new", "source", "source_code", "changed_by_id", "at"],
        history,
        json_columns={"old", "new"},
    )
    insert_many(ImportSeen, ["person_import_id", "email"], [[person_import.id, r.email] for r in rows])
    return len(fresh), len(rows) - len(fresh)


COLUMN: dict[str, int] = {
    PropertyType.TEXT: 0,
    PropertyType.NUMBER: 1,
    PropertyType.DATE: 2,
    PropertyType.BOOLEAN: 3,
    PropertyType.SINGLE_SELECT: 4,
}


def column_value(prop: Property, parsed: Any) -> Any:
    if prop.type == PropertyType.DATE:
        return connection.ops.adapt_datefield_value(parsed)
    if prop.type == PropertyType.SINGLE_SELECT:
        return parsed.id
    return parsed


def insert_many(
    model: Any, columns: list[str], rows: list[list[Any]], json_columns: frozenset[str] | set[str] = frozenset()
) -> None:
    if not rows:
        return
    table = connection.ops.quote_name(model._meta.db_table)
    names = ", ".join(connection.ops.quote_name(c) for c in columns)
    cast = "::jsonb" if connection.vendor == "postgresql" else ""
    marks = ", ".join(f"%s{cast}" if c in json_columns else "%s" for c in columns)
    with connection.cursor() as cursor:
        cursor.executemany(f"INSERT INTO {table} ({names}) VALUES ({marks})", rows)  # noqa: S608


def update_many(model: Any, columns: list[str], rows: list[list[Any]]) -> None:
    """Rows are the new column values followed by the id."""
    if not rows:
        return
    table = connection.ops.quote_name(model._meta.db_table)
    sets = ", ".join(f"{connection.ops.quote_name(c)} = %s" for c in columns)
    with connection.cursor() as cursor:
        cursor.executemany(f"UPDATE {table} SET {sets} WHERE id = %s", rows)  # noqa: S608


def export_rows(people: QuerySet[Person], properties: list[Property], viewer: Viewer) -> Iterator[list[str]]:
    """Header then one row per person, through the masking layer, a page of 1,000 at a time."""
    yield ["Email", "First name", "Last name", "Opted out", *[p.label for p in properties]]
    last = 0
    ordered = people.order_by("id").prefetch_related("emails")
    while True:
        page = list(ordered.filter(id__gt=last)[:1000])
        if not page:
            return
        values = pv.values_of(page, properties)
        for person in page:
            yield [
                email(viewer, person.primary_email),
                shown_part(viewer, person.first_name),
                shown_part(viewer, person.last_name),
                "yes" if person.opted_out else "no",
                *[value_text(viewer, p, values.get((person.id, p.id))) for p in properties],
            ]
        last = page[-1].id


def shown_part(viewer: Viewer, text: str) -> str:
    return shown(viewer, True, text)


class Echo:
    def write(self, value: str) -> str:
        return value


def csv_lines(rows: Iterator[list[str]]) -> Iterator[str]:
    """Formula-safe CSV lines: defusedcsv escapes cells starting with = + - @ and friends."""
    writer = safe_csv.writer(Echo())
    for row in rows:
        yield writer.writerow(row)
