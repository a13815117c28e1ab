"""Value writer and CSV import figures (issue 11). Not a test: prints its figures.

    .venv/bin/python bench/writer.py [--part csv|writer|all] [--people 20000]
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/muster_bench .venv/bin/python bench/writer.py

csv: seeds N people × 30 properties (as bench/people.py does), then imports a 10,000-row file of
10 properties (half new people, half existing ones) three times and once more unchanged.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--part", choices=["csv", "writer", "all"], default="all")
    parser.add_argument("--people", type=int, default=20_000)
    args = parser.parse_args()
    scratch = None
    if "MUSTER_DATA_DIR" not in os.environ:
        scratch = tempfile.mkdtemp(prefix="muster-bench-")
        os.environ["MUSTER_DATA_DIR"] = scratch
    os.environ["DJANGO_SETTINGS_MODULE"] = "muster.test_settings"
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from bench.people import machine_speed

    if connection.vendor == "postgresql":
        # The bench empties the database it is given: refuse anything not named as a bench database.
        if "bench" not in connection.settings_dict["NAME"]:
            raise SystemExit("DATABASE_URL must name a throwaway database with 'bench' in its name.")
        with connection.cursor() as c:
            c.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
    call_command("migrate", verbosity=0)
    call_command("createcachetable", verbosity=0)
    print(f"database: {connection.vendor}; this machine: {machine_speed()}")
    try:
        if args.part in ("csv", "all"):
            csv_figures(args.people)
        if args.part in ("writer", "all"):
            from bench.writes import writer_figures

            writer_figures()
    finally:
        if scratch:
            connection.close()
            shutil.rmtree(scratch, ignore_errors=True)


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


if __name__ == "__main__":
    main()
