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

from muster.people import imports
from muster.people import values as pv
from muster.people.models import (
    ImportRejection,
    ImportStatus,
    Person,
    PersonImport,
    Property,
    normalise_email,
)
from muster.people.tuning import checkpoints, collections_per_batch, import_pragmas
from muster.people.upserts import import_batch
from muster.scheduling import leases

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
HEADER_LIMIT = 65536  # bytes
NAME_LIMIT = Person._meta.get_field("first_name").max_length or 150
# A cell that starts a row, as an email cell does: in a quoted cell spanning lines, it means an
# unclosed quote has joined the rows after it into the cell.
ROW_START = re.compile(r"(?:^|,)\s*[^@\s,\"]+@[^@\s,\"]+\.[^@\s,\"]+\s*(?:,|$)", re.MULTILINE)


class BadFile(ValueError):
    pass


def import_dir() -> Path:
    path = Path(settings.MEDIA_ROOT) / "imports"
    path.mkdir(parents=True, exist_ok=True)
    return path


def read_header(path: Path) -> list[str]:
    with path.open("rb") as f:
        first = f.readline(HEADER_LIMIT + 1)
    if len(first) > HEADER_LIMIT:
        raise BadFile(
            f"The first line is longer than {HEADER_LIMIT // 1024} KiB: it should be the header row, "
            "naming each column. Is the file CSV, with one row per line?"
        )
    try:
        line = first.decode("utf-8-sig")
        if "\0" in line:
            raise BadFile("The first line contains a NUL character: save the file as CSV UTF-8.")
        header = next(csv.reader([line]), [])
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
    # The row's other problems: a row is one rejection, listed with each of its problems.
    others: list[Rejection] = field(default_factory=list)


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
    if "\0" in joined:
        return Rejection(number, "" if "\0" in address else address, "The row contains a NUL character.")
    if len(cells) != width:
        return Rejection(number, address, f"The row has {len(cells)} cells; the header has {width}.")
    if not EMAIL_RE.match(address) or len(address) > 254:
        return Rejection(number, address, "The email is missing or not an email address.")
    first = cells[plan.first_name].strip() if plan.first_name is not None else ""
    last = cells[plan.last_name].strip() if plan.last_name is not None else ""
    row = Row(number, address, first, last)
    problems: list[Rejection] = [
        Rejection(number, address, f"{label}: longer than {NAME_LIMIT} characters.", label)
        for name, label in ((first, BUILTIN[FIRST_NAME]), (last, BUILTIN[LAST_NAME]))
        if len(name) > NAME_LIMIT
    ]
    for i, column, prop in plan.properties:
        try:
            parsed = pv.parse(prop, cells[i], plan.options.get(prop.id, ()))
        except pv.InvalidValue as e:
            # Every problem of the row at once, so one fix of the file is enough.
            problems.append(Rejection(number, address, f"{column}: the value {e}", column, cells[i][:1000], prop))
            continue
        if parsed is not None:
            row.values.append((prop, parsed))
    if problems:
        first_problem, *others = problems
        first_problem.others = others
        return first_problem
    return row


@contextmanager
def rows_of(path: Path, after: int = 0) -> Iterator[tuple[Iterator[tuple[int, list[str] | str]], Callable[[], int]]]:
    """(row number, cells) of the non-blank rows after line `after`, and a function giving the bytes read so far.

    A row the reader cannot take comes as (its line number, why) instead, and the rows after it
    still come. Undecodable bytes survive as surrogates for `validate`. The bytes read are asked
    for once a batch: asking for every row costs a system call each.
    """
    with path.open("rb") as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8-sig", errors="surrogateescape", newline="")
        yield read_rows(csv.reader(text), after), raw.tell


def read_rows(reader: Any, after: int) -> Iterator[tuple[int, list[str] | str]]:
    next(reader, None)
    ended = reader.line_num  # the last line of the row before
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as e:
            number = reader.line_num
            if number > after:
                yield number, unreadable(str(e), ended + 1, number)
            ended = number
            continue
        number = reader.line_num
        # Only rows that span lines are searched, and only once the plain cases are out.
        if number > after and number - ended > 1 and any(ROW_START.search(c) for c in cells if "\n" in c):
            yield number, swallowed(ended + 1, number)
        elif number > after and any(c.strip() for c in cells):
            yield number, cells
        ended = number


def unreadable(error: str, first: int, last: int) -> str:
    if "field larger than field limit" in error:
        limit = f"{csv.field_size_limit():,}"
        if last > first:
            return (
                f"A quote opened on line {first} is not closed: lines {first}-{last} were read as one cell "
                f"longer than {limit} characters."
            )
        return f"A cell is longer than {limit} characters."
    return f"The line is not CSV: {error}."


def swallowed(first: int, last: int) -> str:
    return (
        f"A quote opened on line {first} is not closed where its cell ends: lines {first}-{last} were read "
        "as one row, and none of them was imported. Check the quotes on those lines."
    )


@task()
def import_people(code: str) -> None:
    """The background import of an uploaded CSV (queued by the mapping step, or again by
    `leases.reclaim_lapsed` when the worker importing it died: it resumes after the last committed batch)."""
    holder = leases.new_holder()
    work = PersonImport.objects.filter(code=code, status__in=[ImportStatus.QUEUED, ImportStatus.RUNNING])
    if not leases.take(work, holder, status=ImportStatus.RUNNING):
        return  # ended, or another worker holds it
    person_import = PersonImport.objects.get(code=code)
    try:
        run_import(person_import, holder)
    except leases.LeaseLost:
        log.info("Import %s was cancelled or taken over: stopped", code)
    except Exception as e:
        log.exception("Import %s failed", code)
        leases.release(
            work.filter(id=person_import.id), holder, status=ImportStatus.FAILED, error=failure(e), finished=now()
        )
        raise


def failure(e: Exception) -> str:
    """Why an import failed, in words for the page: never the exception's text, which may hold row data."""
    if isinstance(e, BadFile):
        return str(e)[:500]
    if isinstance(e, FileNotFoundError):
        return "The uploaded file has been deleted: upload it again to import it."
    return (
        f"Unexpected error ({type(e).__name__}). Retry: the import goes on after the rows already "
        "saved. If it fails again, the worker's log has the details."
    )


def run_import(person_import: PersonImport, holder: str = "") -> None:
    with import_pragmas():
        import_rows(person_import, holder)


@dataclass
class Batch:
    rows: list[Row] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)
    position: int = 0  # bytes of the file read
    line: int = 0  # the last line of the file it holds


def batches(plan: Plan, path: Path, width: int, after: int = 0) -> Iterator[Batch]:
    """The file's rows after line `after`, validated, in batches of BATCH rows, good and bad.

    Bad rows count towards a batch too, so a file of bad rows still commits (and renews the
    import's lease) batch by batch, and its rejections never pile up in memory.
    """
    batch, in_batch = Batch(line=after), set()
    with rows_of(path, after) as (rows, read):
        for number, cells in rows:
            result = Rejection(number, "", cells) if isinstance(cells, str) else validate(plan, number, cells, width)
            if isinstance(result, Row) and result.email in in_batch:
                result = Rejection(number, result.email, "Duplicate email: an earlier row of this file has it.")
            if isinstance(result, Rejection):
                batch.rejected.append(result)
            else:
                batch.rows.append(result)
                in_batch.add(result.email)
            batch.line = number
            if len(batch.rows) + len(batch.rejected) >= BATCH:
                batch.position = read()
                yield batch
                batch, in_batch = Batch(position=batch.position, line=number), set()
        batch.position = read()
    yield batch


def import_rows(person_import: PersonImport, holder: str = "") -> None:
    """Imports the rows after the last committed batch, each batch committed with the lease renewed.

    Raises LeaseLost, its batch undone, once the import is cancelled or another worker took it over.
    """
    if not person_import.path:
        raise BadFile("The uploaded file has been deleted: upload it again to import it.")
    plan = plan_for(person_import)
    width = len(person_import.columns)
    user = person_import.created_by
    work = PersonImport.objects.filter(id=person_import.id, status=ImportStatus.RUNNING)
    p = person_import
    counts = {"created": p.rows_created, "updated": p.rows_updated, "rejected": p.rows_rejected, "done": p.rows_done}
    with checkpoints() as checkpoint, collections_per_batch() as collect:
        for batch in batches(plan, Path(person_import.path), width, person_import.lines_done):
            # One transaction for the batch, its rejections and the progress it makes. The lease
            # comes first: on PostgreSQL the row stays locked until the commit, so no one else can
            # commit this batch meanwhile.
            with transaction.atomic():
                leases.renew(work, holder)
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
                    for rejection in rejected
                    for r in (rejection, *rejection.others)
                )
                counts["created"] += created
                counts["updated"] += updated
                counts["rejected"] += len(rejected)
                counts["done"] += len(batch.rows) + len(batch.rejected)
                leases.renew(
                    work,
                    holder,
                    rows_done=counts["done"],
                    rows_created=counts["created"],
                    rows_updated=counts["updated"],
                    rows_rejected=counts["rejected"],
                    bytes_done=batch.position,
                    lines_done=batch.line,
                )
            checkpoint()
            collect()
    if not leases.release(work, holder, status=ImportStatus.DONE, bytes_done=person_import.size, finished=now()):
        raise leases.LeaseLost
    imports.ended(person_import)
