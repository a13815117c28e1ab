"""The sandbox's answers have the envelope, keys and value types of recorded Qualtrics payloads."""

from __future__ import annotations

import copy
import json
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from qualtrics_sandbox import builders as b
from qualtrics_sandbox.seed import screener
from qualtrics_sandbox.testing import SandboxServer

from .conftest import RECORDED, api, recorded
from .shapes import assert_same_shape
from .test_responses import respond
from .test_surveys import load, small_survey
from .test_webhooks import Receiver

LEGACY_MAPS = frozenset({"$.result.exportColumnMap"})


def proxied(sandbox: SandboxServer, token: str) -> httpx.Client:
    """CambridgeEducation's recordings went through a non-home host and carry meta.notice."""
    return api(sandbox, token, host=f"localhost:{sandbox.port}")


def test_the_recorded_folder_is_listed_completely() -> None:
    if not RECORDED.is_dir():
        pytest.skip(f"recorded Qualtrics payloads not found at {RECORDED}")
    covered = {
        "qualtRics__GET_surveys__list.json",
        "CambridgeEducation__GET_surveys__list_pagination_nextPage.json",
        "CambridgeEducation__GET_survey-definitions_questions_QID1.json",
        "CambridgeEducation__GET_survey-definitions_questions__list_trimmed.json",
        "CambridgeEducation__error-responses.json",
        "CambridgeEducation__eventsubscriptions_create-get-list-delete.json",
        "kyma-connector-tools__DELETE_API_v3_eventsubscriptions.json",
        "kyma-connector-tools__GET_API_v3_eventsubscriptions.json",
        "kyma-connector-tools__POST_API_v3_eventsubscriptions.json",
        "kyma-connector-tools__webhook_completedResponse_decoded.json",
        "kyma-connector-tools__webhook_completedResponse_form-urlencoded_with-HMAC.txt",
        "qualtRics__GET_survey-definitions_SV_3gbwq8aJgqPwQDP.json",
        "qualtRics__GET_surveys_SV_3gbwq8aJgqPwQDP__legacy-get-survey.json",
        "qualtRics__GET_surveys_SV_56icaa9YAafpAqx__legacy-get-survey_NPS_MAVR.json",
        "qualtRics__GET_surveys_SV_5BJRo2RGHajIlOB__legacy-get-survey_matrix.json",
        "qualtRics__GET_surveys_SV_6s93xhVtm1e4j3v__legacy-get-survey_many-question-types.json",
        "SOURCES.md",
        # Export payloads belong to sandbox part 2 (export-responses is not served yet).
        "qualtRics__export-responses_file_SV_56icaa9YAafpAqx_csv_NPS_MAVR.csv",
        "qualtRics__export-responses_file_SV_6s93xhVtm1e4j3v_csv_many-question-types.csv",
        "qualtRics__export-responses_lifecycle_start-progress-file.json",
    }
    assert {p.name for p in RECORDED.iterdir()} <= covered, "a new recording needs a contract test"


def test_survey_list_matches(control: httpx.Client, admin: httpx.Client, brand: dict[str, Any]) -> None:
    load(control, brand["adminUserId"], small_survey())
    assert_same_shape(recorded("qualtRics__GET_surveys__list.json"), admin.get("/surveys/").json())


def test_survey_list_pages_match(control: httpx.Client, admin: httpx.Client, brand: dict[str, Any]) -> None:
    cassette = recorded("CambridgeEducation__GET_surveys__list_pagination_nextPage.json")
    first, last = next(iter(cassette["cassettes"].values()))
    for _ in range(101):
        load(control, brand["adminUserId"], small_survey())
    page = admin.get("/surveys").json()
    assert_same_shape(first["response_body"], page)
    next_page = urlsplit(page["result"]["nextPage"])
    assert_same_shape(last["response_body"], admin.get(f"/surveys?{next_page.query}").json())


def test_single_question_matches(sandbox: SandboxServer, control: httpx.Client, brand: dict[str, Any]) -> None:
    cassette = recorded("CambridgeEducation__GET_survey-definitions_questions_QID1.json")
    question = cassette["response_body"]["result"]
    definition = b.survey("Contract", [copy.deepcopy(question)])
    survey_id = load(control, brand["adminUserId"], definition)
    with proxied(sandbox, brand["adminToken"]) as client:
        body = client.get(f"/survey-definitions/{survey_id}/questions/QID1").json()
    assert_same_shape(cassette["response_body"], body)
    assert body["result"] == question


def test_question_list_matches(sandbox: SandboxServer, control: httpx.Client, brand: dict[str, Any]) -> None:
    cassette = recorded("CambridgeEducation__GET_survey-definitions_questions__list_trimmed.json")
    elements = cassette["response_body"]["result"]["elements"]
    survey_id = load(control, brand["adminUserId"], b.survey("Contract", copy.deepcopy(elements)))
    with proxied(sandbox, brand["adminToken"]) as client:
        body = client.get(f"/survey-definitions/{survey_id}/questions").json()
    assert_same_shape(cassette["response_body"], body)
    assert body["result"]["elements"] == elements


def test_survey_definition_matches(control: httpx.Client, admin: httpx.Client, brand: dict[str, Any]) -> None:
    payload = recorded("qualtRics__GET_survey-definitions_SV_3gbwq8aJgqPwQDP.json")
    survey_id = load(control, brand["adminUserId"], copy.deepcopy(payload["result"]))
    assert_same_shape(payload, admin.get(f"/survey-definitions/{survey_id}/").json())


def test_legacy_get_survey_matches_for_the_same_survey(
    control: httpx.Client, admin: httpx.Client, brand: dict[str, Any]
) -> None:
    definition = recorded("qualtRics__GET_survey-definitions_SV_3gbwq8aJgqPwQDP.json")["result"]
    survey_id = load(control, brand["adminUserId"], copy.deepcopy(definition))
    legacy = recorded("qualtRics__GET_surveys_SV_3gbwq8aJgqPwQDP__legacy-get-survey.json")
    assert_same_shape(legacy, admin.get(f"/surveys/{survey_id}").json(), LEGACY_MAPS)


@pytest.mark.parametrize(
    "name",
    [
        "qualtRics__GET_surveys_SV_56icaa9YAafpAqx__legacy-get-survey_NPS_MAVR.json",
        "qualtRics__GET_surveys_SV_5BJRo2RGHajIlOB__legacy-get-survey_matrix.json",
        "qualtRics__GET_surveys_SV_6s93xhVtm1e4j3v__legacy-get-survey_many-question-types.json",
    ],
)
def test_legacy_get_survey_matches_for_the_demo_screener(
    name: str, control: httpx.Client, admin: httpx.Client, brand: dict[str, Any]
) -> None:
    survey_id = load(control, brand["adminUserId"], screener("SV_contractScreen1", None))
    assert_same_shape(recorded(name), admin.get(f"/surveys/{survey_id}").json(), LEGACY_MAPS)


def test_error_responses_match(
    sandbox: SandboxServer, control: httpx.Client, admin: httpx.Client, brand: dict[str, Any]
) -> None:
    from .conftest import make_user

    _, token = make_user(admin, brand, "Outside Collaborator")
    hidden = load(control, brand["adminUserId"], small_survey())
    served = 0
    for case in recorded("CambridgeEducation__error-responses.json")["responses"]:
        path = urlsplit(case["uri"]).path.removeprefix("/API/v3")
        body = case["response_body"]
        if "error" not in body["meta"]:
            continue  # the 2016-era envelope; the sandbox answers in the current one
        if path.startswith("/eventsubscriptions/"):
            with proxied(sandbox, brand["adminToken"]) as client:
                reply = client.get(path)
        elif path.startswith("/survey-definitions/"):
            with proxied(sandbox, token) as client:
                reply = client.get(f"/survey-definitions/{hidden}/questions")
        elif path.startswith("/surveys/"):
            reply = admin.get(path)
        else:
            continue  # distributions and mailing lists are not served
        served += 1
        assert reply.status_code == case["status"], path
        assert_same_shape(body, reply.json())
        assert reply.json()["meta"]["error"]["errorCode"] == body["meta"]["error"]["errorCode"]
    assert served == 4


def test_event_subscription_calls_match(control: httpx.Client, sandbox: SandboxServer, brand: dict[str, Any]) -> None:
    cassettes = recorded("CambridgeEducation__eventsubscriptions_create-get-list-delete.json")["cassettes"]
    client = httpx.Client(base_url=sandbox.url, headers={"X-API-TOKEN": brand["adminToken"]})
    last_id = ""
    with client:
        for name in sorted(cassettes, key=lambda n: "delete" in n):
            for step in cassettes[name]:
                path = urlsplit(step["uri"]).path
                if step["method"] == "POST":
                    # No response fires, so the recorded (non-local) URL is never called.
                    reply = client.post(path, json=step["request_body"])
                    last_id = reply.json()["result"]["id"]
                else:
                    if path.rstrip("/") != "/API/v3/eventsubscriptions":
                        path = f"/API/v3/eventsubscriptions/{last_id}"
                        if name.endswith("_delete.yml") and step["method"] == "GET" and step["status"] == 200:
                            last_id = client.post(
                                "/API/v3/eventsubscriptions",
                                json={
                                    "topics": "controlpanel.activateSurvey",
                                    "publicationUrl": "https://requestb.in/x",
                                    "encrypt": False,
                                },
                            ).json()["result"]["id"]
                            path = f"/API/v3/eventsubscriptions/{last_id}"
                    reply = client.request(step["method"], path)
                assert reply.status_code == step["status"], (name, step["method"], path)
                assert_same_shape(step["response_body"], reply.json())


def test_kyma_subscription_payloads_match(admin: httpx.Client) -> None:
    created = admin.post(
        "/eventsubscriptions",
        json={
            "topics": "surveyengine.completedResponse.*",
            "publicationUrl": "http://127.0.0.1:9/none",
            "encrypt": False,
        },
    )
    assert_same_shape(recorded("kyma-connector-tools__POST_API_v3_eventsubscriptions.json"), created.json())
    assert_same_shape(
        recorded("kyma-connector-tools__GET_API_v3_eventsubscriptions.json"), admin.get("/eventsubscriptions").json()
    )
    deleted = admin.delete(f"/eventsubscriptions/{created.json()['result']['id']}")
    assert_same_shape(recorded("kyma-connector-tools__DELETE_API_v3_eventsubscriptions.json"), deleted.json())
    assert set(deleted.json()) == {"meta"}


def test_webhook_body_matches(control: httpx.Client, admin: httpx.Client, brand: dict[str, Any]) -> None:
    sample = recorded("kyma-connector-tools__webhook_completedResponse_decoded.json")
    raw = recorded("kyma-connector-tools__webhook_completedResponse_form-urlencoded_with-HMAC.txt")
    receiver = Receiver()
    try:
        survey_id = load(control, brand["adminUserId"], small_survey())
        admin.post(
            "/eventsubscriptions",
            json={
                "topics": f"surveyengine.completedResponse.{survey_id}",
                "publicationUrl": receiver.url,
                "sharedKey": "kyma4ever",
            },
        )
        respond(control, survey_id, values={"QID1": 1})
        [form] = receiver.wait_for(1)
    finally:
        receiver.close()
    assert_same_shape(sample["form"], form)
    assert_same_shape(sample["MSG_parsed"], json.loads(form["MSG"]))
    assert list(json.loads(form["MSG"])) == list(sample["MSG_parsed"])
    recorded_fields = {k for k in parse_qs(raw.strip(), keep_blank_values=True) if k != "undefined"}
    assert recorded_fields <= set(form)
    assert len(form["HMAC"]) == len(sample["form"]["HMAC"]) == 128
