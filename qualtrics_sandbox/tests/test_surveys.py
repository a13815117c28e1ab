from __future__ import annotations

import copy
from typing import Any

import httpx

from qualtrics_sandbox import builders as b
from qualtrics_sandbox.testing import SandboxServer

from .conftest import api, make_user, recorded

OWNED = {"SurveyID", "BrandID", "OwnerID", "CreatorID", "BrandBaseURL", "SurveyStatus"}


def small_survey(name: str = "Small") -> dict[str, Any]:
    return b.survey(
        name,
        [b.multiple_choice("QID1", "Pick one", ["A", "B"]), b.text_entry("QID2", "Why?")],
        embedded=["rallyParticipantId"],
    )


def load(control: httpx.Client, owner_id: str, definition: dict[str, Any], active: bool = True) -> str:
    reply = control.post("/surveys", json={"ownerId": owner_id, "active": active, "definition": definition})
    assert reply.status_code == 200, reply.text
    survey_id: str = reply.json()["surveyId"]
    return survey_id


def test_a_user_lists_only_owned_or_shared_surveys(
    sandbox: SandboxServer, control: httpx.Client, admin: httpx.Client, brand: dict[str, Any]
) -> None:
    user_id, token = make_user(admin, brand, "Lister One")
    shared = load(control, brand["adminUserId"], small_survey("Shared"))
    hidden = load(control, brand["adminUserId"], small_survey("Hidden"))
    own = load(control, user_id, small_survey("Own"))
    assert control.post(f"/surveys/{shared}/share", json={"userId": user_id}).status_code == 200
    with api(sandbox, token) as client:
        result = client.get("/surveys").json()["result"]
        ids = [s["id"] for s in result["elements"]]
        assert ids == [shared, own]
        assert result["nextPage"] is None
        element = result["elements"][0]
        assert set(element) == {"id", "name", "ownerId", "lastModified", "creationDate", "isActive"}
        forbidden = client.get(f"/surveys/{hidden}")
        assert forbidden.status_code == 403
        assert forbidden.json()["meta"]["httpStatus"] == "403 - Forbidden"
        assert client.get(f"/survey-definitions/{hidden}").json()["meta"]["error"]["errorCode"] == "QMST_2.1"
        assert client.get("/surveys/SV_doesnotexist1234").json()["meta"]["error"]["errorCode"] == "GSI_2"


def test_an_owner_shares_through_the_collaborations_api(
    sandbox: SandboxServer, control: httpx.Client, admin: httpx.Client, brand: dict[str, Any]
) -> None:
    user_id, token = make_user(admin, brand, "Shared With")
    survey_id = load(control, brand["adminUserId"], small_survey())
    reply = admin.post(
        f"/surveys/{survey_id}/permissions/collaborations",
        json={"recipientId": user_id, "permissions": {"result": {"viewSurveyResults": True}}},
    )
    assert reply.status_code == 200, reply.text
    with api(sandbox, token) as client:
        assert client.get(f"/surveys/{survey_id}").status_code == 200
        # A collaborator cannot re-share.
        assert (
            client.post(
                f"/surveys/{survey_id}/permissions/collaborations", json={"userId": user_id, "permissions": {}}
            ).status_code
            == 403
        )


def test_surveys_page_by_100_with_an_opaque_next_page(
    sandbox: SandboxServer, control: httpx.Client, admin: httpx.Client, brand: dict[str, Any]
) -> None:
    definition = small_survey("Many")
    made = [load(control, brand["adminUserId"], definition) for _ in range(205)]
    seen: list[str] = []
    url: str | None = "/surveys"
    pages = 0
    while url:
        result = admin.get(url).json()["result"]
        seen += [s["id"] for s in result["elements"]]
        assert len(result["elements"]) <= 100
        url = result["nextPage"]
        pages += 1
        if url:
            assert url.startswith(f"{sandbox.url}/API/v3/surveys")
            url = url.removeprefix(f"{sandbox.url}/API/v3")
    assert pages == 3
    assert seen == made


def test_put_survey_switches_is_active(control: httpx.Client, admin: httpx.Client, brand: dict[str, Any]) -> None:
    survey_id = load(control, brand["adminUserId"], small_survey(), active=False)
    assert admin.get(f"/surveys/{survey_id}").json()["result"]["isActive"] is False
    assert admin.get(f"/survey-definitions/{survey_id}").json()["result"]["SurveyStatus"] == "Inactive"
    assert admin.put(f"/surveys/{survey_id}", json={"isActive": True}).status_code == 200
    assert admin.get(f"/surveys/{survey_id}").json()["result"]["isActive"] is True


def test_the_recorded_definition_comes_back_equal(
    sandbox: SandboxServer, control: httpx.Client, admin: httpx.Client, brand: dict[str, Any]
) -> None:
    original = recorded("qualtRics__GET_survey-definitions_SV_3gbwq8aJgqPwQDP.json")["result"]
    survey_id = load(control, brand["adminUserId"], copy.deepcopy(original))
    served = admin.get(f"/survey-definitions/{survey_id}/").json()["result"]
    assert {k: v for k, v in served.items() if k not in OWNED} == {k: v for k, v in original.items() if k not in OWNED}
    assert served["BrandID"] == brand["brandId"]
    assert served["OwnerID"] == brand["adminUserId"]
    assert served["BrandBaseURL"] == sandbox.url
    assert served["SurveyStatus"] == "Active"


def test_a_qsf_document_yields_the_same_questions(
    control: httpx.Client, admin: httpx.Client, brand: dict[str, Any]
) -> None:
    original = recorded("qualtRics__GET_survey-definitions_SV_3gbwq8aJgqPwQDP.json")["result"]
    first = load(control, brand["adminUserId"], copy.deepcopy(original))
    qsf = admin.get(f"/survey-definitions/{first}", params={"format": "qsf"}).json()["result"]
    assert {"SurveyEntry", "SurveyElements"} <= set(qsf)
    assert {e["Element"] for e in qsf["SurveyElements"]} >= {"SQ", "BL", "FL", "SO"}
    second = load(control, brand["adminUserId"], qsf)
    again = admin.get(f"/survey-definitions/{second}").json()["result"]
    assert again["Questions"] == original["Questions"]
    assert again["Blocks"] == original["Blocks"]
    assert again["SurveyFlow"] == original["SurveyFlow"]
    assert admin.get(f"/survey-definitions/{second}/questions").json()["result"]["elements"] == list(
        original["Questions"].values()
    )


def test_questions_can_be_fetched_one_by_one(control: httpx.Client, admin: httpx.Client, brand: dict[str, Any]) -> None:
    survey_id = load(control, brand["adminUserId"], small_survey())
    question = admin.get(f"/survey-definitions/{survey_id}/questions/QID2").json()["result"]
    assert question["QuestionType"] == "TE"
    assert admin.get(f"/survey-definitions/{survey_id}/questions/QID99").status_code == 404


def test_the_legacy_get_survey_skips_trashed_questions(
    control: httpx.Client, admin: httpx.Client, brand: dict[str, Any]
) -> None:
    original = recorded("qualtRics__GET_survey-definitions_SV_3gbwq8aJgqPwQDP.json")["result"]
    survey_id = load(control, brand["adminUserId"], copy.deepcopy(original))
    result = admin.get(f"/surveys/{survey_id}").json()["result"]
    legacy = recorded("qualtRics__GET_surveys_SV_3gbwq8aJgqPwQDP__legacy-get-survey.json")["result"]
    assert set(result["questions"]) == set(legacy["questions"])
    assert result["exportColumnMap"] == legacy["exportColumnMap"]
    assert result["embeddedData"] == legacy["embeddedData"]
    assert result["blocks"] == legacy["blocks"]
    assert result["flow"] == legacy["flow"]
    assert list(result["questions"]["QID16"]["choices"]) == ["5", "4", "3", "2", "1"]


def test_another_host_gets_a_proxied_notice(sandbox: SandboxServer, brand: dict[str, Any]) -> None:
    with api(sandbox, brand["adminToken"], host=f"localhost:{sandbox.port}") as client:
        meta = client.get("/whoami").json()["meta"]
    assert meta["notice"] == (
        f"Request proxied. For faster response times, use this host instead: 127.0.0.1:{sandbox.port}"
    )
    with api(sandbox, brand["adminToken"]) as client:
        assert "notice" not in client.get("/whoami").json()["meta"]


def test_unknown_api_paths_answer_in_the_error_envelope(admin: httpx.Client) -> None:
    reply = admin.get("/no-such-thing")
    assert reply.status_code == 404
    assert reply.json()["meta"]["httpStatus"] == "404 - Not Found"


def test_a_deleted_survey_is_not_found_by_any_call(
    sandbox: SandboxServer, control: httpx.Client, admin: httpx.Client, brand: dict[str, Any]
) -> None:
    survey = load(control, brand["adminUserId"], small_survey("Doomed"))
    assert control.post(f"/surveys/{survey}/respond", json={"values": {"QID1": 1}}).status_code == 200
    assert control.delete(f"/surveys/{survey}").status_code == 200
    with api(sandbox, brand["adminToken"]) as client:
        for method, path in (
            ("GET", f"/survey-definitions/{survey}"),
            ("POST", f"/surveys/{survey}/export-responses"),
        ):
            reply = client.request(method, path, json={"format": "json"} if method == "POST" else None)
            assert reply.status_code == 404, (path, reply.text)
        assert survey not in [s["id"] for s in client.get("/surveys").json()["result"]["elements"]]
    assert control.delete(f"/surveys/{survey}").status_code == 404
