"""What ingestion meets in production: responses not yet available, edits, incremental exports, rate limits."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from qualtrics_sandbox.testing import SandboxServer

from .conftest import api
from .exporting import export, responses, start, table
from .test_surveys import load, small_survey

NOT_YET = "The Survey Response is not yet available. Please try again later."


@pytest.fixture(scope="module")
def slow() -> Iterator[SandboxServer]:
    """Responses become available 0.8 s after they are recorded (--response-delay-seconds)."""
    with SandboxServer(response_delay_seconds=0.8, webhook_retry_seconds=0.05) as server:
        yield server


@pytest.fixture(scope="module")
def own() -> Iterator[SandboxServer]:
    """A sandbox of these tests' own: they move its clock and set its faults."""
    with SandboxServer(webhook_retry_seconds=0.05) as server:
        yield server


def setup(server: SandboxServer) -> tuple[httpx.Client, httpx.Client, str]:
    control = httpx.Client(base_url=f"{server.url}/_sandbox", timeout=10)
    brand = control.post("/brands", json={}).json()
    survey_id = load(control, brand["adminUserId"], small_survey())
    return control, api(server, brand["adminToken"]), survey_id


def respond(control: httpx.Client, survey_id: str, **body: Any) -> str:
    reply = control.post(f"/surveys/{survey_id}/respond", json=body)
    assert reply.status_code == 200, reply.text
    rid: str = reply.json()["responseIds"][0]
    return rid


def test_a_just_recorded_response_answers_202_and_stays_out_of_exports_until_ready(slow: SandboxServer) -> None:
    control, client, survey_id = setup(slow)
    rid = respond(control, survey_id, values={"QID1": 1})
    early = client.get(f"/surveys/{survey_id}/responses/{rid}")
    assert early.status_code == 202
    assert early.json()["result"] == {"message": NOT_YET}
    assert early.json()["meta"]["httpStatus"] == "202 - Accepted"
    assert responses(client, survey_id) == []
    time.sleep(0.9)
    assert client.get(f"/surveys/{survey_id}/responses/{rid}").status_code == 200
    assert [r["responseId"] for r in responses(client, survey_id)] == [rid]


def test_the_faults_document_delays_responses_and_the_sandbox_clock_releases_them(own: SandboxServer) -> None:
    control, client, survey_id = setup(own)
    assert control.put("/faults", json={"responses": {"notYetAvailableSeconds": 3600}}).status_code == 200
    try:
        rid = respond(control, survey_id, values={"QID1": 2})
        bulk = control.post(f"/surveys/{survey_id}/respond", json={"count": 3}).json()["responseIds"]
    finally:
        control.delete("/faults")
    assert client.get(f"/surveys/{survey_id}/responses/{rid}").status_code == 202
    assert client.get(f"/surveys/{survey_id}/responses/{bulk[0]}").status_code == 202
    assert control.post("/clock", json={"advanceSeconds": 3601}).status_code == 200
    assert client.get(f"/surveys/{survey_id}/responses/{rid}").status_code == 200
    assert len(responses(client, survey_id)) == 4
    assert control.post("/clock", json={"advanceSeconds": -1}).status_code == 400


def test_an_edit_replaces_the_given_keys_and_moves_last_modified(own: SandboxServer) -> None:
    control, client, survey_id = setup(own)
    rid = respond(control, survey_id, values={"QID1": 1, "QID2_TEXT": "old"}, embeddedData={"rallyParticipantId": "P1"})
    before = client.get(f"/surveys/{survey_id}/responses/{rid}").json()["result"]["values"]
    edited = control.patch(
        f"/responses/{rid}",
        json={"values": {"QID1": 2, "QID2_TEXT": None}, "embeddedData": {"rallyParticipantId": "P2"}},
    )
    assert edited.status_code == 200, edited.text
    after = client.get(f"/surveys/{survey_id}/responses/{rid}").json()["result"]["values"]
    assert after["QID1"] == 2 and "QID2_TEXT" not in after and after["rallyParticipantId"] == "P2"
    assert after["recordedDate"] == before["recordedDate"] and after["startDate"] == before["startDate"]
    [element] = responses(client, survey_id, sortByLastModifiedDate=True)
    assert element["values"]["lastModifiedDate"] > before["recordedDate"]
    _, data = export(client, survey_id, format="csv", sortByLastModifiedDate=True)
    rows = table(data)
    assert "LastModifiedDate" in rows[0]
    assert json.loads(rows[2][rows[0].index("LastModifiedDate")])["ImportId"] == "lastModifiedDate"
    for bad in ({"values": {"QID1": 9}}, {"values": {"nonsense": 1}}, {"embeddedData": {"undeclared": "x"}}, {"x": 1}):
        assert control.patch(f"/responses/{rid}", json=bad).status_code == 400, bad
    assert control.patch("/responses/R_doesNotExist123", json={"values": {}}).status_code == 404


def test_put_responses_updates_embedded_data_as_documented(own: SandboxServer) -> None:
    control, client, survey_id = setup(own)
    rid = respond(control, survey_id, values={"QID1": 1}, recordedDate="2024-01-01T12:00:00Z")
    reply = client.put(f"/responses/{rid}", json={"surveyId": survey_id, "embeddedData": {"rallyParticipantId": "P9"}})
    assert reply.status_code == 200, reply.text
    assert set(reply.json()) == {"meta"}
    values = client.get(f"/surveys/{survey_id}/responses/{rid}").json()["result"]["values"]
    assert (
        values["rallyParticipantId"] == "P9" and values["recordedDate"] > "2025"
    )  # resetRecordedDate defaults to true
    kept = client.put(
        f"/responses/{rid}",
        json={"surveyId": survey_id, "embeddedData": {"undeclared": "x"}, "resetRecordedDate": False},
    )
    assert kept.status_code == 200
    moved = client.get(f"/surveys/{survey_id}/responses/{rid}").json()["result"]["values"]
    # false: the recorded date moves by one millisecond [S]; a field the flow does not declare stays hidden.
    assert moved["recordedDate"] != values["recordedDate"] and "undeclared" not in moved
    strict = client.put(
        f"/responses/{rid}", json={"surveyId": survey_id, "embeddedData": {}, "resetRecordedDate": "false"}
    )
    assert strict.status_code == 400 and "resetRecordedDate" in strict.json()["meta"]["error"]["errorMessage"]
    other = load(control, client.get("/whoami").json()["result"]["userId"], small_survey())
    assert client.put(f"/responses/{rid}", json={"surveyId": other, "embeddedData": {}}).status_code == 404
    assert client.put(f"/responses/{rid}", json={"embeddedData": {}}).status_code == 400


def test_continuation_with_sort_by_last_modified_brings_new_and_edited_responses(own: SandboxServer) -> None:
    control, client, survey_id = setup(own)
    first = respond(control, survey_id, values={"QID1": 1})
    second = respond(control, survey_id, values={"QID1": 2})
    by_date, data = export(client, survey_id, format="json", allowContinuation=True, sortByLastModifiedDate=True)
    assert [r["responseId"] for r in json.loads(data)["responses"]] == [first, second]
    plain, _ = export(client, survey_id, format="json", allowContinuation=True)
    third = respond(control, survey_id, values={"QID1": 1})
    assert control.patch(f"/responses/{first}", json={"values": {"QID1": 2}}).status_code == 200
    _, changed = export(
        client, survey_id, format="json", continuationToken=by_date["continuationToken"], sortByLastModifiedDate=True
    )
    assert [r["responseId"] for r in json.loads(changed)["responses"]] == [third, first]
    _, new_only = export(client, survey_id, format="json", continuationToken=plain["continuationToken"])
    assert [r["responseId"] for r in json.loads(new_only)["responses"]] == [third]


def test_a_continuation_token_expires_after_a_week_on_the_sandbox_clock(own: SandboxServer) -> None:
    control, client, survey_id = setup(own)
    first, _ = export(client, survey_id, format="json", allowContinuation=True)
    second, _ = export(client, survey_id, format="json", allowContinuation=True)
    control.post("/clock", json={"advanceSeconds": 6 * 86400})
    assert start(client, survey_id, format="json", continuationToken=first["continuationToken"]).status_code == 200
    control.post("/clock", json={"advanceSeconds": 86400 + 1})
    expired = start(client, survey_id, format="json", continuationToken=second["continuationToken"])
    assert expired.status_code == 400
    assert (
        expired.json()["meta"]["error"]["errorCode"] == "RE_4"
        and "expired" in expired.json()["meta"]["error"]["errorMessage"]
    )


def test_the_spec_refuses_continuation_mixed_with_allow_continuation_or_a_filter(own: SandboxServer) -> None:
    _, client, survey_id = setup(own)
    token, _ = export(client, survey_id, format="json", allowContinuation=True)
    for body in (
        {"continuationToken": token["continuationToken"], "allowContinuation": True},
        {"continuationToken": token["continuationToken"], "allowContinuation": False},
        {"allowContinuation": True, "filterId": "9b67fbb7-ef89-430d-8ddf-f17f44de9254"},
        {"sortByLastModifiedDate": True, "filterId": "9b67fbb7-ef89-430d-8ddf-f17f44de9254"},
    ):
        reply = start(client, survey_id, format="json", **body)
        assert reply.status_code == 400, body
        message = reply.json()["meta"]["error"]["errorMessage"]
        assert "allowContinuation" in message or "sortByLastModifiedDate" in message, message
    # The token was never used by those refusals.
    assert start(client, survey_id, format="json", continuationToken=token["continuationToken"]).status_code == 200


def test_a_token_over_its_calls_per_minute_gets_429_with_retry_after() -> None:
    with SandboxServer(calls_per_minute=3) as server:
        control, client, _ = setup(server)
        codes = [client.get("/whoami").status_code for _ in range(4)]
        assert codes == [200, 200, 200, 429]
        refused = client.get("/whoami")
        assert refused.json()["meta"]["httpStatus"] == "429 - Too Many Requests"
        assert int(refused.headers["Retry-After"]) >= 1
        other = control.post("/brands", json={}).json()
        with api(server, other["adminToken"]) as fresh:
            assert fresh.get("/whoami").status_code == 200  # per token


def test_max_concurrent_refuses_a_second_call_while_the_first_runs() -> None:
    with SandboxServer(max_concurrent=1) as server:
        control, client, _ = setup(server)
        control.put("/faults", json={"endpoints": [{"path": "/API/v3/whoami", "latencyMs": 600, "times": 1}]})
        results: list[int] = []
        slow_call = threading.Thread(target=lambda: results.append(client.get("/whoami").status_code))
        slow_call.start()
        time.sleep(0.2)
        second = client.get("/surveys")
        slow_call.join()
        assert second.status_code == 429 and second.headers["Retry-After"] == "1"
        assert results == [200]
        assert client.get("/surveys").status_code == 200


def test_the_faults_document_sets_a_rate_limit_at_run_time(own: SandboxServer) -> None:
    control, client, _ = setup(own)
    control.put("/faults", json={"rateLimits": {"callsPerMinute": 2}})
    try:
        assert [client.get("/whoami").status_code for _ in range(3)] == [200, 200, 429]
    finally:
        control.delete("/faults")
    assert control.get("/faults").json()["rateLimits"] == {"callsPerMinute": None, "maxConcurrent": None}
