"""Sandbox at volume: N simulated responses to a 30-question survey, then their JSON export zip.

    .venv/bin/python -m bench.sandbox_volume [--sizes 10000 100000]

Each phase runs in its own subprocess against a sandbox with a `--data` directory, so
its peak resident memory (ru_maxrss) is the phase's own. Goals (issue 5): 100,000
responses ≤ 30 s, their JSON export ≤ 20 s, peak memory flat in N and ≤ 300 MB.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

import httpx

from qualtrics_sandbox import builders as b
from qualtrics_sandbox.testing import SandboxServer

JSON = dict[str, Any]
SURVEY_ID = "SV_benchVolume0001"


def thirty_questions() -> JSON:
    """A survey of 30 questions of every kind the sandbox keys."""
    questions: list[JSON] = []
    for i in range(1, 31):
        qid, kind = f"QID{i}", i % 10
        if kind in (0, 1, 2):
            questions.append(b.multiple_choice(qid, f"Question {i}", ["Often", "Sometimes", "Rarely", "Never"]))
        elif kind == 3:
            questions.append(b.multiple_choice(qid, f"Question {i}", ["A", "B", "C", "Other"], "MAVR", other=4))
        elif kind == 4:
            questions.append(b.text_entry(qid, f"Question {i}"))
        elif kind == 5:
            questions.append(b.nps(qid, f"Question {i}"))
        elif kind == 6:
            questions.append(b.slider(qid, f"Question {i}", ["One", "Two"], 0, 10))
        elif kind == 7:
            questions.append(b.rank_order(qid, f"Question {i}", ["W", "X", "Y", "Z"]))
        elif kind == 8:
            questions.append(b.matrix(qid, f"Question {i}", ["R1", "R2", "R3"], ["1", "2", "3", "4", "5"]))
        else:
            questions.append(b.form(qid, f"Question {i}", ["First", "Second"]))
    return b.survey("Volume", questions, survey_id=SURVEY_ID, embedded=["rallyParticipantId"])


def peak_mb() -> float:
    # ru_maxrss is in kilobytes on Linux.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def phase_respond(data: Path, count: int) -> JSON:
    with SandboxServer(data_dir=data) as sandbox, httpx.Client(base_url=sandbox.url, timeout=600) as client:
        brand = client.post("/_sandbox/brands", json={"brandId": "bench"}).json()
        definition = {"ownerId": brand["adminUserId"], "definition": thirty_questions()}
        survey_id = client.post("/_sandbox/surveys", json=definition).json()["surveyId"]
        started = time.perf_counter()
        reply = client.post(
            f"/_sandbox/surveys/{survey_id}/respond",
            json={"count": count, "embeddedData": {"rallyParticipantId": "P{n}"}, "seed": 1},
        )
        seconds = time.perf_counter() - started
        assert reply.status_code == 200, reply.text
        assert reply.json()["count"] == count
    return {"seconds": seconds, "peakMB": peak_mb(), "surveyId": survey_id, "token": brand["adminToken"]}


def phase_export(data: Path, survey_id: str, token: str) -> JSON:
    with SandboxServer(data_dir=data, export_seconds=0) as sandbox:
        headers = {"X-API-TOKEN": token}
        with httpx.Client(base_url=f"{sandbox.url}/API/v3", headers=headers, timeout=600) as api:
            started = time.perf_counter()
            progress_id = api.post(f"/surveys/{survey_id}/export-responses", json={"format": "json"}).json()["result"][
                "progressId"
            ]
            while True:
                result = api.get(f"/surveys/{survey_id}/export-responses/{progress_id}").json()["result"]
                if result["status"] != "inProgress":
                    break
                time.sleep(0.1)
            assert result["status"] == "complete", result
            target = data / "export.zip"
            with api.stream("GET", f"/surveys/{survey_id}/export-responses/{result['fileId']}/file") as reply:
                with target.open("wb") as out:
                    for chunk in reply.iter_bytes():
                        out.write(chunk)
            seconds = time.perf_counter() - started
    with zipfile.ZipFile(target) as archive:
        [member] = archive.infolist()
    return {
        "seconds": seconds,
        "peakMB": peak_mb(),
        "zipMB": target.stat().st_size / 1e6,
        "jsonMB": member.file_size / 1e6,
    }


def run_phase(args: list[str]) -> JSON:
    found = subprocess.run(
        [sys.executable, "-m", "bench.sandbox_volume", *args], capture_output=True, text=True, check=True
    )
    result: JSON = json.loads(found.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--phase", choices=["respond", "export"], help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--count", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--survey", help=argparse.SUPPRESS)
    parser.add_argument("--token", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase == "respond":
        print(json.dumps(phase_respond(args.data, args.count)))
        return
    if args.phase == "export":
        print(json.dumps(phase_export(args.data, args.survey, args.token)))
        return
    print(
        f"{'N':>8} {'respond s':>10} {'respond MB':>11} {'export s':>9} {'export MB':>10} {'zip MB':>7} {'json MB':>8}"
    )
    for count in args.sizes:
        with tempfile.TemporaryDirectory(prefix="sandbox-volume-") as folder:
            data = Path(folder)
            made = run_phase(["--phase", "respond", "--data", str(data), "--count", str(count)])
            out = run_phase(
                ["--phase", "export", "--data", str(data), "--survey", made["surveyId"], "--token", made["token"]]
            )
        print(
            f"{count:>8} {made['seconds']:>10.1f} {made['peakMB']:>11.0f} {out['seconds']:>9.1f}"
            f" {out['peakMB']:>10.0f} {out['zipMB']:>7.1f} {out['jsonMB']:>8.1f}",
            flush=True,
        )
    print("Goals at 100,000: respond ≤ 30 s, export ≤ 20 s, peak ≤ 300 MB and flat in N.")


if __name__ == "__main__":
    main()
