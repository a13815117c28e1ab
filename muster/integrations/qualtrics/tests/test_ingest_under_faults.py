"""Responses recorded while Qualtrics misbehaves all arrive, once each, with their latest answers.

Real processes over HTTP: the sandbox (`python -m qualtrics_sandbox`), gunicorn, one `db_worker`
and the scheduler, on a database of their own (SQLite, or PostgreSQL when the suite runs on it).
With about 30 % of the calls failing (5xx, 429, dropped connections, 202 not yet available, failed
exports, refused continuation tokens) and webhooks dropped, duplicated and reordered, every
participant responds and some answers are then edited in Qualtrics. Once the faults stop and one
reconciliation has run, what Muster holds equals a recomputation from the sandbox's own export.
A webhook replayed 50 times still yields one response.
"""

from __future__ import annotations

import json
import random
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from muster.people.tests.test_import_killed_worker import connect, worker
from muster.running import ROOT, RunningMuster, scratch_database

pytestmark = pytest.mark.slow
PEOPLE = 60
EDITED = 10
REGIONS = ["North", "South", "East", "West"]  # QID3 of the screener, choices 1-4
WEBHOOK = "/integrations/qualtrics/webhook/"
FAULTS: dict[str, Any] = {
    "seed": 16,
    "endpoints": [
        {"path": "/API/v3/*", "error500": 0.1, "error503": 0.05, "rateLimit": 0.1, "dropConnection": 0.05},
    ],
    "webhooks": {"drop": 0.3, "duplicate": 0.3, "reorder": True},
    "exports": {"fail": 0.3},
    "continuationTokens": {"refuse": 0.3},
    "responses": {"notYetAvailableSeconds": 1},
}


def set_up(sandbox_url: str, brand: dict[str, Any], people: int) -> None:
    """Run in the processes' database (`manage.py shell`): connects to the sandbox, attaches the
    screener to an active study with two mapped questions and adds the participants. Prints JSON."""
    from muster.accounts.models import User
    from muster.crypto import Secret
    from muster.integrations.qualtrics import connect as connecting
    from muster.people.values import create_person
    from muster.studies.details import create_study
    from muster.studies.models import StudyParticipant
    from muster.surveys.attach import Owner, attach
    from muster.surveys.mappings import Wanted, save_mappings
    from muster.surveys.models import OwnerKind
    from qualtrics_sandbox import seed

    connection = connecting.connect(
        base_url=sandbox_url,
        brand_admin_token=Secret(brand["adminToken"]),
        user_type=brand["userTypes"]["standard"],
        by=None,
    ).connection
    definition = seed.screener("SV_placeholder", None)
    body = {"ownerId": brand["adminUserId"], "active": True, "definition": definition}
    survey = httpx.post(f"{sandbox_url}/_sandbox/surveys", json=body, timeout=10).json()["surveyId"]
    share = {"userId": connection.service_user_id}
    httpx.post(f"{sandbox_url}/_sandbox/surveys/{survey}/share", json=share, timeout=10).raise_for_status()
    olga = User.objects.create_user("olga@example.org", password=None, role="ops_manager")
    study = create_study(olga, name="Grocery habits", landing_slug="grocery")
    study.status = "active"
    study.save()
    form = attach(Owner(OwnerKind.SCREENER, study=study), "qualtrics", survey, olga)
    wanted = [
        Wanted("QID4", create={"key": "job", "label": "Job"}),
        Wanted("QID3", create={"key": "region", "label": "Region"}),
    ]
    saved = save_mappings(form, wanted, olga, may_create=True)
    assert not saved.refused, saved.refused
    pids = [
        StudyParticipant.objects.create(
            study=study, person=create_person(f"p{n}@example.org", source="manual")
        ).participant_id
        for n in range(people)
    ]
    print(json.dumps({"survey": survey, "form": form.pk, "pids": pids}))


def report(form_id: int) -> None:
    """Run in the processes' database: what Muster holds for the form's participants, as JSON."""
    from muster.people.models import Property
    from muster.people.values import values_of
    from muster.studies.models import StudyParticipant
    from muster.surveys.models import Response, SurveyForm

    form = SurveyForm.objects.get(pk=form_id)
    props = list(Property.objects.filter(key__in=["job", "region"]))
    participants = list(StudyParticipant.objects.filter(study=form.study).select_related("person"))
    values = values_of([p.person for p in participants], props)
    people = {
        p.participant_id: {"status": p.status, **{q.key: values.get((p.person_id, q.id)) for q in props}}
        for p in participants
    }
    responses = list(Response.objects.filter(form=form).values_list("response_id", flat=True))
    print(json.dumps({"people": people, "responses": responses}))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Sandbox:
    def __init__(self, url: str) -> None:
        self.url = url

    def control(self, method: str, path: str, body: Any = None) -> Any:
        r = httpx.request(method, f"{self.url}/_sandbox{path}", json=body, timeout=30)
        assert r.status_code < 400, r.text
        return r.json() if r.content else None

    def export(self, survey: str, token: str) -> list[dict[str, Any]]:
        """Every response of the survey as the v3 export gives it (faults must be off)."""
        with httpx.Client(base_url=f"{self.url}/API/v3", headers={"X-API-TOKEN": token}, timeout=30) as v3:
            started = v3.post(f"surveys/{survey}/export-responses", json={"format": "json", "compress": False})
            progress = started.json()["result"]["progressId"]
            while (status := v3.get(f"surveys/{survey}/export-responses/{progress}").json()["result"])[
                "status"
            ] == "inProgress":
                time.sleep(0.2)
            assert status["status"] == "complete", status
            file = v3.get(f"surveys/{survey}/export-responses/{status['fileId']}/file")
            return list(file.json()["responses"])


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[Sandbox]:
    port = free_port()
    command = [sys.executable, "-m", "qualtrics_sandbox", "--port", str(port), "--export-seconds", "0.2"]
    command += ["--webhook-retry-seconds", "0.3", "--webhook-max-attempts", "8"]
    log = (tmp_path / "sandbox.log").open("wb")
    process = subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)  # noqa: S603
    running = Sandbox(f"http://127.0.0.1:{port}")
    try:
        wait_for("the sandbox", lambda: _answers(f"{running.url}/_sandbox/"), tmp_path / "sandbox.log", 30)
        yield running
    finally:
        process.terminate()
        process.wait(20)
        log.close()


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.TransportError:
        return False


def wait_for(what: str, ready: Callable[[], bool], log: Path, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not ready():
        assert time.monotonic() < deadline, f"{what} did not happen in {seconds:.0f} s\n{log.read_text()[-6000:]}"
        time.sleep(0.5)


@pytest.fixture
def database_url() -> Iterator[str | None]:
    with scratch_database("muster_faults") as url:
        yield url


def test_responses_recorded_under_faults_all_arrive_once_with_their_latest_answers(
    tmp_path: Path, sandbox: Sandbox, database_url: str | None
) -> None:
    env = {"MUSTER_QUALTRICS_ALLOWED_HOSTS": f"*.qualtrics.com,{sandbox.url.removeprefix('http://')}"}
    muster = RunningMuster(tmp_path / "data", {**env, **({"DATABASE_URL": database_url} if database_url else {})})
    muster.manage("migrate", "--noinput", "-v0")
    query = connect(tmp_path / "data", database_url)
    brand = sandbox.control("POST", "/brands", {"brandId": "faultybrand"})
    log = tmp_path / "processes.log"
    processes: list[subprocess.Popen[bytes]] = []

    with muster.serve(workers=2) as url:
        muster.env["MUSTER_PUBLIC_URL"] = url  # where the subscription connect makes will post
        this = "muster.integrations.qualtrics.tests.test_ingest_under_faults"
        made = json.loads(
            muster.shell(f"from {this} import set_up; set_up({sandbox.url!r}, {brand!r}, {PEOPLE})").splitlines()[-1]
        )
        survey, form, pids = made["survey"], made["form"], made["pids"]

        def held() -> dict[str, Any]:
            return dict(json.loads(muster.shell(f"from {this} import report; report({form})").splitlines()[-1]))

        try:
            processes.append(worker(muster, log))
            scheduler = [sys.executable, "manage.py", "scheduler", "--idle-seconds", "0.5"]
            with log.open("ab") as out:
                processes.append(subprocess.Popen(scheduler, cwd=ROOT, env=muster.env, stdout=out, stderr=out))  # noqa: S603
            sandbox.control("PUT", "/faults", FAULTS)
            rng = random.Random(16)  # noqa: S311
            rids = []
            for n, pid in enumerate(pids):
                # QID1, QID9 and QID12 are forced answers in the screener.
                values: dict[str, Any] = {"QID1": rng.choice([1, 2, 3, 4]), "QID9": 8, "QID12_1": 14}
                values |= {"QID3": rng.randint(1, 4), "QID4_TEXT": f"Job {n}"}
                body = {"values": values, "embeddedData": {"rallyParticipantId": pid}, "finished": True}
                rids += sandbox.control("POST", f"/surveys/{survey}/respond", body)["responseIds"]
                time.sleep(0.05)
            time.sleep(2)  # some arrive first, the edits then come after
            for rid in rng.sample(rids, EDITED):
                edit = {"QID4_TEXT": f"Edited {rid}", "QID3": rng.randint(1, 4)}
                sandbox.control("PATCH", f"/responses/{rid}", {"values": edit})
            sandbox.control("POST", "/webhooks/flush")
            time.sleep(3)  # the worker's fetches meet the faults too
            sandbox.control("DELETE", "/faults")
            deliveries = sandbox.control("GET", "/webhooks")["deliveries"]
            assert any(d["status"] == "dropped" for d in deliveries), "the faults did not drop a webhook"

            # One reconciliation, now that Qualtrics behaves: make the form due, then wait for a run
            # that started after this moment to finish (a run started before may predate the edits).
            marker = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f") + ("+00:00" if database_url else "")
            query(f"UPDATE surveys_surveyform SET next_sync_at = '{marker}' WHERE id = {form}")  # noqa: S608
            after = (
                "SELECT COUNT(*) FROM django_tasks_database_dbtaskresult t, surveys_surveyform f "  # noqa: S608
                f"WHERE t.task_path LIKE '%reconcile_form' AND t.started_at > '{marker}' "
                f"AND f.id = {form} AND f.last_synced_at > t.started_at"
            )
            running = "SELECT COUNT(*) FROM django_tasks_database_dbtaskresult WHERE status = 'RUNNING'"

            def reconciled() -> bool:
                for process in processes:
                    assert process.poll() is None, log.read_text()[-6000:]
                return bool(query(after)[0][0]) and not query(running)[0][0]

            wait_for("one reconciliation after the faults", reconciled, log, 150)

            exported = sandbox.export(survey, brand["adminToken"])
            expected = {
                r["values"]["rallyParticipantId"]: {
                    "status": "screener_completed",
                    "job": r["values"]["QID4_TEXT"],
                    "region": REGIONS[int(r["values"]["QID3"]) - 1],
                }
                for r in exported
            }
            assert len(exported) == PEOPLE and set(expected) == set(pids)
            have = held()
            assert sorted(have["responses"]) == sorted(r["responseId"] for r in exported)  # none lost or doubled
            assert have["people"] == expected
            assert sum(v["job"].startswith("Edited ") for v in have["people"].values()) == EDITED

            # A webhook replayed 50 times (the same signed body) still stores one response.
            late = sandbox.control(
                "POST",
                f"/surveys/{survey}/respond",
                {"values": {"QID1": 1, "QID9": 3, "QID12_1": 14, "QID4_TEXT": "Late"}, "finished": True},
            )["responseIds"][0]
            sandbox.control("POST", "/webhooks/flush")
            [delivery] = [
                d
                for d in sandbox.control("GET", "/webhooks")["deliveries"]
                if late in d["msg"] and "completedResponse" in d["topic"]
            ]
            fields = {"Topic": delivery["topic"], "MSG": delivery["msg"], "HMAC": delivery["hmac"]}
            with ThreadPoolExecutor(8) as pool:
                codes = list(
                    pool.map(lambda _: httpx.post(f"{url}{WEBHOOK}", data=fields, timeout=30).status_code, range(50))
                )
            assert all(code < 300 for code in codes), codes
            sql = f"SELECT COUNT(*) FROM surveys_response WHERE response_id = '{late}'"  # noqa: S608
            wait_for("the replayed response", lambda: query(sql)[0][0] >= 1, log, 60)
            time.sleep(2)
            assert query(sql)[0][0] == 1
            assert query(f"SELECT COUNT(*) FROM surveys_response WHERE form_id = {form}")[0][0] == PEOPLE + 1  # noqa: S608
        finally:
            for process in processes:
                process.terminate()
            for process in processes:
                try:
                    process.wait(30)
                except subprocess.TimeoutExpired:
                    process.kill()
