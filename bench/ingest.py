"""Ingestion figures (issue 16). Not a test: prints its figures.

    .venv/bin/python bench/ingest.py [--responses 10000] [--batch 500]
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/muster_bench .venv/bin/python bench/ingest.py

N participants of one study answer a 30-question survey (single choice, multiple choice, text),
10 questions mapped to properties; their responses go through `surveys.ingest.ingest` in batches,
as a backfill does once the export is parsed: responses/s, queries per batch, then the same
responses again (a replay: nothing changes) and once edited (every mapped value re-applied).
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--responses", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=500)
    args = parser.parse_args()
    from bench.people import bench_database, machine_speed

    with bench_database() as connection:
        print(f"database: {connection.vendor}; this machine: {machine_speed()}")
        figures(args.responses, args.batch)


def figures(count: int, batch: int) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from muster.people.models import Person, PersonEmail, PropertyValueChange
    from muster.studies.models import Study, StudyParticipant
    from muster.surveys import tools
    from muster.surveys.answers import Answer, ResponseData
    from muster.surveys.attach import Owner, attach
    from muster.surveys.ingest import ingest
    from muster.surveys.mappings import Wanted, save_mappings
    from muster.surveys.models import OwnerKind, Response
    from muster.surveys.questions import Kind
    from muster.surveys.tests.fake import FakeTool, choice_question, text_question

    tool = FakeTool()
    tools.register(tool)
    kinds = [Kind.SINGLE_CHOICE, Kind.MULTIPLE_CHOICE]
    questions = []
    for i in range(1, 31):
        qid = f"QID{i}"
        if i % 3 == 0:
            questions.append(text_question(qid))
        else:
            questions.append(choice_question(qid, ["One", "Two", "Three", "Four"], kind=kinds[i % 2]))
    tool.questions["SV_bench"] = questions
    study = Study.objects.create(name="Bench", landing_slug="bench", status="active")
    form = attach(Owner(OwnerKind.SURVEY, study=study), "fake", "SV_bench", None)
    wanted = [Wanted(f"QID{i}", create={"label": f"Q{i}", "key": f"q{i}"}) for i in range(1, 11)]
    assert not save_mappings(form, wanted, None, may_create=True).refused

    people = Person.objects.bulk_create([Person(source="bench") for _ in range(count)])
    PersonEmail.objects.bulk_create(
        [PersonEmail(person=p, email=f"p{i}@bench.example", is_primary=True) for i, p in enumerate(people)]
    )
    participants = StudyParticipant.objects.bulk_create([StudyParticipant(study=study, person=p) for p in people])
    start = datetime(2026, 1, 1, tzinfo=UTC)

    def answers_of(n: int, edit: int) -> list[Answer]:
        out = []
        for q in questions:
            if q.kind == Kind.TEXT:
                out.append(Answer(q.qid, None, f"answer {n} {edit}"))
            elif q.kind == Kind.SINGLE_CHOICE:
                out.append(Answer(q.qid, None, (str(1 + (n + edit) % 4),)))
            else:
                out.append(Answer(q.qid, None, tuple(str(c) for c in range(1, 2 + (n + edit) % 3))))
        return out

    def reader(n: int, edit: int) -> Any:
        data = ResponseData(
            f"R_{n}",
            participants[n].participant_id,
            True,
            100,
            start + timedelta(seconds=n),
            start + timedelta(days=edit, seconds=n) if edit else None,
            "anonymous",
            False,
            answers_of(n, edit),
            {},
            {"values": {"n": n, "edit": edit}},
            started_at=start + timedelta(seconds=n - 60),
        )
        return lambda questions, field: data

    for label, edit in (("first backfill", 0), ("replay, nothing changed", 0), ("every response edited", 1)):
        histories = PropertyValueChange.objects.count()
        queries = 0
        spent = 0.0
        for at in range(0, count, batch):
            reads = [reader(n, edit) for n in range(at, min(at + batch, count))]
            if at == batch:  # one batch counted: the query log costs time of its own
                with CaptureQueriesContext(connection) as captured:
                    ingest("fake", "brand1", "SV_bench", reads)
                queries = len(captured)
                continue
            began = time.perf_counter()
            ingest("fake", "brand1", "SV_bench", reads)
            spent += time.perf_counter() - began
        timed = count - batch if count > batch else count
        seconds = spent
        made = PropertyValueChange.objects.count() - histories
        print(
            f"{label}: {timed:,} responses in {seconds:.1f} s = {timed / seconds:,.0f} responses/s; "
            f"{made:,} values changed; {queries:,} queries in a batch of {batch}"
        )
    assert Response.objects.count() == count


if __name__ == "__main__":
    main()
