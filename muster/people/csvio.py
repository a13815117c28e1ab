"""CSV import and export of people, keyed by email.

Import streams the file with the stdlib csv reader, validates each row in Python, then writes
batches of good rows with bulk queries in one transaction per batch. A row is written whole or
not at all: any row that fails validation, or whose batch hits a database constraint, is retried
alone and, if it still fails, recorded as rejected with its reason. Empty cells leave values as
they are; an import never empties a value.
"""

from __future__ import annotations

import csv
import gc
import io
import json
import logging
import re
import sqlite3
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import chain
from json.encoder import encode_basestring_ascii
from operator import attrgetter
from pathlib import Path
from typing import Any

from defusedcsv import csv as safe_csv
from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import QuerySet
from django.utils.timezone import now
from django_tasks import task

from muster.people import imports
from muster.people import values as pv
from muster.people.models import (
    ImportRejection,
    ImportSeen,
    ImportStatus,
    Person,
    PersonEmail,
    PersonImport,
    Property,
    PropertyOption,
    PropertyType,
    PropertyValue,
    PropertyValueChange,
    Revision,
    Source,
    normalise_email,
)
from muster.people.serialise import Viewer, email, shown, value_text
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
    for name, label in ((first, BUILTIN[FIRST_NAME]), (last, BUILTIN[LAST_NAME])):
        if len(name) > NAME_LIMIT:
            return Rejection(number, address, f"{label}: longer than {NAME_LIMIT} characters.", label)
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


# SQLite, for this connection while it imports (the previous values come back after):
IMPORT_PRAGMAS = {
    # SQLite checkpoints after any commit that leaves 1,000 pages in the WAL, and a checkpoint
    # waits on fsync. Every import batch writes more than that, so the import would wait on a
    # checkpoint after each batch. A second thread checkpoints instead (`checkpoints`), while the
    # import writes the next batch. Other connections' commits still checkpoint as usual.
    "wal_autocheckpoint": 32768,  # pages: ~128 MiB of WAL
    # A batch touches tens of thousands of pages spread over the value indexes. A smaller cache
    # spills them to the WAL mid-transaction and reads them back.
    "cache_size": -262144,  # KiB
}


@contextmanager
def import_pragmas() -> Iterator[None]:
    if connection.vendor == "postgresql":
        with asynchronous_commits():
            yield
        return
    if connection.vendor != "sqlite":
        yield
        return
    before = {}
    with connection.cursor() as cursor:
        for name, value in IMPORT_PRAGMAS.items():
            cursor.execute(f"PRAGMA {name}")
            before[name] = int(cursor.fetchone()[0])
            cursor.execute(f"PRAGMA {name} = {int(value)}")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            for name, value in before.items():
                cursor.execute(f"PRAGMA {name} = {value}")


@contextmanager
def asynchronous_commits() -> Iterator[None]:
    """PostgreSQL: the import's commits return before their WAL is flushed to disk.

    A batch commit would otherwise wait on fsync of everything it wrote. The database stays
    consistent after a crash; what is lost is at most the batches of the last moment (a few hundred
    milliseconds). A crash cuts an import short either way, and importing the file again is safe:
    rows are matched by email, and values already written are unchanged, so they add no history.
    """
    with connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit TO off")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET synchronous_commit")


@contextmanager
def checkpoints() -> Iterator[Callable[[], None]]:
    """SQLite in WAL mode: a function that checkpoints in a second thread, on a connection of its own.

    A checkpoint copies committed pages from the WAL into the database file and waits on fsync.
    SQLite does this in C without Python's lock, so it runs on another core while the import
    parses and writes its next batch. The last one runs when the import ends, so the import
    leaves no more WAL behind than usual.
    """
    path = connection.settings_dict["NAME"]
    if connection.vendor != "sqlite" or not wal_file(path):
        yield lambda: None
        return
    db = sqlite3.connect(path, timeout=20, check_same_thread=False)
    worker = ThreadPoolExecutor(1, thread_name_prefix="checkpoint")
    running: list[Future[Any]] = []

    def checkpoint() -> None:
        if not running or running[-1].done():
            running.append(worker.submit(db.execute, "PRAGMA wal_checkpoint(PASSIVE)"))

    try:
        yield checkpoint
    finally:
        running.append(worker.submit(db.execute, "PRAGMA wal_checkpoint(PASSIVE)"))
        worker.shutdown(wait=True)
        db.close()
        # The data is committed whatever happens here: a failed checkpoint is only logged.
        for failed in {str(f.exception()) for f in running if f.exception() is not None}:
            log.warning("A checkpoint during a CSV import failed: %s", failed)


@contextmanager
def collections_per_batch() -> Iterator[Callable[[], object]]:
    """Python's cycle collector, paused while the import runs and run by hand after each batch.

    A batch allocates about 100,000 lists and tuples. The collector would run after every 700 of
    them, and every few batches walk all the objects the process holds (hundreds of thousands in
    a Django process). Collecting the young generations after each batch frees whatever cycles the
    batch left, so memory stays flat however long the file is.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield lambda: gc.collect(1)
    finally:
        if was_enabled:
            gc.enable()


def wal_file(path: Any) -> bool:
    if not isinstance(path, str | Path) or str(path).startswith(("file:", ":memory:")) or not Path(path).exists():
        return False
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA journal_mode")
        return bool(cursor.fetchone()[0] == "wal")


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
                created, updated, refused = write(person_import, batch.rows, user)
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
    seen = {email for (email,) in select_in(ImportSeen, "email", "email", emails, person_import_id=person_import.id)}
    uniques = {p.id: p for r in rows for p, _ in r.values if p.unique}
    owners: dict[str, int] = {}
    if uniques:
        owners = dict(select_in(PersonEmail, "email, person_id", "email", emails))
    taken: dict[tuple[int, str], int] = {}
    for prop in uniques.values():
        texts = [parsed for r in rows for p, parsed in r.values if p.id == prop.id]
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
        for prop, parsed in r.values if uniques else ():
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
        for prop, parsed in r.values if uniques else ():
            if prop.unique:
                claimed[(prop.id, parsed)] = r.email
        good.append(r)
    return good, refused


def write_rows(person_import: PersonImport, rows: list[Row], user: Any) -> tuple[int, int]:
    """Writes a batch of valid rows with a handful of set-based statements (executemany).

    Rows go to the database as plain lists and current values come back as plain tuples: a
    model instance per value costs more than writing it, at thousands of rows a second. Each
    update goes by value id, in id order.
    """
    stamp = now()
    at = connection.ops.adapt_datetimefield_value(stamp)
    code = str(person_import.code)
    owners: dict[str, int] = dict(select_in(PersonEmail, "email, person_id", "email", [r.email for r in rows]))
    fresh = [r for r in rows if r.email not in owners]
    known = [r for r in rows if r.email in owners]
    if fresh:
        owners |= create_people(fresh, stamp)
    # Names are not property values: no history, and an empty name cell keeps the old one.
    update_many(
        Person,
        "first_name = COALESCE(NULLIF({}, ''), first_name), last_name = COALESCE(NULLIF({}, ''), last_name)",
        sorted([owners[r.email], r.first_name, r.last_name] for r in known if r.first_name or r.last_name),
    )

    props = {p.id: p for r in rows for p, _ in r.values}
    # New people have no values yet: only the known ones' are read.
    labels = option_labels(props)
    current = current_values([owners[r.email] for r in known], props, labels) if known and props else {}
    # By value column: each row sets only its own, so no NULLs to bind (see `db_flag`).
    inserts: dict[int, list[list[Any]]] = {i: [] for i in range(len(COLUMNS))}
    updates: dict[int, list[list[Any]]] = {i: [] for i in range(len(COLUMNS))}
    handling = {p.id: Handling.of(p, labels, inserts, updates) for p in props.values()}
    history: list[list[Any]] = []
    revision_id = None
    multi: list[tuple[int | None, int, Property, list[Any]]] = []
    for r in rows:
        person_id = owners[r.email]
        for prop, parsed in r.values:
            h = handling[prop.id]
            value_id, held = current.get((person_id, h.id), NOTHING)
            if held is not None and held == h.held_form(parsed):
                continue  # unchanged: no write, no history
            if revision_id is None:  # the batch's revision, made once it changes something
                revision_id = Revision.objects.create(source=Source.CSV, source_code=code, changed_by=user, at=stamp).id
            old = "null" if held is None else h.held_json(held)
            history.append([person_id, h.id, old, h.parsed_json(parsed), revision_id])
            if h.multi:
                multi.append((value_id, person_id, prop, parsed))
            elif value_id is None:
                h.inserts.append([h.id, h.adapt(parsed), person_id, h.unique, at])
            elif h.text:
                h.updates.append([value_id, h.adapt(parsed), at, h.unique])
            else:
                h.updates.append([value_id, h.adapt(parsed), at])
    for i, made in inserts.items():
        # In the order of the value indexes (property, value, person): neighbours share index pages.
        made.sort()
        insert_many(PropertyValue, ["property_id", COLUMNS[i], "person_id", "is_unique", "updated"], made)
    # Only the column of the value's type is set, so only that column's index is touched.
    for i, changed in updates.items():
        extra = ", is_unique = {}" if i == 0 else ""
        update_many(PropertyValue, f"{COLUMNS[i]} = {{}}, updated = {{}}{extra}", sorted(changed))
    if multi:
        write_multi(multi, stamp)
    insert_many(
        PropertyValueChange,
        ["person_id", "property_id", "old", "new", "revision_id"],
        history,
    )
    insert_many(ImportSeen, ["person_import_id", "email"], [[person_import.id, r.email] for r in rows])
    return len(fresh), len(known)


def create_people(rows: list[Row], stamp: Any) -> dict[str, int]:
    """Inserts people and their primary emails; returns email -> person id."""
    code_field = Person._meta.get_field("code")
    at = connection.ops.adapt_datetimefield_value(stamp)
    # Each person's code as the database holds it, to match the ids the insert returns.
    codes = [code_field.get_db_prep_value(uuid.uuid4(), connection) for _ in rows]
    columns = ["code", "first_name", "last_name", "opted_out", "source", "created"]
    names = ", ".join(connection.ops.quote_name(c) for c in columns)
    marks = "(" + ", ".join(["%s"] * len(columns)) + ")"
    ids: dict[Any, int] = {}
    no, yes, source = db_flag()(False), db_flag()(True), Source.CSV.value
    with connection.cursor() as cursor:
        for start in range(0, len(rows), 500):
            chunk = list(zip(codes[start : start + 500], rows[start : start + 500], strict=True))
            cursor.execute(
                f"INSERT INTO {table(Person)} ({names}) "  # noqa: S608
                f"VALUES {', '.join([marks] * len(chunk))} RETURNING code, id",
                [cell for c, r in chunk for cell in (c, r.first_name, r.last_name, no, source, at)],
            )
            ids |= dict(cursor.fetchall())
    emails = {r.email: ids[c] for c, r in zip(codes, rows, strict=True)}
    insert_many(PersonEmail, ["person_id", "email", "is_primary"], [[i, e, yes] for e, i in emails.items()])
    return emails


def db_flag() -> Callable[[bool], bool | int]:
    """How to pass a boolean parameter: SQLite stores it as 0 or 1, so an int there.

    Python 3.11's sqlite3 binds exactly int, float and str directly; anything else (None, a bool,
    a str enum) goes through its adapter lookup, which raises and discards an AttributeError each
    time. An import binds hundreds of thousands of parameters: that cost about 5% of its work.
    """
    return int if connection.vendor == "sqlite" else bool


def adapter(prop: Property) -> Any:
    """Parsed value -> what the database driver takes for the value's column."""
    if prop.type == PropertyType.DATE:
        return connection.ops.adapt_datefield_value
    if prop.type == PropertyType.BOOLEAN:
        return db_flag()
    if prop.type == PropertyType.SINGLE_SELECT:
        return attrgetter("id")
    return pv.same


def option_labels(props: dict[int, Property]) -> dict[int, tuple[str, int]]:
    """Option id -> (label, position) for the select properties among `props`.

    Read afresh, not from the plan: a value may use an option added since the import began.
    """
    selects = [p.id for p in props.values() if p.is_select]
    if not selects:
        return {}
    found = PropertyOption.objects.filter(property__in=selects).values_list("id", "label", "position")
    return {i: (label, position) for i, label, position in found}


def current_values(
    people: list[int], props: dict[int, Property], labels: dict[int, tuple[str, int]]
) -> dict[tuple[int, int], tuple[int, Any]]:
    """(person id, property id) -> (value id, value as its column holds it) for these people and properties.

    A multi-select value is the tuple of its option ids, in the options' order. Plain SQL and
    tuples, a query per value column: Django's per-row converters cost more than the query.
    """
    found: dict[tuple[int, int], tuple[int, Any]] = {}
    columns: dict[str, list[int]] = {}
    for p in props.values():
        columns.setdefault(COLUMN.get(p.type, ""), []).append(p.id)
    persons = ", ".join(["%s"] * len(people))
    with connection.cursor() as cursor:
        for column, ids in columns.items():
            cursor.execute(
                f"SELECT id, person_id, property_id, {column or 'NULL'} FROM {table(PropertyValue)} "  # noqa: S608
                f"WHERE person_id IN ({persons}) AND property_id IN ({', '.join(['%s'] * len(ids))})",
                [*people, *ids],
            )
            found |= {
                (person_id, prop_id): (value_id, cell) for value_id, person_id, prop_id, cell in cursor.fetchall()
            }
    if "" not in columns:  # no multi-select property
        return found
    multi = {value_id: key for key, (value_id, _) in found.items() if props[key[1]].type == PropertyType.MULTI_SELECT}
    if multi:
        chosen: dict[int, list[int]] = {value_id: [] for value_id in multi}
        through = PropertyValue.value_options.through
        for value_id, option_id in through.objects.filter(propertyvalue_id__in=list(multi)).values_list(
            "propertyvalue_id", "propertyoption_id"
        ):
            chosen[value_id].append(option_id)
        for value_id, key in multi.items():
            ordered = tuple(sorted(chosen[value_id], key=lambda i: (labels[i][1], i)))
            found[key] = (value_id, ordered or None)
    return found


@dataclass(slots=True)
class Handling:
    """How `write_rows` treats one property's values, worked out once per batch, not per value."""

    id: int
    multi: bool
    text: bool
    unique: bool | int
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
        held_form: Callable[[Any], Any] = pv.same
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
            unique=db_flag()(prop.unique),
            held_form=held_form,
            held_json=held_json,
            parsed_json=JSON_TEXT[kind],
            adapt=adapter(prop),
            inserts=inserts.get(slot, []),
            updates=updates.get(slot, []),
        )


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


def write_multi(multi: list[tuple[int | None, int, Property, list[Any]]], stamp: Any) -> None:
    """Multi-select values: rows first (new ones need their ids), then their options."""
    made = iter(
        PropertyValue.objects.bulk_create(
            [
                PropertyValue(person_id=person_id, property=prop, updated=stamp)
                for i, person_id, prop, _ in multi
                if i is None
            ]
        )
    )
    at = connection.ops.adapt_datetimefield_value(stamp)
    update_many(PropertyValue, "updated = {}", sorted([i, at] for i, *_ in multi if i is not None))
    rows = [(value_id if value_id is not None else next(made).id, options) for value_id, _, _, options in multi]
    through = PropertyValue.value_options.through
    through.objects.filter(propertyvalue_id__in=[i for i, _ in rows]).delete()
    insert_many(through, ["propertyvalue_id", "propertyoption_id"], [[i, o.id] for i, options in rows for o in options])


NOTHING = (None, None)
COLUMNS = ["value_text", "value_number", "value_date", "value_bool", "value_option_id"]
COLUMN: dict[str, str] = {
    PropertyType.TEXT: "value_text",
    PropertyType.NUMBER: "value_number",
    PropertyType.DATE: "value_date",
    PropertyType.BOOLEAN: "value_bool",
    PropertyType.SINGLE_SELECT: "value_option_id",
}


def table(model: Any) -> str:
    return str(connection.ops.quote_name(model._meta.db_table))


def select_in(model: Any, columns: str, column: str, keys: list[Any], **equal: Any) -> list[tuple[Any, ...]]:
    """SELECT columns FROM model's table WHERE column IN keys (AND each of `equal`), as plain tuples.

    Plain SQL: the ORM prepares each of a batch's thousands of keys one by one.
    """
    if not keys:
        return []
    where = "".join(f" AND {connection.ops.quote_name(name)} = %s" for name in equal)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {columns} FROM {table(model)} "  # noqa: S608
            f"WHERE {connection.ops.quote_name(column)} IN ({', '.join(['%s'] * len(keys))}){where}",
            [*keys, *equal.values()],
        )
        return cursor.fetchall()


def execute_many(sql: str, rows: list[list[Any]]) -> None:
    if rows:
        with connection.cursor() as cursor:
            cursor.executemany(sql, rows)


def insert_many(model: Any, columns: list[str], rows: list[list[Any]]) -> None:
    """INSERTs rows, each a list of values in the order of `columns` (JSON columns take JSON text)."""
    if not rows:
        return
    names = ", ".join(connection.ops.quote_name(c) for c in columns)
    if connection.vendor == "postgresql":
        # COPY streams the rows in one command; PostgreSQL parses JSON text into jsonb itself. The
        # driver's own cursor does it, so Django's wrapper turns its errors into IntegrityError & co.
        with connection.wrap_database_errors, connection.cursor() as cursor:
            with cursor.cursor.copy(f"COPY {table(model)} ({names}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        return
    marks = "(" + ", ".join(["%s"] * len(columns)) + ")"
    execute_values(lambda values: f"INSERT INTO {table(model)} ({names}) VALUES {values}", marks, rows)  # noqa: S608


def update_many(model: Any, assignments: str, rows: list[list[Any]]) -> None:
    """UPDATEs rows by id: each row is [id, value, value…], and each {} in `assignments` takes a value.

    PostgreSQL updates many rows to a statement, joined to a VALUES list. SQLite runs UPDATE … FROM
    through a temporary table, slower than the statement per row that costs it no round trip.
    """
    if not rows:
        return
    width = len(rows[0])
    name = table(model)
    if connection.vendor == "sqlite":
        single = assignments.format(*["%s"] * (width - 1))
        execute_many(f"UPDATE {name} SET {single} WHERE id = %s", [[*row[1:], row[0]] for row in rows])  # noqa: S608
        return
    # The columns of a VALUES list are named column1, column2…
    joined = assignments.format(*[f"v.column{n}" for n in range(2, width + 1)])
    marks = "(" + ", ".join(["%s"] * width) + ")"
    execute_values(
        lambda values: f"UPDATE {name} SET {joined} FROM (VALUES {values}) AS v WHERE {name}.id = v.column1",  # noqa: S608
        marks,
        rows,
    )


def execute_values(statement: Callable[[str], str], marks: str, rows: list[list[Any]]) -> None:
    """Runs `statement(values)` for rows many to a statement, `values` being their VALUES list.

    One statement per row costs a round of parsing and binding each, and on PostgreSQL a round trip.
    """
    if not rows:
        return
    per = max(1, min(len(rows), (connection.features.max_query_params or 999) // len(rows[0]), 100))
    whole = len(rows) - len(rows) % per
    if whole:
        params = [list(chain.from_iterable(rows[i : i + per])) for i in range(0, whole, per)]
        execute_many(statement(", ".join([marks] * per)), params)
    if whole < len(rows):
        rest = rows[whole:]
        execute_many(statement(", ".join([marks] * len(rest))), [list(chain.from_iterable(rest))])


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
