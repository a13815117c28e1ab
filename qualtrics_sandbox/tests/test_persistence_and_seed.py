from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx

from qualtrics_sandbox.seed import DEMO_BRAND, seed_demo
from qualtrics_sandbox.store import Store
from qualtrics_sandbox.testing import SandboxServer

from .test_surveys import small_survey


def test_state_survives_a_restart_with_a_data_dir(tmp_path: Path) -> None:
    with SandboxServer(data_dir=tmp_path) as first:
        brand = httpx.post(f"{first.url}/_sandbox/brands", json={"brandId": "keepme"}).json()
        survey_id = httpx.post(
            f"{first.url}/_sandbox/surveys", json={"ownerId": brand["adminUserId"], "definition": small_survey()}
        ).json()["surveyId"]
        rid = httpx.post(f"{first.url}/_sandbox/surveys/{survey_id}/respond", json={"values": {"QID1": 2}}).json()[
            "responseIds"
        ][0]
    assert (tmp_path / "sandbox.sqlite3").exists()
    with SandboxServer(data_dir=tmp_path) as second:
        headers = {"X-API-TOKEN": brand["adminToken"]}
        reply = httpx.get(f"{second.url}/API/v3/surveys/{survey_id}/responses/{rid}", headers=headers)
        assert reply.status_code == 200
        assert reply.json()["result"]["values"]["QID1"] == 2
        assert httpx.get(f"{second.url}/_sandbox/brands/keepme").json() == brand


def test_seeding_the_demo_twice_changes_nothing(tmp_path: Path) -> None:
    store = Store(tmp_path / "sandbox.sqlite3")
    first = seed_demo(store, "sandbox1", None)
    second = seed_demo(store, "sandbox1", None)
    assert first == second
    assert len(store.all("SELECT id FROM surveys WHERE brand_id = ?", (DEMO_BRAND,))) == 5
    store.close()


def test_the_command_line_seeds_the_demo_and_shares_it_with_muster_uxr(tmp_path: Path) -> None:
    command = [
        sys.executable,
        "-m",
        "qualtrics_sandbox",
        "--port",
        "0",
        "--data",
        str(tmp_path),
        "--seed",
        "demo",
        "--muster-url",
        "http://127.0.0.1:8000",
    ]
    root = Path(__file__).resolve().parents[2]
    process = subprocess.Popen(command, cwd=root, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert process.stdout is not None
        lines: dict[str, str] = {}
        listening = ""
        while not listening:
            line = process.stdout.readline()
            assert line, "the sandbox exited early"
            if line.startswith("# Qualtrics sandbox listening on "):
                listening = line.split()[-1]
            elif "=" in line and not line.startswith("#"):
                key, _, value = line.strip().partition("=")
                lines[key] = value
        assert lines["QUALTRICS_SANDBOX_BRAND_ID"] == "demobrand"
        assert lines["QUALTRICS_SANDBOX_USER_TYPE_BRAND_ADMIN"] == "UT_BRANDADMIN"
        base = f"{listening}/API/v3"
        admin = httpx.Client(base_url=base, headers={"X-API-TOKEN": lines["QUALTRICS_SANDBOX_ADMIN_TOKEN"]})
        assert admin.get("/whoami").json()["result"]["datacenter"] == "sandbox1"
        created = admin.post(
            "/users",
            json={
                "username": "muster-uxr@example.org",
                "firstName": "Muster",
                "lastName": "UXR",
                "userType": lines["QUALTRICS_SANDBOX_USER_TYPE_STANDARD"],
                "password": "pw",
            },
        ).json()["result"]["id"]
        token = admin.post(f"/users/{created}/apitoken").json()["result"]["apiToken"]
        service = httpx.Client(base_url=base, headers={"X-API-TOKEN": token})
        listed = service.get("/surveys").json()["result"]["elements"]
        assert [s["name"] for s in listed] == [
            "Muster demo screener",
            "Muster demo study survey",
            "Muster demo panel sign-up",
            "Old pilot (inactive)",
        ]
        assert [s["isActive"] for s in listed] == [True, True, True, False]
        screener = service.get(f"/survey-definitions/{listed[0]['id']}").json()["result"]
        assert screener["SurveyOptions"]["EOSRedirectURL"] == (
            "http://127.0.0.1:8000/q/return/?rid=${e://Field/ResponseID}&pid=${e://Field/rallyParticipantId}"
        )
        assert screener["SurveyFlow"]["Flow"][0]["EmbeddedData"][0]["Field"] == "rallyParticipantId"
        kinds = {(q["QuestionType"], q["Selector"]) for q in screener["Questions"].values()}
        assert {
            ("MC", "SAVR"),
            ("MC", "MAVR"),
            ("MC", "DL"),
            ("TE", "SL"),
            ("TE", "ESTB"),
            ("TE", "FORM"),
            ("Slider", "HSLIDER"),
            ("RO", "DND"),
            ("MC", "NPS"),
            ("Matrix", "Likert"),
        } <= kinds
        admin.close()
        service.close()
    finally:
        process.terminate()
        process.wait(timeout=10)
    # A second start on the same data keeps the same brand and admin token.
    again = subprocess.Popen(command, cwd=root, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert again.stdout is not None
        second: dict[str, str] = {}
        deadline = time.time() + 10
        while time.time() < deadline:
            line = again.stdout.readline()
            if line.startswith("# Qualtrics sandbox listening"):
                break
            if "=" in line and not line.startswith("#"):
                key, _, value = line.strip().partition("=")
                second[key] = value
        second.pop("QUALTRICS_SANDBOX_URL")
        lines.pop("QUALTRICS_SANDBOX_URL")
        assert second == lines
    finally:
        again.terminate()
        again.wait(timeout=10)
