"""Taking surveys at /jfe/form and /jfe/preview over plain HTTP (the browser test drives Chromium)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from qualtrics_sandbox import builders as b
from qualtrics_sandbox.seed import screener
from qualtrics_sandbox.testing import SandboxServer

from .conftest import api
from .exporting import responses
from .test_surveys import load
from .test_webhooks import Receiver

RETURN = "http://muster.test/q/return/?rid=${e://Field/ResponseID}&pid=${e://Field/rallyParticipantId}"


@pytest.fixture(scope="module")
def taker() -> Iterator[SandboxServer]:
    with SandboxServer(partial_seconds=1.5, webhook_retry_seconds=0.05) as server:
        yield server


@pytest.fixture
def world(taker: SandboxServer) -> Iterator[tuple[httpx.Client, httpx.Client, httpx.Client, str]]:
    """(control, admin API, browser-like client, owner id)."""
    with httpx.Client(base_url=f"{taker.url}/_sandbox", timeout=10) as control:
        brand = control.post("/brands", json={}).json()
        with api(taker, brand["adminToken"]) as admin, httpx.Client(base_url=taker.url, timeout=10) as browser:
            yield control, admin, browser, brand["adminUserId"]


def three_pages(redirect: str | None = RETURN) -> dict[str, Any]:
    first = b.multiple_choice("QID1", "Pick one", ["A", "B"])
    first["Validation"]["Settings"]["ForceResponse"] = "ON"
    total = b.form("QID3", "Split 10 points", ["Here", "There"])
    total.update({"QuestionType": "CS", "Selector": "VRTL"})
    total["Validation"]["Settings"].update({"Type": "ChoicesTotal", "Total": "10"})
    return b.survey(
        "Two pages",
        [first, b.text_entry("QID2", "Why?"), total],
        embedded=["rallyParticipantId"],
        eos_redirect_url=redirect,
    )


def open_survey(browser: httpx.Client, survey_id: str, query: str = "", mode: str = "form") -> str:
    reply = browser.get(f"/jfe/{mode}/{survey_id}{query}")
    assert reply.status_code == 303, reply.text
    return str(reply.headers["location"])


class Labels(HTMLParser):
    """Collects form controls and what labels them."""

    def __init__(self) -> None:
        super().__init__()
        self.controls: list[dict[str, str | None]] = []
        self.label_for: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag in ("input", "select", "textarea"):
            self.controls.append(found)
        if tag == "label" and found.get("for"):
            self.label_for.add(str(found["for"]))


def test_a_respondent_finishes_and_is_sent_to_the_piped_redirect(
    world: tuple[httpx.Client, httpx.Client, httpx.Client, str],
) -> None:
    control, admin, browser, owner = world
    survey_id = load(control, owner, three_pages())
    page = open_survey(browser, survey_id, "?rallyParticipantId=a b%26c&undeclared=1")
    assert browser.post(page, data={"QID1": "2"}).status_code == 303
    assert browser.post(page, data={"QID2_TEXT": "Because"}).status_code == 303
    short = browser.post(page, data={"QID3_1": "3", "QID3_2": "3"})
    assert short.status_code == 400 and "add up to 10" in short.text
    done = browser.post(page, data={"QID3_1": "3", "QID3_2": "7"})
    assert done.status_code == 302
    target = urlsplit(done.headers["location"])
    assert target.netloc == "muster.test" and "pid=a%20b%26c" in target.query
    [rid] = parse_qs(target.query)["rid"]
    values = admin.get(f"/surveys/{survey_id}/responses/{rid}").json()["result"]["values"]
    assert values["QID1"] == 2 and values["QID2_TEXT"] == "Because" and values["QID3_2"] == 7
    assert values["rallyParticipantId"] == "a b&c" and "undeclared" not in values
    assert values["finished"] == 1 and values["distributionChannel"] == "anonymous"
    assert browser.get(page).headers["location"] == done.headers["location"]


def test_a_forced_question_shows_an_error_tied_to_its_inputs(
    world: tuple[httpx.Client, httpx.Client, httpx.Client, str],
) -> None:
    control, _, browser, owner = world
    page = open_survey(browser, load(control, owner, three_pages()))
    reply = browser.post(page, data={})
    assert reply.status_code == 400
    assert 'role="alert"' in reply.text and 'id="QID1-error"' in reply.text
    assert 'aria-describedby="QID1-error" aria-invalid="true"' in reply.text


def test_every_control_of_the_demo_screener_has_a_label(
    world: tuple[httpx.Client, httpx.Client, httpx.Client, str],
) -> None:
    control, _, browser, owner = world
    survey_id = load(control, owner, screener("SV_labelledScreen1", None))
    page = open_survey(browser, survey_id)
    seen = 0
    for _ in range(11):
        html = browser.get(page).text
        parser = Labels()
        parser.feed(html)
        for found in parser.controls:
            assert found.get("aria-label") or found.get("id") in parser.label_for, found
        seen += len(parser.controls)
        assert '<html lang="en">' in html and "<fieldset" in html and "<legend>" in html
        answers = {"QID1": "1", "QID9": "10", "QID12_1": "14"}
        browser.post(page, data=answers)
    assert seen > 30


def test_the_end_survey_element_redirect_wins_and_otherwise_the_message_shows(
    world: tuple[httpx.Client, httpx.Client, httpx.Client, str],
) -> None:
    control, _, browser, owner = world
    definition = b.survey("One", [b.text_entry("QID1", "Say hi")], embedded=["rallyParticipantId"])
    plain = load(control, owner, definition)
    page = open_survey(browser, plain)
    thanks = browser.post(page, data={"QID1_TEXT": "hi"})
    assert thanks.status_code == 200 and "Your response has been recorded." in thanks.text
    definition["SurveyFlow"]["Flow"][-1].update(
        {
            "EndingType": "Advanced",
            "Options": {"Advanced": "true", "SurveyTermination": "Redirect", "EOSRedirectURL": RETURN},
        }
    )
    flowed = load(control, owner, definition)
    page = open_survey(browser, flowed, "?rallyParticipantId=P9")
    assert "pid=P9" in browser.post(page, data={"QID1_TEXT": "hi"}).headers["location"]


def test_a_preview_is_recorded_as_a_preview_even_when_inactive(
    world: tuple[httpx.Client, httpx.Client, httpx.Client, str],
) -> None:
    control, admin, browser, owner = world
    survey_id = load(control, owner, b.survey("Quiet", [b.text_entry("QID1", "Hi")]), active=False)
    assert browser.get(f"/jfe/form/{survey_id}").status_code == 403
    page = open_survey(browser, survey_id, "?Q_CHL=preview", mode="preview")
    assert "Preview" in browser.get(page).text
    browser.post(page, data={"QID1_TEXT": "x"})
    [found] = responses(admin, survey_id)
    assert found["values"]["distributionChannel"] == "preview"
    assert found["values"]["status"] == 1 and found["labels"]["status"] == "Survey Preview"
    assert browser.get("/jfe/form/SV_doesNotExist123").status_code == 404


def test_an_abandoned_session_becomes_a_partial_and_fires_its_webhook(
    world: tuple[httpx.Client, httpx.Client, httpx.Client, str],
) -> None:
    control, admin, browser, owner = world
    survey_id = load(control, owner, three_pages())
    receiver = Receiver()
    try:
        admin.post(
            "/eventsubscriptions",
            json={"topics": "surveyengine.partialResponse.*", "publicationUrl": receiver.url},
        )
        page = open_survey(browser, survey_id, "?rallyParticipantId=P5")
        browser.post(page, data={"QID1": "1"})
        [progress] = responses(admin, survey_id, exportResponsesInProgress=True)
        assert progress["values"]["finished"] == 0 and progress["values"]["QID1"] == 1
        assert responses(admin, survey_id) == []
        [form] = receiver.wait_for(1, timeout=5)
    finally:
        receiver.close()
    msg = json.loads(form["MSG"])
    assert msg["Status"] == "Partial" and form["Topic"].endswith(f"partialResponse.{survey_id}")
    [partial] = responses(admin, survey_id)
    assert partial["responseId"] == msg["ResponseID"] == progress["responseId"]
    assert partial["values"]["finished"] == 0 and partial["values"]["rallyParticipantId"] == "P5"
    assert responses(admin, survey_id, exportResponsesInProgress=True) == []
    assert browser.get(page).status_code == 410


def test_a_carried_forward_question_offers_only_what_the_respondent_picked_before(
    world: tuple[httpx.Client, httpx.Client, httpx.Client, str],
) -> None:
    from .test_realism import carry_forward_survey

    control, admin, browser, owner = world
    survey_id = load(control, owner, carry_forward_survey())
    page = open_survey(browser, survey_id)
    assert browser.post(page, data={"QID1": ["1", "3"]}).status_code == 303
    html = browser.get(page).text
    assert "Phone" in html and "Tablet" in html and "Something else" in html
    assert "Laptop" not in html
    refused = browser.post(page, data={"QID2": "x2"})
    assert refused.status_code == 400
    done = browser.post(page, data={"QID2": "x3"})
    assert done.status_code in (200, 302), done.text
    [response] = responses(admin, survey_id)
    assert response["values"]["QID2"] == "x3" and response["labels"]["QID2"] == "Tablet"
