from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest

from qualtrics_sandbox.webhooks import sign, topic_matches

from .conftest import make_user, recorded
from .test_responses import respond
from .test_surveys import load, small_survey


class Receiver:
    """A tiny local webhook endpoint that can be told to fail its first calls."""

    def __init__(self) -> None:
        self.received: list[dict[str, str]] = []
        self.fail_next = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                length = int(self.headers.get("Content-Length", 0))
                raw = self.rfile.read(length).decode()
                if receiver.fail_next > 0:
                    receiver.fail_next -= 1
                    self.send_response(503)
                else:
                    form = {k: v[0] for k, v in parse_qs(raw, keep_blank_values=True).items()}
                    form["_content_type"] = self.headers.get("Content-Type", "")
                    receiver.received.append(form)
                    self.send_response(200)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def wait_for(self, count: int, timeout: float = 5) -> list[dict[str, str]]:
        deadline = time.time() + timeout
        while len(self.received) < count and time.time() < deadline:
            time.sleep(0.02)
        return self.received

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver()
    yield found
    found.close()


def test_signing_reproduces_the_recorded_hmac() -> None:
    sample = recorded("kyma-connector-tools__webhook_completedResponse_decoded.json")
    assert sign(sample["form"]["MSG"], "kyma4ever") == sample["form"]["HMAC"]
    second = sample["second_sample_from_hmac_test_go"]
    assert sign(second["MSG"], second["key"]) == second["HMAC_SHA512_hex"]
    raw = recorded("kyma-connector-tools__webhook_completedResponse_form-urlencoded_with-HMAC.txt")
    form = {k: v[0] for k, v in parse_qs(raw.strip()).items()}
    assert sign(form["MSG"], "kyma4ever") == form["HMAC"]


def test_topics_match_exactly_by_wildcard_or_everything() -> None:
    event = "surveyengine.completedResponse.SV_1"
    assert topic_matches("surveyengine.completedResponse.SV_1", event)
    assert topic_matches("surveyengine.completedResponse.*", event)
    assert topic_matches("*", event)
    assert not topic_matches("surveyengine.completedResponse.SV_2", event)
    assert not topic_matches("surveyengine.partialResponse.*", event)


def subscribe(admin: httpx.Client, url: str, topics: str, shared_key: str | None = "s3cret") -> str:
    body: dict[str, Any] = {"topics": topics, "publicationUrl": url, "encrypt": False}
    if shared_key:
        body["sharedKey"] = shared_key
    reply = admin.post("/eventsubscriptions", json=body)
    assert reply.status_code == 200, reply.text
    subscription_id: str = reply.json()["result"]["id"]
    return subscription_id


def settled_delivery(control: httpx.Client, sub_id: str) -> dict[str, Any]:
    """The receiver has a form before the sandbox records the answer it got: wait for the log."""
    deadline = time.time() + 5
    while True:
        [entry] = [d for d in control.get("/webhooks").json()["deliveries"] if d["subscriptionId"] == sub_id]
        if entry["status"] == "delivered" or time.time() > deadline:
            return dict(entry)
        time.sleep(0.05)


def test_a_completed_response_is_delivered_signed(
    control: httpx.Client, admin: httpx.Client, brand: dict[str, Any], receiver: Receiver
) -> None:
    survey_id = load(control, brand["adminUserId"], small_survey())
    sub_id = subscribe(admin, receiver.url, "surveyengine.completedResponse.*,surveyengine.partialResponse.*")
    [rid] = respond(control, survey_id, values={"QID1": 1}).json()["responseIds"]
    [form] = receiver.wait_for(1)
    assert form["_content_type"] == "application/x-www-form-urlencoded"
    assert form["Topic"] == f"{brand['brandId']}.surveyengine.completedResponse.{survey_id}"
    msg = json.loads(form["MSG"])
    assert list(msg) == ["Status", "SurveyID", "ResponseID", "CompletedDate", "BrandID"]
    assert msg["Status"] == "Complete" and msg["ResponseID"] == rid and msg["BrandID"] == brand["brandId"]
    assert form["HMAC"] == sign(form["MSG"], "s3cret")
    entry = settled_delivery(control, sub_id)
    assert entry["status"] == "delivered" and entry["attempts"] == 1 and entry["url"] == receiver.url
    assert admin.get(f"/eventsubscriptions/{sub_id}").json()["result"]["successfulCalls"] == 1


def test_a_partial_response_fires_the_partial_topic(
    control: httpx.Client, admin: httpx.Client, brand: dict[str, Any], receiver: Receiver
) -> None:
    survey_id = load(control, brand["adminUserId"], small_survey())
    subscribe(admin, receiver.url, f"surveyengine.partialResponse.{survey_id}", shared_key=None)
    respond(control, survey_id, values={"QID1": 1}, finished=False)
    respond(control, survey_id, values={"QID1": 2}, finished=True)
    [form] = receiver.wait_for(1)
    time.sleep(0.2)
    assert len(receiver.received) == 1
    assert form["Topic"].endswith(f"surveyengine.partialResponse.{survey_id}")
    assert "HMAC" not in form


def test_a_failed_delivery_is_retried(
    control: httpx.Client, admin: httpx.Client, brand: dict[str, Any], receiver: Receiver
) -> None:
    receiver.fail_next = 2
    survey_id = load(control, brand["adminUserId"], small_survey())
    sub_id = subscribe(admin, receiver.url, f"surveyengine.completedResponse.{survey_id}")
    respond(control, survey_id, values={"QID1": 1})
    [form] = receiver.wait_for(1)
    assert form["HMAC"] == sign(form["MSG"], "s3cret")
    entry = settled_delivery(control, sub_id)
    assert entry["status"] == "delivered"
    assert entry["attempts"] == 3
    assert [a["statusCode"] for a in entry["attemptLog"]] == [503, 503, 200]


def test_subscriptions_can_be_listed_read_and_deleted(admin: httpx.Client, receiver: Receiver) -> None:
    sub_id = subscribe(admin, receiver.url, "surveyengine.completedResponse.*")
    listed = admin.get("/eventsubscriptions").json()["result"]
    assert sub_id in [s["id"] for s in listed["elements"]]
    got = admin.get(f"/eventsubscriptions/{sub_id}/").json()["result"]
    assert got["topics"] == "surveyengine.completedResponse.*" and got["encrypted"] is False
    deleted = admin.delete(f"/eventsubscriptions/{sub_id}")
    assert set(deleted.json()) == {"meta"}
    missing = admin.get(f"/eventsubscriptions/{sub_id}")
    assert missing.status_code == 404
    assert missing.json()["meta"]["error"] == {"errorMessage": f"{sub_id} not found", "errorCode": "ESSG_2"}


def test_responses_by_other_users_surveys_reach_the_brand_subscription(
    control: httpx.Client, admin: httpx.Client, brand: dict[str, Any], receiver: Receiver
) -> None:
    user_id, _ = make_user(admin, brand, "Survey Owner")
    survey_id = load(control, user_id, small_survey())
    subscribe(admin, receiver.url, "surveyengine.completedResponse.*")
    respond(control, survey_id, values={"QID1": 2})
    assert len(receiver.wait_for(1)) == 1
