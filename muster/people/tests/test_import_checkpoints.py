"""A CSV import into the embedded SQLite file checkpoints as it goes, in a second thread."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from muster.studies.tests.test_limit_race import ROOT, environment, run

pytestmark = pytest.mark.slow

IMPORT = """
import sys
from muster.people import csvio
from muster.people.models import ImportStatus, PersonImport
from muster.people.properties import create_property
age = create_property("age", "Age", "number")
path = csvio.import_dir() / "people.csv"
path.write_text("email,age\\n" + "".join(f"p{i}@example.org,{i % 90}\\n" for i in range(3000)))
imp = PersonImport.objects.create(
    filename="people.csv", path=str(path), size=path.stat().st_size, columns=["email", "age"],
    mapping={"email": "email", "age": str(age.code)}, status=ImportStatus.QUEUED,
)
csvio.import_people.call(str(imp.code))
print("IMPORTED", PersonImport.objects.get(id=imp.id).status, flush=True)
sys.stdin.readline()  # keeps the connection open: closing the last one would checkpoint too
"""


def test_the_imported_rows_reach_the_database_file_before_the_import_ends(tmp_path: Path) -> None:
    run(tmp_path, None, "migrate", "--verbosity", "0")
    env = environment(tmp_path, None)
    importer = subprocess.Popen(
        [sys.executable, "manage.py", "shell", "--verbosity", "0", "-c", IMPORT],
        cwd=ROOT,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert importer.stdout is not None and importer.stdin is not None
        lines: list[str] = []
        while not lines or not (lines[-1].startswith("IMPORTED") or lines[-1] == ""):
            lines.append(importer.stdout.readline())
        assert lines[-1].strip() == "IMPORTED done", "".join(lines)
        # The WAL is still there, and immutable=1 reads the database file alone, without it.
        assert (tmp_path / "muster.sqlite3-wal").exists()
        file_only = sqlite3.connect(f"file:{tmp_path / 'muster.sqlite3'}?immutable=1", uri=True)
        with file_only:
            people = file_only.execute("SELECT count(*) FROM people_person").fetchone()[0]
            values = file_only.execute("SELECT count(*) FROM people_propertyvalue").fetchone()[0]
        file_only.close()
        assert (people, values) == (3000, 3000)
    finally:
        if importer.stdin:
            importer.stdin.write("\n")
            importer.stdin.close()
        importer.wait(timeout=60)
