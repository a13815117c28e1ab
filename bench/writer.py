"""Value writer and CSV import figures (issue 11). Not a test: prints its figures.

    .venv/bin/python bench/writer.py [--part csv|set_values|writer|all] [--people 20000] [--without collector_pause]
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/muster_bench .venv/bin/python bench/writer.py

csv: seeds N people × 30 properties (as bench/people.py does), then imports a 10,000-row file of
10 properties (half new people, half existing ones) three times and once more unchanged.
set_values: 300 people × 10 values written one person at a time, as a manual edit or the API does.
writer: 10,000 people × 10 values through the writer directly (batches of 1,000 people, new values
then changed ones) and through POST /api/v1/people/bulk (batches of 1,000 items, half of them new
people); people/s and the queries of one batch.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any
from uuid import uuid4

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--part", choices=["csv", "writer", "set_values", "all"], default="all")
    parser.add_argument("--people", type=int, default=20_000)
    parser.add_argument(
        "--without",
        action="append",
        default=[],
        choices=sorted(WITHOUT),
        help="measure without one micro-optimisation (repeatable)",
    )
    args = parser.parse_args()
    from bench.people import bench_database, machine_speed

    with bench_database() as connection:
        print(f"database: {connection.vendor}; this machine: {machine_speed()}; without: {args.without or 'nothing'}")
        for name in args.without:
            WITHOUT[name]()
        if args.part in ("csv", "all"):
            csv_figures(args.people)
        if args.part in ("set_values", "all"):
            set_values_figures()
        if args.part in ("writer", "all"):
            writer_figures()


def no_collector_pause() -> None:
    """The cycle collector runs as usual while an import or a bulk call writes."""
    from contextlib import contextmanager

    from muster.people import bulk, csvio

    @contextmanager
    def running() -> Any:
        yield lambda: None

    csvio.collections_per_batch = running  # type: ignore[assignment]
    bulk.collections_per_batch = running  # type: ignore[attr-defined]


def tell_per_row() -> None:
    """The import asks the file for the bytes read after every row, not once a batch."""
    from contextlib import contextmanager

    from muster.people import csvio

    real = csvio.rows_of

    @contextmanager
    def rows_of(path: Any) -> Any:
        with real(path) as (rows, read):
            yield ((read(), row)[1] for row in rows), read

    csvio.rows_of = rows_of  # type: ignore[assignment]


# Measured and dropped (commit "bench toggles for each micro-optimisation" had them): Handling
# objects worked out once a batch rather than per value, booleans bound as ints on SQLite.
WITHOUT = {"collector_pause": no_collector_pause, "tell_per_batch": tell_per_row}


def importer() -> Any:
    from bench.people import importer as made

    return made()


def csv_figures(people: int) -> None:
    from bench.people import run_import, seed

    props = seed(people)
    chosen = [p for p in props if p.type in ("number", "text", "date", "boolean", "single_select")][:10]
    header = ["email", "first_name", *[p.key for p in chosen]]
    rates = [run_import(chosen, header, 10_000, f"w{n}", trace=False)[0] for n in range(3)]
    each = ", ".join(f"{r:,.0f}" for r in rates)
    print(
        f"CSV import, 10,000 rows × {len(chosen)} properties (half new people, half existing ones): "
        f"{statistics.median(rates):,.0f} rows/s (median of 3: {each})"
    )
    run_import(chosen, header, 10_000, "again", trace=False)
    rate, _ = run_import(chosen, header, 10_000, "again", trace=False)
    print(f"CSV import, the same 10,000-row file a second time (nothing changes): {rate:,.0f} rows/s")


def ten_properties() -> list:
    from muster.people.properties import create_property

    kinds = ["number", "number", "text", "text", "date", "date", "boolean", "boolean", "single_select"]
    kinds.append("multi_select")
    found = []
    for i, kind in enumerate(kinds):
        labels = [f"option {j}" for j in range(8)] if "select" in kind else None
        found.append(create_property(f"w{i}-{uuid4().hex[:6]}", f"W{i}", kind, options=labels))
    return found


def raw_value(prop: Any, rnd: random.Random) -> Any:
    """A JSON value of the property's type, as an API client sends it."""
    return {
        "number": lambda: rnd.randint(0, 99),
        "text": lambda: f"text {rnd.randint(0, 9999)}",
        "date": lambda: f"2020-02-{rnd.randint(10, 28)}",
        "boolean": lambda: rnd.random() < 0.5,
        "single_select": lambda: f"option {rnd.randint(0, 7)}",
        "multi_select": lambda: [f"option {j}" for j in rnd.sample(range(8), 2)],
    }[prop.type]()


def set_values_figures() -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from muster.people import values as pv
    from muster.people.models import Person, Source

    props = ten_properties()
    rnd = random.Random(3)  # noqa: S311
    people = Person.objects.bulk_create(Person() for _ in range(300))
    options = {p.id: pv.OptionIndex(p.options.all()) for p in props}
    given = [{p: pv.parse(p, raw_value(p, rnd), options[p.id]) for p in props} for _ in people]
    started = time.perf_counter()
    for person, values in zip(people, given, strict=True):
        pv.set_values(person, values, source=Source.API, source_code="api")
    rate = len(people) / (time.perf_counter() - started)
    person = Person.objects.create()
    with CaptureQueriesContext(connection) as queries:
        pv.set_values(person, given[0], source=Source.API, source_code="api")
    print(f"set_values, 300 people × 10 values one person at a time: {rate:,.0f} people/s, {len(queries)} queries each")


def writer_figures() -> None:
    from django.db import connection, transaction
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.utils.timezone import now

    from muster.accounts.models import ApiToken
    from muster.people import values as pv
    from muster.people import writes
    from muster.people.models import Person, Revision, Source

    props = ten_properties()
    rnd = random.Random(4)  # noqa: S311
    ids = [p.id for p in Person.objects.bulk_create(Person() for _ in range(10_000))]
    options = {p.id: pv.OptionIndex(p.options.all()) for p in props}
    for label in ("new values", "every value changed"):
        batches = [
            [
                writes.Change(i, p, pv.parse(p, raw_value(p, rnd), options[p.id]))
                for i in ids[start : start + 1000]
                for p in props
            ]
            for start in range(0, len(ids), 1000)
        ]
        started = time.perf_counter()
        for batch in batches[:-1]:
            with transaction.atomic():
                writes.write(batch, Revision(source=Source.RESPONSE, at=now()))
        rate = 9000 / (time.perf_counter() - started)
        with CaptureQueriesContext(connection) as queries, transaction.atomic():
            writes.write(batches[-1], Revision(source=Source.RESPONSE, at=now()))
        print(
            f"writer directly, 10,000 people × 10 values ({label}), batches of 1,000 people: "
            f"{rate:,.0f} people/s, {len(queries)} queries a batch"
        )
    user = importer()
    _, token = ApiToken.issue(user, "bench")
    client = Client(HTTP_HOST="127.0.0.1", headers={"Authorization": f"Bearer {token}"})
    known = [f"known{i}@example.org" for i in range(5000)]  # not the csv part's person{i}: --part all
    from muster.people.models import PersonEmail

    PersonEmail.objects.bulk_create(
        PersonEmail(person_id=i, email=e, is_primary=True) for i, e in zip(ids, known, strict=False)
    )
    emails = [e for pair in zip(known, [f"newbulk{i}@example.org" for i in range(5000)], strict=True) for e in pair]
    bodies = [
        json.dumps(
            {
                "items": [
                    {"email": e, "first_name": "N", "properties": {p.key: raw_value(p, rnd) for p in props}}
                    for e in emails[start : start + 1000]
                ]
            }
        )
        for start in range(0, len(emails), 1000)
    ]
    started = time.perf_counter()
    for body in bodies[:-1]:
        r = client.post("/api/v1/people/bulk", body, content_type="application/json")
        assert r.status_code == 200 and all(x["status"] != "refused" for x in r.json()["results"]), r.content[:300]
    rate = 9000 / (time.perf_counter() - started)
    with CaptureQueriesContext(connection) as queries:
        r = client.post("/api/v1/people/bulk", bodies[-1], content_type="application/json")
    assert r.status_code == 200
    print(
        f"POST /api/v1/people/bulk, 10,000 people × 10 values (half new people), batches of 1,000: "
        f"{rate:,.0f} people/s, {len(queries)} queries a batch"
    )


if __name__ == "__main__":
    main()
