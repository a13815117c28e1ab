"""Export options Qualtrics documents: implemented, or refused with a 400 naming them."""

from __future__ import annotations

import json
from typing import Any

import httpx

from qualtrics_sandbox import builders as b
from qualtrics_sandbox.seed import screener
from qualtrics_sandbox.testing import SandboxServer

from .conftest import api
from .exporting import export, responses, start, table
from .test_responses import SCREENER_ANSWERS, respond
from .test_surveys import load, small_survey


def randomized_survey() -> dict[str, Any]:
    """QID1's choices are shuffled; a randomizer shows one of two blocks."""
    first = b.multiple_choice("QID1", "Pick one", ["A", "B", "C"])
    first["Randomization"] = {"Advanced": None, "TotalRandSubset": "", "Type": "All"}
    first["Validation"]["Settings"]["ForceResponse"] = "ON"
    definition = b.survey("Random", [first], embedded=["rallyParticipantId"])
    for qid, block in (("QID2", "BL_a"), ("QID3", "BL_b")):
        definition["Questions"][qid] = b.text_entry(qid, f"In {block}")
        definition["Blocks"][block] = {
            "Type": "Standard",
            "Description": block,
            "ID": block,
            "BlockElements": [{"Type": "Question", "QuestionID": qid}],
        }
    flow = definition["SurveyFlow"]["Flow"]
    flow.insert(
        -1,
        {
            "Type": "BlockRandomizer",
            "FlowID": "FL_9",
            "SubSet": "1",
            "EvenPresentation": True,
            "Flow": [
                {"Type": "Block", "ID": "BL_a", "FlowID": "FL_10"},
                {"Type": "Block", "ID": "BL_b", "FlowID": "FL_11"},
            ],
        },
    )
    return definition


def test_booleans_must_be_json_booleans(control: httpx.Client, admin: httpx.Client, brand: dict[str, Any]) -> None:
    survey_id = load(control, brand["adminUserId"], small_survey())
    for key in ("useLabels", "compress", "includeDisplayOrder", "sortByLastModifiedDate", "breakoutSets"):
        reply = start(admin, survey_id, format="csv", **{key: "false"})
        assert reply.status_code == 400, key
        assert key in reply.json()["meta"]["error"]["errorMessage"]


def test_options_the_sandbox_does_not_implement_are_refused_by_name(
    control: httpx.Client, admin: httpx.Client, brand: dict[str, Any]
) -> None:
    survey_id = load(control, brand["adminUserId"], small_survey())
    for body, name in (
        ({"format": "csv", "filterId": "9b67fbb7-ef89-430d-8ddf-f17f44de9254"}, "filterId"),
        ({"format": "spss"}, "spss"),
        ({"format": "xml"}, "xml"),
        ({"format": "json", "includeLabelColumns": True}, "includeLabelColumns"),
        ({"format": "json", "formatDecimalAsComma": True}, "formatDecimalAsComma"),
        ({"format": "csv", "questionIds": ["QID99"]}, "QID99"),
        ({"format": "csv", "surveyMetadataIds": ["browser"]}, "browser"),
        ({"format": "csv", "embeddedDataIds": ["nope"]}, "nope"),
        ({"format": "csv", "useLabels": True, "includeLabelColumns": True}, "includeLabelColumns"),
        ({"format": "csv", "seenUnansweredRecode": "-99"}, "seenUnansweredRecode"),
        ({}, "format"),
    ):
        reply = admin.post(f"/surveys/{survey_id}/export-responses", json=body)
        assert reply.status_code == 400, body
        assert name in reply.json()["meta"]["error"]["errorMessage"], body


def test_display_order_shows_what_each_respondent_saw(
    control: httpx.Client, admin: httpx.Client, brand: dict[str, Any]
) -> None:
    survey_id = load(control, brand["adminUserId"], randomized_survey())
    respond(control, survey_id, count=30, seed=5)
    plain = responses(admin, survey_id)
    assert all("QID1_DO" not in r["values"] for r in plain)
    found = responses(admin, survey_id, includeDisplayOrder=True)
    orders = {tuple(r["values"]["QID1_DO"]) for r in found}
    assert all(sorted(o) == ["1", "2", "3"] for o in orders) and len(orders) > 1
    for r in found:
        assert r["labels"]["QID1_DO"] == [{"1": "A", "2": "B", "3": "C"}[c] for c in r["values"]["QID1_DO"]]
        [block] = r["values"]["FL_9_DO"]
        answered = {"FL_10": "QID2_TEXT", "FL_11": "QID3_TEXT"}
        assert answered[{"FL_10": "FL_11", "FL_11": "FL_10"}[block]] not in r["values"]
    _, data = export(admin, survey_id, format="csv", includeDisplayOrder=True)
    rows = table(data)
    at = rows[0].index("Q1_DO_1")
    assert json.loads(rows[2][at]) == {"ImportId": "QID1_DO", "choiceId": "1"}
    assert sorted(rows[3][at : at + 3]) == ["1", "2", "3"]
    assert rows[3][rows[0].index("FL_9_DO")] in ("FL_10", "FL_11")
    _, joined = export(admin, survey_id, format="csv", includeDisplayOrder=True, breakoutSets=False)
    assert table(joined)[3][table(joined)[0].index("Q1_DO")].count("|") == 2


def test_label_columns_newlines_decimals_and_breakout_sets(
    control: httpx.Client, admin: httpx.Client, brand: dict[str, Any]
) -> None:
    survey_id = load(control, brand["adminUserId"], screener("SV_exportOptions01", None))
    answers = {**SCREENER_ANSWERS, "QID5_TEXT": "line one\nline two"}
    respond(control, survey_id, values=answers)
    _, data = export(
        admin, survey_id, format="csv", includeLabelColumns=True, newlineReplacement=" / ", formatDecimalAsComma=True
    )
    rows = table(data)
    imports = [json.loads(c) for c in rows[2]]
    at = imports.index({"ImportId": "QID1"})
    assert imports[at + 1] == {"ImportId": "QID1", "IsLabelsColumn": True}
    assert rows[3][at : at + 2] == ["3", "Every month"]
    assert rows[3][rows[0].index("Q5")] == "line one / line two"
    assert rows[3][rows[0].index("Q7_2")] == "3,5"
    _, data = export(admin, survey_id, format="tsv", breakoutSets=False)
    rows = table(data, delimiter="\t")
    assert "Q2_1" not in rows[0] and rows[3][rows[0].index("Q2")] == "1,4"


def test_seen_but_unanswered_questions_get_the_recode(
    control: httpx.Client, admin: httpx.Client, brand: dict[str, Any]
) -> None:
    definition = b.survey(
        "Optional",
        [
            b.multiple_choice("QID1", "One", ["A", "B"]),
            b.multiple_choice("QID2", "Many", ["X", "Y"], "MAVR"),
            b.text_entry("QID3", "Why?"),
        ],
    )
    survey_id = load(control, brand["adminUserId"], definition)
    respond(control, survey_id, values={"QID2": ["1"]})
    _, data = export(admin, survey_id, format="csv", seenUnansweredRecode=-99, multiselectSeenUnansweredRecode=0)
    row = dict(zip(table(data)[0], table(data)[3], strict=True))
    assert row["Q1"] == "-99" and row["Q2_1"] == "1" and row["Q2_2"] == "0" and row["Q3"] == ""
    [element] = responses(admin, survey_id, seenUnansweredRecode=-99)
    assert element["values"]["QID1"] == -99 and "QID3_TEXT" not in element["values"]


def test_json_dates_follow_the_time_zone(control: httpx.Client, admin: httpx.Client, brand: dict[str, Any]) -> None:
    survey_id = load(control, brand["adminUserId"], small_survey())
    respond(control, survey_id, values={"QID1": 1}, recordedDate="2024-06-01T12:00:00Z")
    [element] = responses(admin, survey_id, timeZone="America/Denver")
    assert element["values"]["recordedDate"] == "2024-06-01T06:00:00.000-06:00"


def test_an_anonymised_survey_records_no_ip_location_or_contact(
    control: httpx.Client, admin: httpx.Client, brand: dict[str, Any]
) -> None:
    definition = small_survey()
    definition["SurveyOptions"]["AnonymizeResponse"] = "Yes"
    survey_id = load(control, brand["adminUserId"], definition)
    respond(control, survey_id, values={"QID1": 1})
    [element] = responses(admin, survey_id)
    assert not {"ipAddress", "locationLatitude", "locationLongitude"} & set(element["values"])
    _, data = export(admin, survey_id, format="csv")
    # The recorded anonymised export has exactly these 10 metadata columns.
    assert table(data)[0][:10] == [
        "StartDate",
        "EndDate",
        "Status",
        "Progress",
        "Duration (in seconds)",
        "Finished",
        "RecordedDate",
        "ResponseId",
        "DistributionChannel",
        "UserLanguage",
    ]


def test_response_types_and_channels_beyond_anonymous(
    control: httpx.Client, admin: httpx.Client, brand: dict[str, Any]
) -> None:
    survey_id = load(control, brand["adminUserId"], small_survey())
    mix = {"anonymous": 1, "email": 1, "social": 1, "preview": 1, "test": 1, "spam": 1}
    respond(control, survey_id, count=120, seed=2, responseTypes=mix)
    found = responses(admin, survey_id)
    pairs = {(r["values"]["distributionChannel"], r["values"]["status"], r["labels"]["status"]) for r in found}
    assert pairs == {
        ("anonymous", 0, "IP Address"),
        ("email", 0, "IP Address"),
        ("social", 0, "IP Address"),
        ("preview", 1, "Survey Preview"),
        ("test", 2, "Survey Test"),
        ("anonymous", 8, "Spam"),
    }
    for r in found:
        channel = r["values"]["distributionChannel"]
        assert ("recipientEmail" in r["values"]) == (channel == "email")
        assert ("ipAddress" in r["values"]) == (channel not in ("preview", "test"))
    assert respond(control, survey_id, values={}, responseType="carrier-pigeon").status_code == 400


def test_text_iq_columns_start_with_the_question_id() -> None:
    with SandboxServer(textiq=True) as server, httpx.Client(base_url=f"{server.url}/_sandbox") as control:
        brand = control.post("/brands", json={}).json()
        survey_id = load(control, brand["adminUserId"], small_survey())
        respond(control, survey_id, values={"QID1": 1, "QID2_TEXT": "fresh and quick"})
        with api(server, brand["adminToken"]) as client:
            _, data = export(client, survey_id, format="csv")
            [element] = responses(client, survey_id)
    rows = table(data)
    analytics = [json.loads(c)["ImportId"] for c in rows[2] if json.loads(c)["ImportId"].startswith("QID2_TEXT_")]
    assert len(analytics) == 7 and any(i.endswith("Sentiment") for i in analytics)
    assert element["values"][next(i for i in analytics if i.endswith("Sentiment"))] == "Positive"


def test_the_response_schema_lists_every_values_key_with_its_type(
    control: httpx.Client, admin: httpx.Client, brand: dict[str, Any]
) -> None:
    survey_id = load(control, brand["adminUserId"], screener("SV_schemaScreener1", None))
    [rid] = respond(control, survey_id, values=SCREENER_ANSWERS, embeddedData={"rallyParticipantId": "P1"}).json()[
        "responseIds"
    ]
    schema = admin.get(f"/surveys/{survey_id}/response-schema").json()["result"]
    assert schema["$schema"] == "https://json-schema.org/draft/2019-09/schema" and schema["type"] == "object"
    properties = schema["properties"]["values"]["properties"]
    values = admin.get(f"/surveys/{survey_id}/responses/{rid}").json()["result"]["values"]
    python = {"string": str, "integer": int, "number": (int, float), "array": list}
    for key, value in values.items():
        assert key in properties, key
        assert isinstance(value, python[properties[key]["type"]]), key  # type: ignore[arg-type]
    assert (
        properties["QID1"]["dataType"] == "question" and properties["rallyParticipantId"]["dataType"] == "embeddedData"
    )
    assert {"const": 3, "label": "Every month"} in properties["QID1"]["oneOf"]
    assert set(schema["properties"]["values"]["required"]) <= set(values)
