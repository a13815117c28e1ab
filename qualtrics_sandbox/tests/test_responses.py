from __future__ import annotations

import random
from typing import Any

import httpx

from qualtrics_sandbox import builders as b
from qualtrics_sandbox.seed import screener
from qualtrics_sandbox.testing import SandboxServer

from .conftest import api, make_user
from .test_surveys import load

SCREENER_ANSWERS: dict[str, Any] = {
    "QID1": 3,  # recode 3 = choice 2, "Every month"
    "QID2": ["1", "4"],
    "QID2_4_TEXT": "Smartwatch",
    "QID3": 2,
    "QID4_TEXT": "Researcher",
    "QID5_TEXT": "It went <fine>.",
    "QID6_1": "2",
    "QID6_2": "1",
    "QID6_3": "0",
    "QID7_1": 7,
    "QID7_2": 3.5,
    "QID8_1": 2,
    "QID8_2": 1,
    "QID8_3": 4,
    "QID8_4": 3,
    "QID9": 8,
    "QID10_1": 4,
    "QID10_2": 5,
    "QID10_3": 1,
    "QID12_1": 1,  # Germany
    "QID12_2": 2,  # Berlin
    "QID12_3": 3,  # Mitte
}


def respond(control: httpx.Client, survey_id: str, **body: Any) -> httpx.Response:
    return control.post(f"/surveys/{survey_id}/respond", json=body)


def test_a_screener_response_is_keyed_like_qualtrics(
    control: httpx.Client, admin: httpx.Client, brand: dict[str, Any]
) -> None:
    survey_id = load(control, brand["adminUserId"], screener("SV_screenerTest01", None))
    reply = respond(
        control,
        survey_id,
        values=SCREENER_ANSWERS,
        embeddedData={"rallyParticipantId": "P123", "notDeclared": "x"},
        finished=True,
    )
    assert reply.status_code == 200, reply.text
    [response_id] = reply.json()["responseIds"]
    result = admin.get(f"/surveys/{survey_id}/responses/{response_id}").json()["result"]
    assert set(result) == {"responseId", "values", "labels", "displayedFields", "displayedValues"}
    values, labels = result["values"], result["labels"]
    assert result["responseId"] == response_id
    assert values["QID1"] == 3 and labels["QID1"] == "Every month"
    assert values["QID2"] == ["1", "4"] and labels["QID2"] == ["Phone", "Other, please specify"]
    assert values["QID2_4_TEXT"] == "Smartwatch"
    assert values["QID3"] == 2 and labels["QID3"] == "South"
    assert values["QID4_TEXT"] == "Researcher"
    assert values["QID6_1"] == "2"
    assert values["QID7_2"] == 3.5
    assert [values[f"QID8_{i}"] for i in range(1, 5)] == [2, 1, 4, 3]
    assert values["QID9"] == 8 and values["QID9_NPS_GROUP"] == 2
    assert labels["QID9_NPS_GROUP"] == "Passive"
    assert values["QID10_2"] == 5 and labels["QID10_2"] == "Very satisfied"
    assert values["rallyParticipantId"] == "P123"
    assert "notDeclared" not in values
    for key, expected in {
        "status": 0,
        "progress": 100,
        "finished": 1,
        "_recordId": response_id,
        "distributionChannel": "anonymous",
        "userLanguage": "EN",
    }.items():
        assert values[key] == expected
    assert {"startDate", "endDate", "recordedDate", "duration", "ipAddress"} <= set(values)
    assert labels["finished"] == "True"
    assert "QID11_TEXT" not in result["displayedFields"]
    assert {"QID1", "QID9_NPS_GROUP", "QID4_TEXT", "QID7_1", "QID8_4", "QID10_3"} <= set(result["displayedFields"])
    assert result["displayedValues"]["QID1"] == [4, 3, 2, 1]


def test_nps_groups_follow_the_score(control: httpx.Client, admin: httpx.Client, brand: dict[str, Any]) -> None:
    survey_id = load(control, brand["adminUserId"], b.survey("NPS", [b.nps("QID1", "Recommend?")]))
    for score, group, label in [
        (0, 1, "Detractor"),
        (6, 1, "Detractor"),
        (7, 2, "Passive"),
        (9, 3, "Promoter"),
        (10, 3, "Promoter"),
    ]:
        [rid] = respond(control, survey_id, values={"QID1": score}).json()["responseIds"]
        result = admin.get(f"/surveys/{survey_id}/responses/{rid}").json()["result"]
        assert result["values"]["QID1_NPS_GROUP"] == group
        assert result["labels"]["QID1_NPS_GROUP"] == label


def test_it_refuses_values_that_do_not_fit_the_definition(control: httpx.Client, brand: dict[str, Any]) -> None:
    survey_id = load(control, brand["adminUserId"], screener("SV_screenerTest02", None))
    for bad in [
        {"QID1": 9},
        {"QID2": ["7"]},
        {"QID8_1": 1, "QID8_2": 1, "QID8_3": 2, "QID8_4": 3},
        {"QID7_1": 11},
        {"QID9": 11},
        {"QID11_TEXT": "trashed"},
        {"nonsense": 1},
    ]:
        reply = respond(control, survey_id, values=bad)
        assert reply.status_code == 400, bad


def test_a_partial_response_is_unfinished(control: httpx.Client, admin: httpx.Client, brand: dict[str, Any]) -> None:
    survey_id = load(control, brand["adminUserId"], screener("SV_screenerTest03", None))
    [rid] = respond(control, survey_id, values={"QID1": 4}, finished=False).json()["responseIds"]
    values = admin.get(f"/surveys/{survey_id}/responses/{rid}").json()["result"]["values"]
    assert values["finished"] == 0
    assert 0 < values["progress"] < 100


def test_a_collaborator_without_result_permission_cannot_read_responses(
    sandbox: SandboxServer, control: httpx.Client, admin: httpx.Client, brand: dict[str, Any]
) -> None:
    user_id, token = make_user(admin, brand, "Edit Only")
    survey_id = load(control, brand["adminUserId"], screener("SV_screenerTest04", None))
    control.post(
        f"/surveys/{survey_id}/share",
        json={"userId": user_id, "permissions": {"surveyManagement": {"editSurveys": True}}},
    )
    [rid] = respond(control, survey_id, values={"QID1": 4}, finished=False).json()["responseIds"]
    with api(sandbox, token) as client:
        assert client.get(f"/surveys/{survey_id}").status_code == 200
        reply = client.get(f"/surveys/{survey_id}/responses/{rid}")
        assert reply.status_code == 403
        assert reply.json()["meta"]["error"]["errorCode"]


def test_the_api_creates_and_deletes_responses(
    control: httpx.Client, admin: httpx.Client, brand: dict[str, Any]
) -> None:
    survey_id = load(control, brand["adminUserId"], screener("SV_screenerTest05", None))
    reply = admin.post(f"/surveys/{survey_id}/responses", json={"values": {"QID1": 1, "QID4_TEXT": "x"}})
    assert reply.status_code == 200, reply.text
    rid = reply.json()["result"]["responseId"]
    assert admin.get(f"/surveys/{survey_id}/responses/{rid}").status_code == 200
    deleted = admin.delete(f"/surveys/{survey_id}/responses/{rid}")
    assert deleted.status_code == 200 and set(deleted.json()) == {"meta"}
    assert admin.get(f"/surveys/{survey_id}/responses/{rid}").status_code == 404


# --- a survey generated at test time -----------------------------------------------------

KINDS = ["savr", "dl", "mavr", "sl", "essay", "form", "slider", "rank", "nps", "matrix"]


def random_survey(rng: random.Random, count: int) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """A definition, answers to it, and the values/labels expected back."""
    questions: list[dict[str, Any]] = []
    answers: dict[str, Any] = {}
    expected: dict[str, Any] = {}
    for n in range(1, count + 1):
        qid = f"QID{n}"
        kind = rng.choice(KINDS)
        options = [f"Option {n}.{i} <b>bold</b>" for i in range(1, rng.randint(2, 6))]
        if kind in ("savr", "dl"):
            recodes = {str(i): str(10 * i) for i in range(1, len(options) + 1)} if rng.random() < 0.5 else None
            questions.append(
                b.multiple_choice(
                    qid,
                    f"Q{n}",
                    options,
                    "SAVR" if kind == "savr" else "DL",
                    recodes=recodes,
                    int_order=rng.random() < 0.5,
                )
            )
            pick = rng.randint(1, len(options))
            answers[qid] = int(recodes[str(pick)]) if recodes else pick
            expected[qid] = (answers[qid], f"Option {n}.{pick} bold")
        elif kind == "mavr":
            questions.append(b.multiple_choice(qid, f"Q{n}", options, "MAVR", other=len(options)))
            picked = sorted(rng.sample(range(1, len(options) + 1), rng.randint(1, len(options))))
            answers[qid] = [str(p) for p in picked]
            expected[qid] = ([str(p) for p in picked], [f"Option {n}.{p} bold" for p in picked])
            if len(options) in picked:
                answers[f"{qid}_{len(options)}_TEXT"] = "other text"
                expected[f"{qid}_{len(options)}_TEXT"] = ("other text", None)
        elif kind in ("sl", "essay"):
            questions.append(b.text_entry(qid, f"Q{n}", "SL" if kind == "sl" else "ESTB"))
            answers[f"{qid}_TEXT"] = f"text {n}"
            expected[f"{qid}_TEXT"] = (f"text {n}", None)
        elif kind == "form":
            questions.append(b.form(qid, f"Q{n}", options))
            for i in range(1, len(options) + 1):
                answers[f"{qid}_{i}"] = f"field {i}"
                expected[f"{qid}_{i}"] = (f"field {i}", None)
        elif kind == "slider":
            questions.append(b.slider(qid, f"Q{n}", options, 0, 100))
            for i in range(1, len(options) + 1):
                answers[f"{qid}_{i}"] = rng.randint(0, 100)
                expected[f"{qid}_{i}"] = (answers[f"{qid}_{i}"], None)
        elif kind == "rank":
            questions.append(b.rank_order(qid, f"Q{n}", options))
            ranks = list(range(1, len(options) + 1))
            rng.shuffle(ranks)
            for i, rank in enumerate(ranks, start=1):
                answers[f"{qid}_{i}"] = rank
                expected[f"{qid}_{i}"] = (rank, None)
        elif kind == "nps":
            questions.append(b.nps(qid, f"Q{n}"))
            score = rng.randint(0, 10)
            answers[qid] = score
            expected[qid] = (score, str(score))
        else:
            columns = ["No", "Maybe", "Yes"]
            questions.append(b.matrix(qid, f"Q{n}", options, columns))
            for i in range(1, len(options) + 1):
                col = rng.randint(1, 3)
                answers[f"{qid}_{i}"] = col
                expected[f"{qid}_{i}"] = (col, columns[col - 1])
    return b.survey("Generated", questions, embedded=["pid"]), answers, expected


def test_a_generated_survey_loads_lists_fetches_and_answers(
    control: httpx.Client, admin: httpx.Client, brand: dict[str, Any]
) -> None:
    rng = random.Random(20240601)
    for _ in range(5):
        definition, answers, expected = random_survey(rng, rng.randint(3, 12))
        survey_id = load(control, brand["adminUserId"], definition)
        assert survey_id in {s["id"] for s in admin.get("/surveys").json()["result"]["elements"]}
        served = admin.get(f"/survey-definitions/{survey_id}").json()["result"]
        assert served["Questions"] == definition["Questions"]
        legacy = admin.get(f"/surveys/{survey_id}").json()["result"]
        assert set(legacy["questions"]) == set(definition["Questions"])
        reply = respond(control, survey_id, values=answers, embeddedData={"pid": "abc"})
        assert reply.status_code == 200, reply.text
        [rid] = reply.json()["responseIds"]
        result = admin.get(f"/surveys/{survey_id}/responses/{rid}").json()["result"]
        for key, (value, label) in expected.items():
            assert result["values"][key] == value, key
            if label is not None:
                assert result["labels"][key] == label, key
        assert result["values"]["pid"] == "abc"
