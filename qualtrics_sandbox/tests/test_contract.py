"""The sandbox's answers have the envelope, keys and value types of recorded Qualtrics payloads."""

from __future__ import annotations

import copy
import json
import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from qualtrics_sandbox import builders as b
from qualtrics_sandbox.seed import screener
from qualtrics_sandbox.testing import SandboxServer

from .conftest import RECORDED, api, missing, recorded
from .exporting import export, table
from .shapes import assert_same_shape
from .test_responses import SCREENER_ANSWERS, respond
from .test_surveys import load, small_survey
from .test_webhooks import Receiver

LEGACY_MAPS = frozenset({"$.result.exportColumnMap"})


def proxied(sandbox: SandboxServer, token: str) -> httpx.Client:
    """CambridgeEducation's recordings went through a non-home host and carry meta.notice."""
    return api(sandbox, token, host=f"localhost:{sandbox.port}")


def test_the_recorded_folder_is_listed_completely() -> None:
    if not RECORDED.is_dir():
        missing(f"recorded Qualtrics payloads not found at {RECORDED}")
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


def test_the_recorded_export_life_cycle_matches(
    control: httpx.Client, admin: httpx.Client, brand: dict[str, Any]
) -> None:
    steps = recorded("qualtRics__export-responses_lifecycle_start-progress-file.json")["steps"]
    definition = recorded("qualtRics__GET_survey-definitions_SV_3gbwq8aJgqPwQDP.json")["result"]
    survey_id = load(control, brand["adminUserId"], copy.deepcopy(definition))
    # QID63 is forced too, in the block before; QID18 (display logic on QID17) is optional.
    respond(control, survey_id, values={"QID63": 1, "QID16": 4, "QID17": 1}, recordedDate="2020-03-01T10:00:00Z")
    started = admin.post(f"/surveys/{survey_id}/export-responses/", json=steps[0]["request_body"])
    assert started.status_code == steps[0]["status"], started.text
    assert_same_shape(steps[0]["response_body"], started.json())
    assert started.json()["result"] == {**steps[0]["response_body"]["result"], "progressId": ANY}
    progress_id = started.json()["result"]["progressId"]
    polls = [admin.get(f"/surveys/{survey_id}/export-responses/{progress_id}").json()]
    while polls[-1]["result"]["status"] == "inProgress":
        polls.append(admin.get(f"/surveys/{survey_id}/export-responses/{progress_id}").json())
    assert len(polls) > 1, "a client should meet inProgress at least once"
    assert_same_shape(steps[1]["response_body"], polls[0])
    assert set(polls[0]["result"]) == set(steps[1]["response_body"]["result"])
    assert_same_shape(steps[6]["response_body"], polls[-1])
    assert set(polls[-1]["result"]) == set(steps[6]["response_body"]["result"])
    file_id = polls[-1]["result"]["fileId"]
    download = admin.get(f"/surveys/{survey_id}/export-responses/{file_id}/file")
    assert download.headers["content-type"] == steps[7]["response_content_type"]
    _, data = export(admin, survey_id, **steps[0]["request_body"])
    rows = table(data)
    assert rows[0] == ["StartDate", "EndDate", "ResponseId", "Q16", "Q17", "SolutionRevision"]
    assert json.loads(rows[2][0]) == {"ImportId": "startDate", "timeZone": "America/Denver"}
    assert rows[3][:3] == ["2020-03-01 02:59:00", "2020-03-01 03:00:00", rows[3][2]]
    assert rows[3][3:5] == ["Somewhat satisfied", "Yes"]


class _Any:
    def __eq__(self, other: object) -> bool:
        return True


ANY = _Any()


def _kind(import_id: dict[str, str]) -> str:
    """A column's keying pattern, with ids abstracted: QIDn, QIDn_TEXT, QIDn_c_TEXT, QIDn+choiceId, ..."""
    key = re.sub(r"QID\d+", "QID", import_id["ImportId"])
    key = re.sub(r"_\d+", "_c", key)
    return key + ("+choiceId" if "choiceId" in import_id else "") + ("+timeZone" if "timeZone" in import_id else "")


@pytest.mark.parametrize(
    "name",
    [
        "qualtRics__export-responses_file_SV_56icaa9YAafpAqx_csv_NPS_MAVR.csv",
        "qualtRics__export-responses_file_SV_6s93xhVtm1e4j3v_csv_many-question-types.csv",
    ],
)
def test_the_csv_export_has_the_recorded_header_rows(
    name: str, control: httpx.Client, admin: httpx.Client, brand: dict[str, Any]
) -> None:
    recorded_rows = table(recorded(name).encode())
    survey_id = load(control, brand["adminUserId"], screener("SV_contractCsv0001", None))
    respond(control, survey_id, values=SCREENER_ANSWERS, embeddedData={"rallyParticipantId": "P1"})
    _, data = export(admin, survey_id, format="csv", useLabels=True)
    rows = table(data)
    ours = [json.loads(c) for c in rows[2]]
    theirs = [json.loads(c) for c in recorded_rows[2]]
    # Metadata columns: same export tags, texts and keys, in the recorded order.
    recorded_meta = [
        (h, t, i["ImportId"]) for h, t, i in zip(*recorded_rows[:2], theirs, strict=False) if "QID" not in i["ImportId"]
    ]
    our_meta = [(h, t, i["ImportId"]) for h, t, i in zip(*rows[:2], ours, strict=False)]
    common = [m for m in recorded_meta if m in our_meta]
    assert common == [m for m in our_meta if m in common]
    assert len(common) >= 10
    # Question columns: every keying pattern the recording shows for our kinds is one we use too.
    recorded_kinds = {_kind(i) for i in theirs}
    our_kinds = {_kind(i) for i in ours if "QID" in i["ImportId"]}
    assert our_kinds & recorded_kinds
    assert our_kinds <= recorded_kinds | {"QID_NPS_GROUP", "QID_c_TEXT", "QID+choiceId", "QID_TEXT", "QID", "QID_c"}
    # Cells, in labels mode, look like the recorded ones.
    row = dict(zip(rows[0], rows[3], strict=True))
    recorded_row = dict(zip(recorded_rows[0], recorded_rows[3], strict=True))
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", row["StartDate"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", recorded_row["StartDate"])
    assert row["Finished"] in ("True", "False") and recorded_row["Finished"] in ("True", "False")
    statuses = {r[recorded_rows[0].index("Status")] for r in recorded_rows[3:]}
    assert row["Status"] == "IP Address" and statuses <= {"IP Address", "Survey Preview", "Survey Test", "Spam"}
    if "NPS" in name:
        texts = dict(zip(recorded_rows[0], recorded_rows[1], strict=True))
        assert texts["Q35_1"].endswith(" - Selected Choice - Ropes Course") and texts["Q35_7_TEXT"].endswith(
            " - Other - Text"
        )
        ours_text = dict(zip(rows[0], rows[1], strict=True))
        assert ours_text["Q2_1"].endswith(" - Selected Choice - Phone")
        assert ours_text["Q2_4_TEXT"].endswith(" - Other, please specify - Text")
        assert ours_text["Q9_NPS_GROUP"].endswith(" - Group") and texts["Q3.13_NPS_GROUP"].endswith(" - Group")
        assert data.count(b"\r\n") == len(rows)
