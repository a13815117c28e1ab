"""A form's backfill from the Qualtrics export file to properties written (issue 16). Not a test.

    .venv/bin/python bench/backfill.py [--responses 10000]
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/muster_bench .venv/bin/python bench/backfill.py

The sandbox (its own process, so this one's peak memory is Muster's) holds N simulated responses to
a 30-question survey, each carrying the Participant ID of one of N study participants; 10 questions
are mapped. It prints: the export's download; a parse-only pass over the downloaded file with the
reader ingestion uses; the whole reconciliation run (export, download, parse, ingest, properties
written) in responses/s; the ratio of the two; and this process's peak resident memory.
"""

from __future__ import annotations

import argparse
import gc
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--responses", type=int, default=10_000)
    args = parser.parse_args()
    from bench.people import bench_database, machine_speed

    with tempfile.TemporaryDirectory(prefix="muster-sandbox-") as data, bench_database() as connection:
        port = free_port()
        sandbox = subprocess.Popen(
            [sys.executable, "-m", "qualtrics_sandbox", "--port", str(port), "--data", data],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            url = f"http://127.0.0.1:{port}"
            wait_for(url)
            print(f"database: {connection.vendor}; this machine: {machine_speed()}")
            figures(url, args.responses)
        finally:
            sandbox.terminate()
            sandbox.wait(10)


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(url: str) -> None:
    for _ in range(100):
        try:
            httpx.get(f"{url}/_sandbox/", timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise SystemExit("the sandbox did not start")


def figures(url: str, count: int) -> None:
    import logging

    logging.getLogger("httpx").setLevel(logging.WARNING)
    from django.test import override_settings

    from bench.sandbox_volume import thirty_questions
    from muster.crypto import Secret
    from muster.integrations.qualtrics import connect, exports, reconcile
    from muster.integrations.qualtrics.answers import read_response
    from muster.people.models import Person, PersonEmail, PropertyValueChange
    from muster.studies.models import Study, StudyParticipant
    from muster.surveys.attach import Owner, attach
    from muster.surveys.mappings import Wanted, save_mappings
    from muster.surveys.models import OwnerKind, Response

    control = httpx.Client(base_url=url, timeout=600)
    brand = control.post("/_sandbox/brands", json={"brandId": "bench"}).json()
    survey = control.post("/_sandbox/surveys", json={"ownerId": brand["adminUserId"], "definition": thirty_questions()})
    survey_id = survey.json()["surveyId"]
    began = time.perf_counter()
    body = {"count": count, "embeddedData": {"rallyParticipantId": "P{n}"}, "seed": 1}
    control.post(f"/_sandbox/surveys/{survey_id}/respond", json=body).raise_for_status()
    print(f"sandbox: {count:,} responses simulated in {time.perf_counter() - began:.1f} s")

    with override_settings(MUSTER_QUALTRICS_ALLOWED_HOSTS=[url.removeprefix("http://")]):
        connection = connect.connect(
            base_url=url,
            brand_admin_token=Secret(brand["adminToken"]),
            user_type=brand["userTypes"]["standard"],
            by=None,
        ).connection
        control.post(f"/_sandbox/surveys/{survey_id}/share", json={"userId": connection.service_user_id})
        study = Study.objects.create(name="Backfill", landing_slug="backfill", status="active")
        form = attach(Owner(OwnerKind.SURVEY, study=study), "qualtrics", survey_id, None)
        supported = [q for q in form.questions.filter(support="supported")][:10]
        wanted = [
            Wanted(
                q.qid,
                None if q.whole else q.parts[0]["part"],
                create={"label": f"Bench {q.qid}", "key": f"b_{q.qid.lower()}"},
            )
            for q in supported
        ]
        refused = save_mappings(form, wanted, None, may_create=True).refused
        assert not refused, refused
        people = Person.objects.bulk_create([Person(source="bench") for _ in range(count)], batch_size=2000)
        PersonEmail.objects.bulk_create(
            [PersonEmail(person=p, email=f"p{i}@bench.example", is_primary=True) for i, p in enumerate(people)],
            batch_size=2000,
        )
        StudyParticipant.objects.bulk_create(
            [StudyParticipant(study=study, person=p, participant_id=f"P{i + 1}") for i, p in enumerate(people)],
            batch_size=2000,
        )
        form.refresh_from_db()
        questions = form.version.question_defs()  # type: ignore[union-attr]

        with connect.connection_account(connection) as account, exports.temp_dir() as folder:
            began = time.perf_counter()
            downloaded = exports.run_export(account, survey_id, {"format": "json"}, folder)
            download = time.perf_counter() - began
            began = time.perf_counter()
            parsed = 0
            for element in exports.elements(downloaded.path):
                read_response(
                    questions,
                    element.get("values") or {},
                    element.get("labels") or {},
                    form.participant_field,
                    str(element.get("responseId") or ""),
                    raw=element,
                )
                parsed += 1
            parse = time.perf_counter() - began
        print(f"export requested and downloaded: {download:.1f} s")
        print(f"parse only (stream + read each response): {parsed:,} in {parse:.1f} s = {parsed / parse:,.0f}/s")

        # The setup's own objects go, and the kernel's high-water mark restarts (clear_refs 5), so
        # the peak printed is the reconciliation's.
        del people
        gc.collect()
        Path("/proc/self/clear_refs").write_text("5")
        began = time.perf_counter()
        result = reconcile.reconcile(form)
        whole = time.perf_counter() - began
        stored = Response.objects.count()
        values = PropertyValueChange.objects.count()
        ingest = max(whole - download, 0.001)
        print(
            f"reconciliation (export, download, parse, ingest): {stored:,} responses, {values:,} values, "
            f"in {whole:.1f} s; without the export's own {download:.1f} s: {stored / ingest:,.0f} responses/s, "
            f"{ingest / parse:.1f}x the parse-only pass ({result.outcome})"
        )
        peak = next(line for line in Path("/proc/self/status").read_text().splitlines() if line.startswith("VmHWM"))
        print(f"peak resident memory of this process during the reconciliation: {int(peak.split()[1]) / 1024:,.0f} MB")


if __name__ == "__main__":
    main()
