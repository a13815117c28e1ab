"""People list and CSV import figures (issue 3). Not a test: prints its figures.

    .venv/bin/python bench/people.py [--people 100000]
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/muster_bench .venv/bin/python bench/people.py

Seeds N people × 30 properties into a throwaway SQLite file (or the given PostgreSQL database,
which is emptied first), then measures the People list filtered on two properties and paginated
(median server time and query count, through the real view), and CSV import throughput and peak
memory for two file sizes (memory should not grow with the file).
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--people", type=int, default=100_000)
    args = parser.parse_args()
    with bench_database() as connection:
        print(f"database: {connection.vendor}, people: {args.people:,}; this machine: {machine_speed()}")
        props = seed(args.people)
        list_figures(props)
        import_figures(props)


@contextmanager
def bench_database() -> Iterator[Any]:
    """Django set up on a migrated, empty database (a throwaway SQLite file unless DATABASE_URL
    names a PostgreSQL bench database); yields the connection."""
    scratch = None
    if "MUSTER_DATA_DIR" not in os.environ:
        scratch = tempfile.mkdtemp(prefix="muster-bench-")
        os.environ["MUSTER_DATA_DIR"] = scratch
    os.environ["DJANGO_SETTINGS_MODULE"] = "muster.test_settings"
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    if connection.vendor == "postgresql":
        # The bench empties the database it is given: refuse anything not named as a bench database.
        if "bench" not in connection.settings_dict["NAME"]:
            raise SystemExit("DATABASE_URL must name a throwaway database with 'bench' in its name.")
        with connection.cursor() as c:
            c.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
    call_command("migrate", verbosity=0)
    call_command("createcachetable", verbosity=0)
    try:
        yield connection
    finally:
        if scratch:
            connection.close()
            shutil.rmtree(scratch, ignore_errors=True)


def seed(n: int) -> list:
    from django.db import connection, transaction

    from muster.people.models import Person, PersonEmail, PropertyValue
    from muster.people.properties import create_property

    rnd = random.Random(1)  # noqa: S311
    kinds = (
        ["number"] * 8 + ["date"] * 5 + ["text"] * 7 + ["boolean"] * 4 + ["single_select"] * 4 + ["multi_select"] * 2
    )
    props = []
    for i, kind in enumerate(kinds):
        labels = [f"option {j}" for j in range(8)] if "select" in kind else None
        props.append(create_property(f"p{i}", f"Property {i}", kind, options=labels))
    options = {p.id: list(p.options.all()) for p in props}
    started = time.perf_counter()
    through = PropertyValue.value_options.through
    for start in range(0, n, 5000):
        with transaction.atomic():
            people = Person.objects.bulk_create(
                Person(first_name=f"F{i}", last_name=f"L{i}") for i in range(start, min(n, start + 5000))
            )
            PersonEmail.objects.bulk_create(
                PersonEmail(person=p, email=f"person{p.id}@example.org", is_primary=True) for p in people
            )
            rows = []
            for person in people:
                for p in props:
                    v = PropertyValue(person=person, property=p)
                    if p.type == "number":
                        v.value_number = rnd.randint(0, 100)
                    elif p.type == "date":
                        v.value_date = date(2000, 1, 1) + timedelta(days=rnd.randint(0, 9000))
                    elif p.type == "text":
                        v.value_text = (
                            rnd.choice(["designer", "nurse", "teacher", "engineer", "chef"]) + f" {rnd.randint(0, 999)}"
                        )
                    elif p.type == "boolean":
                        v.value_bool = rnd.random() < 0.5
                    elif p.type == "single_select":
                        v.value_option = rnd.choice(options[p.id])
                    rows.append(v)
            PropertyValue.objects.bulk_create(rows, batch_size=5000)
            multi = [v for v in rows if v.property.type == "multi_select"]
            through.objects.bulk_create(
                (
                    through(propertyvalue_id=v.id, propertyoption_id=o.id)
                    for v in multi
                    for o in rnd.sample(options[v.property_id], 2)
                ),
                batch_size=5000,
            )
    with connection.cursor() as c:
        # PostgreSQL's index-only scans need the visibility map VACUUM builds: a live database has
        # it from autovacuum, a freshly seeded one not yet.
        c.execute("VACUUM ANALYZE" if connection.vendor == "postgresql" else "ANALYZE")
    print(f"seeded {n:,} people × {len(props)} properties in {time.perf_counter() - started:.0f} s")
    return props


def list_figures(props: list) -> None:
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from muster.accounts.models import User

    user = User.objects.create_user("bench@example.org", "x" * 12, role="researcher")
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(user)
    number = next(p for p in props if p.type == "number")
    select = next(p for p in props if p.type == "single_select")
    query = {
        f"p.{number.key}.min": "30",
        f"p.{number.key}.max": "60",
        f"p.{select.key}": ["option 1", "option 2"],
        "page": "3",
    }
    client.get("/people/", query)
    times = []
    for _ in range(15):
        started = time.perf_counter()
        r = client.get("/people/", query)
        times.append((time.perf_counter() - started) * 1000)
        assert r.status_code == 200
    from django.test.utils import setup_test_environment

    setup_test_environment()  # only now, so the timings above carry no test instrumentation
    with CaptureQueriesContext(connection) as queries:
        r = client.get("/people/", query)
    found = r.context["page"].paginator.count
    print(
        f"People list, 2 filters ({found:,} found), page 3 (25 a page): "
        f"median {statistics.median(times):.0f} ms, {len(queries)} queries"
    )
    times = []
    for _ in range(15):
        started = time.perf_counter()
        client.get("/people/", {"page": "2"})
        times.append((time.perf_counter() - started) * 1000)
    print(f"People list, no filter, page 2: median {statistics.median(times):.0f} ms")


def import_figures(props: list) -> None:
    chosen = [p for p in props if p.type in ("number", "text", "date", "boolean", "single_select")][:10]
    header = ["email", "first_name", *[p.key for p in chosen]]
    for rows, runs in ((10_000, 5), (40_000, 1)):
        rates = [run_import(chosen, header, rows, f"a{rows}-{n}", trace=False)[0] for n in range(runs)]
        _, peak = run_import(chosen, header, rows, f"b{rows}", trace=True)
        each = ", ".join(f"{r:,.0f}" for r in rates)
        print(
            f"CSV import, {rows:,} rows × {len(chosen)} properties (half new people, half existing ones, "
            f"fresh random values): {statistics.median(rates):,.0f} rows/s (median of {runs}: {each}); "
            f"peak Python memory {peak / 2**20:.1f} MiB (another run, under tracemalloc)"
        )
    run_import(chosen, header, 10_000, "again", trace=False)
    rate, _ = run_import(chosen, header, 10_000, "again", trace=False)
    print(f"CSV import, a 10,000-row file imported a second time (nothing changes): {rate:,.0f} rows/s")


def machine_speed() -> str:
    """A yardstick for comparing figures across machines: pure-Python work, best of 5."""
    import timeit

    best = min(timeit.repeat("sum(i * i for i in range(100000))", number=20, repeat=5)) / 20
    return f"{best * 1000:.1f} ms for sum(i * i for i in range(100000))"


def importer() -> Any:
    from muster.accounts.models import User

    found = User.objects.filter(email="importer@example.org").first()
    return found or User.objects.create_user("importer@example.org", "x" * 12, role="researcher")


def run_import(chosen: list, header: list[str], rows: int, tag: str, trace: bool) -> tuple[float, int]:
    from muster.people import csvio
    from muster.people.models import ImportStatus, PersonImport

    rnd = random.Random(tag)  # noqa: S311  the same tag, the same file
    lines = [",".join(header)]
    for i in range(rows):
        cells = [f"import-{tag}-{i}@example.org" if i % 2 else f"person{i + 1}@example.org", f"N{i}"]
        for p in chosen:
            cells.append(
                {
                    "number": str(rnd.randint(0, 99)),
                    "text": f"text {rnd.randint(0, 9999)}",
                    "date": f"2020-02-{rnd.randint(10, 28)}",
                    "boolean": rnd.choice(["yes", "no"]),
                    "single_select": f"option {rnd.randint(0, 7)}",
                }[p.type]
            )
        lines.append(",".join(cells))
    data = ("\n".join(lines) + "\n").encode()
    del lines
    # As from the page: the import's history names the user who started it.
    imp = PersonImport(filename="bench.csv", size=len(data), created_by=importer())
    path = csvio.import_dir() / f"{imp.code}.csv"
    path.write_bytes(data)
    del data
    imp.path = str(path)
    imp.columns = header
    imp.mapping = {"email": "email", "first_name": "first_name", **{p.key: str(p.code) for p in chosen}}
    imp.status = ImportStatus.QUEUED
    imp.save()
    if trace:
        tracemalloc.start()
    started = time.perf_counter()
    csvio.import_people.call(str(imp.code))
    elapsed = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1] if trace else 0
    tracemalloc.stop()
    imp.refresh_from_db()
    assert imp.status == ImportStatus.DONE and imp.rows_rejected == 0, (imp.status, imp.rows_rejected)
    return rows / elapsed, peak


if __name__ == "__main__":
    main()
