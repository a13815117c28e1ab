"""CSV import of people, keyed by email: reading and checking the file, in batches for `upserts`.

Import streams the file with the stdlib csv reader, validates each row in Python, then writes
batches of good rows with bulk queries in one transaction per batch. A row is written whole or
not at all: any row that fails validation, or whose batch hits a database constraint, is retried
alone and, if it still fails, recorded as rejected with its reason. Empty cells leave values as
they are; an import never empties a value.
"""

from __future__ import annotations

import csv
import io
import logging
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils.timezone import now
from django_tasks import task

from muster.people import values as pv
from muster.people.models import (
    ImportRejection,
    ImportSeen,
    ImportStatus,
    PersonImport,
    Property,
    normalise_email,
)
from muster.people.tuning import checkpoints, collections_per_batch, import_pragmas
from muster.people.upserts import import_batch

log = logging.getLogger(__name__)

# Rows per transaction. SQLite writes each page a transaction touched once at its commit, and a
# batch of this size touches most pages of the value indexes it writes to: smaller batches write
# the same pages again and again. On SQLite a batch holds the write lock for about a second on a
# slow 2-core machine, so another writer (a webhook, an edit) waits that long at most; batches of
# 1,000 halve that for about 12% less throughput.
BATCH = 2000
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
    # (property, parsed value) pairs: a dict keyed by model instances costs a hash of each.
    values: list[tuple[Property, Any]] = field(default_factory=list)


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
    # Each select property's options, indexed once rather than searched for every cell.
    options: dict[int, pv.OptionIndex] = field(default_factory=dict)


def plan_for(person_import: PersonImport) -> Plan:
    columns = person_import.columns
    mapping = person_import.mapping
    props = {str(p.code): p for p in Property.objects.prefetch_related("options")}
    targets = {target: columns.index(column) for column, target in mapping.items() if target in BUILTIN}
    if EMAIL not in targets:
        raise BadFile("Map one column to Email: people are matched by email.")
    chosen = [(columns.index(c), c, props[t]) for c, t in mapping.items() if t in props]
    return Plan(
        email=targets[EMAIL],
        first_name=targets.get(FIRST_NAME),
        last_name=targets.get(LAST_NAME),
        properties=chosen,
        options={p.id: pv.OptionIndex(p.options.all()) for _, _, p in chosen if p.is_select},
    )


def validate(plan: Plan, number: int, cells: list[str], width: int) -> Row | Rejection:
    address = normalise_email(cells[plan.email]) if plan.email < len(cells) else ""
    joined = "".join(cells)
    # isascii() reads a flag: the search runs only for rows that have other characters.
    if not joined.isascii() and SURROGATES.search(joined):
        return Rejection(number, "" if SURROGATES.search(address) else address, "Bad encoding: the row is not UTF-8.")
    if len(cells) != width:
        return Rejection(number, address, f"The row has {len(cells)} cells; the header has {width}.")
    if not EMAIL_RE.match(address) or len(address) > 254:
        return Rejection(number, address, "The email is missing or not an email address.")
    first = cells[plan.first_name].strip()[:150] if plan.first_name is not None else ""
    last = cells[plan.last_name].strip()[:150] if plan.last_name is not None else ""
    row = Row(number, address, first, last)
    for i, column, prop in plan.properties:
        try:
            parsed = pv.parse(prop, cells[i], plan.options.get(prop.id, ()))
        except pv.InvalidValue as e:
            return Rejection(number, address, f"{column}: the value {e}", column, cells[i][:1000], prop)
        if parsed is not None:
            row.values.append((prop, parsed))
    return row


@contextmanager
def rows_of(path: Path) -> Iterator[tuple[Iterator[tuple[int, list[str]]], Callable[[], int]]]:
    """(row number, cells) of the non-blank rows, and a function giving the bytes read so far.

    Undecodable bytes survive as surrogates for `validate`. The bytes read are asked for once a
    batch: asking for every row costs a system call each.
    """
    with path.open("rb") as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8-sig", errors="surrogateescape", newline="")
        reader = csv.reader(text)
        next(reader, None)
        yield ((reader.line_num, cells) for cells in reader if any(c.strip() for c in cells)), raw.tell


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
    with import_pragmas():
        import_rows(person_import)


@dataclass
class Batch:
    rows: list[Row] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)
    position: int = 0  # bytes of the file read


def batches(plan: Plan, path: Path, width: int) -> Iterator[Batch]:
    """The file's rows, validated, in batches of BATCH good rows with the bad rows among them."""
    batch, in_batch = Batch(), set()
    with rows_of(path) as (rows, read):
        for number, cells in rows:
            result = validate(plan, number, cells, width)
            if isinstance(result, Row) and result.email in in_batch:
                result = Rejection(number, result.email, "Duplicate email: an earlier row of this file has it.")
            if isinstance(result, Rejection):
                batch.rejected.append(result)
            else:
                batch.rows.append(result)
                in_batch.add(result.email)
            if len(batch.rows) >= BATCH:
                batch.position = read()
                yield batch
                batch, in_batch = Batch(position=batch.position), set()
        batch.position = read()
    yield batch


def import_rows(person_import: PersonImport) -> None:
    plan = plan_for(person_import)
    width = len(person_import.columns)
    user = person_import.created_by
    counts = {"created": 0, "updated": 0, "rejected": 0, "done": 0}
    with checkpoints() as checkpoint, collections_per_batch() as collect:
        for batch in batches(plan, Path(person_import.path), width):
            # One transaction for the batch, its rejections and the progress it makes.
            with transaction.atomic():
                created, updated, refused = import_batch(person_import, batch.rows, user, Rejection)
                rejected = batch.rejected + refused
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
                counts["done"] += len(batch.rows) + len(batch.rejected)
                PersonImport.objects.filter(id=person_import.id).update(
                    rows_done=counts["done"],
                    rows_created=counts["created"],
                    rows_updated=counts["updated"],
                    rows_rejected=counts["rejected"],
                    bytes_done=batch.position,
                )
            checkpoint()
            collect()
    ImportSeen.objects.filter(person_import=person_import).delete()
    PersonImport.objects.filter(id=person_import.id).update(
        status=ImportStatus.DONE, bytes_done=person_import.size, finished=now()
    )
