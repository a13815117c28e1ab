"""Each fault set through `PUT /_sandbox/faults` is observable from a client."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from qualtrics_sandbox.testing import SandboxServer

from .conftest import api
from .exporting import start, wait
from .test_responses import respond
from .test_surveys import load, small_survey
from .test_webhooks import Receiver


@pytest.fixture(scope="module")
def faulty() -> Iterator[SandboxServer]:
    """Faults apply to a whole sandbox, so these tests get their own."""
    with SandboxServer(webhook_retry_seconds=0.05) as server:
        yield server


@pytest.fixture
def setup(faulty: SandboxServer) -> Iterator[tuple[httpx.Client, httpx.Client, str]]:
    with httpx.Client(base_url=f"{faulty.url}/_sandbox", timeout=10) as control:
        brand = control.post("/brands", json={}).json()
        survey_id = load(control, brand["adminUserId"], small_survey())
        with api(faulty, brand["adminToken"]) as client:
            yield control, client, survey_id
        control.delete("/faults")


def put(control: httpx.Client, config: dict[str, Any]) -> dict[str, Any]:
    reply = control.put("/faults", json=config)
    assert reply.status_code == 200, reply.text
    body: dict[str, Any] = reply.json()
    return body


def test_the_next_calls_fail_with_503_then_recover(setup: tuple[httpx.Client, httpx.Client, str]) -> None:
    control, client, _ = setup
    put(control, {"endpoints": [{"method": "GET", "path": "/API/v3/surveys", "error503": 1, "times": 2}]})
    codes = [client.get("/surveys").status_code for _ in range(3)]
    assert codes == [503, 503, 200]
    assert control.get("/faults").json()["endpoints"][0]["times"] == 0


def test_a_500_carries_the_qualtrics_error_envelope(setup: tuple[httpx.Client, httpx.Client, str]) -> None:
    control, client, survey_id = setup
    put(control, {"endpoints": [{"path": "/API/v3/surveys/*/export-responses", "error500": 1}]})
    reply = start(client, survey_id, format="json")
    assert reply.status_code == 500
    assert reply.json()["meta"]["error"]["errorCode"] == "ISE_1"
    assert client.get("/surveys").status_code == 200


def test_rate_limiting_answers_429_with_retry_after(setup: tuple[httpx.Client, httpx.Client, str]) -> None:
    control, client, _ = setup
    put(control, {"endpoints": [{"path": "/API/v3/*", "rateLimit": 1, "retryAfter": 7}]})
    reply = client.get("/whoami")
    assert reply.status_code == 429 and reply.headers["Retry-After"] == "7"
    assert reply.json()["meta"]["httpStatus"] == "429 - Too Many Requests"


def test_latency_slows_matching_calls(setup: tuple[httpx.Client, httpx.Client, str]) -> None:
    control, client, _ = setup
    put(control, {"endpoints": [{"path": "/API/v3/whoami", "latencyMs": 300}]})
    started = time.perf_counter()
    assert client.get("/whoami").status_code == 200
    assert time.perf_counter() - started >= 0.3


def test_a_dropped_connection_gets_no_answer(setup: tuple[httpx.Client, httpx.Client, str]) -> None:
    control, client, _ = setup
    put(control, {"endpoints": [{"path": "/API/v3/whoami", "dropConnection": 1, "times": 1}]})
    with pytest.raises(httpx.TransportError):
        client.get("/whoami")
    assert client.get("/whoami").status_code == 200


def test_exports_end_failed_and_tokens_are_refused(setup: tuple[httpx.Client, httpx.Client, str]) -> None:
    control, client, survey_id = setup
    put(control, {"exports": {"fail": 1}})
    progress_id = start(client, survey_id, format="json", allowContinuation=True).json()["result"]["progressId"]
    assert wait(client, survey_id, progress_id)["status"] == "failed"
    control.delete("/faults")
    progress_id = start(client, survey_id, format="json", allowContinuation=True).json()["result"]["progressId"]
    token = wait(client, survey_id, progress_id)["continuationToken"]
    put(control, {"continuationTokens": {"refuse": 1}})
    refused = start(client, survey_id, format="json", continuationToken=token)
    assert refused.status_code == 400 and refused.json()["meta"]["error"]["errorCode"] == "RE_4"


def test_a_bad_faults_document_is_refused(setup: tuple[httpx.Client, httpx.Client, str]) -> None:
    control, _, _ = setup
    assert control.put("/faults", json={"endpoints": [{"error503": 2}]}).status_code == 400
    assert control.put("/faults", json={"webhook": {}}).status_code == 400
    cleared = control.delete("/faults").json()
    assert cleared["endpoints"] == [] and cleared["webhooks"]["drop"] == 0


def _subscribe(client: httpx.Client, survey_id: str, receiver: Receiver) -> None:
    client.post(
        "/eventsubscriptions",
        json={"topics": f"surveyengine.completedResponse.{survey_id}", "publicationUrl": receiver.url},
    )


@pytest.mark.parametrize(
    ("webhooks", "sent", "expected"),
    [
        ({"drop": 1}, 1, 0),
        ({"duplicate": 1}, 1, 2),
        ({"delayMs": 400}, 1, 1),
        # The window outlasts creating the three responses even on a loaded machine.
        ({"reorder": True, "reorderWindowMs": 5000}, 3, 3),
    ],
)
def test_webhooks_misbehave_as_configured(
    setup: tuple[httpx.Client, httpx.Client, str], webhooks: dict[str, Any], sent: int, expected: int
) -> None:
    control, client, survey_id = setup
    receiver = Receiver()
    try:
        _subscribe(client, survey_id, receiver)
        put(control, {"webhooks": webhooks})
        started = time.perf_counter()
        ids = [respond(control, survey_id, values={"QID1": 1}).json()["responseIds"][0] for _ in range(sent)]
        got = receiver.wait_for(expected, timeout=12)
        if not expected:
            time.sleep(0.3)
        elapsed = time.perf_counter() - started
    finally:
        receiver.close()
    order = [json.loads(form["MSG"])["ResponseID"] for form in got]
    assert len(order) == expected
    if "duplicate" in webhooks:
        assert order == ids * 2
    if "delayMs" in webhooks:
        assert elapsed >= 0.4
    if "reorder" in webhooks:
        assert order == ids[::-1]
    if "drop" in webhooks:
        statuses = [d["status"] for d in control.get("/webhooks").json()["deliveries"] if d["url"] == receiver.url]
        assert statuses == ["dropped"]
