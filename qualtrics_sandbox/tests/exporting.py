"""Running an export through the v3 API, as a client would."""

from __future__ import annotations

import csv
import io
import json
import time
import zipfile
from typing import Any

import httpx


def start(api: httpx.Client, survey_id: str, **body: Any) -> httpx.Response:
    return api.post(f"/surveys/{survey_id}/export-responses", json=body)


def wait(api: httpx.Client, survey_id: str, progress_id: str, timeout: float = 15) -> dict[str, Any]:
    deadline = time.time() + timeout
    while time.time() < deadline:
        result: dict[str, Any] = api.get(f"/surveys/{survey_id}/export-responses/{progress_id}").json()["result"]
        if result["status"] != "inProgress":
            return result
        time.sleep(0.05)
    raise AssertionError(f"export {progress_id} did not finish")


def export(api: httpx.Client, survey_id: str, **body: Any) -> tuple[dict[str, Any], bytes]:
    """Start, poll, download and unzip; returns (the final progress result, the file inside)."""
    reply = start(api, survey_id, **body)
    assert reply.status_code == 200, reply.text
    result = wait(api, survey_id, reply.json()["result"]["progressId"])
    assert result["status"] == "complete", result
    download = api.get(f"/surveys/{survey_id}/export-responses/{result['fileId']}/file")
    assert download.status_code == 200
    if body.get("compress") is False:
        return result, download.content
    assert download.headers["content-type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(download.content)) as archive:
        [name] = archive.namelist()
        return result, archive.read(name)


def responses(api: httpx.Client, survey_id: str, **body: Any) -> list[dict[str, Any]]:
    _, data = export(api, survey_id, format="json", **body)
    found: list[dict[str, Any]] = json.loads(data)["responses"]
    return found


def table(data: bytes, delimiter: str = ",") -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8"), newline=""), delimiter=delimiter))
