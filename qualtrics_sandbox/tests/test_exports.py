from __future__ import annotations

import json
from typing import Any

import httpx

from qualtrics_sandbox.seed import screener

from .exporting import export, responses, start, table, wait
from .test_responses import SCREENER_ANSWERS, respond
from .test_surveys import load, small_survey


def screener_with_answers(control: httpx.Client, brand: dict[str, Any]) -> tuple[str, list[str]]:
    survey_id = load(control, brand["adminUserId"], screener("SV_exportScreener1", None))
    typed = respond(control, survey_id, values=SCREENER_ANSWERS, embeddedData={"rallyParticipantId": "P1"})
    many = respond(control, survey_id, count=4, embeddedData={"rallyParticipantId": "P{n}"}, seed=3)
    return survey_id, [*typed.json()["responseIds"], *many.json()["responseIds"]]


def test_every_format_agrees_with_the_single_response_fetch(
    control: httpx.Client, admin: httpx.Client, brand: dict[str, Any]
) -> None:
    survey_id, ids = screener_with_answers(control, brand)
    exported = responses(admin, survey_id)
    assert [r["responseId"] for r in exported] == ids
    for element in exported:
        single = admin.get(f"/surveys/{survey_id}/responses/{element['responseId']}").json()["result"]
        assert element == single
    _, lines = export(admin, survey_id, format="ndjson")
    assert [json.loads(line) for line in lines.decode().splitlines()] == exported
    _, csv_data = export(admin, survey_id, format="csv")
    _, tsv_data = export(admin, survey_id, format="tsv")
    rows = table(csv_data)
    assert rows == table(tsv_data, delimiter="\t")
    assert csv_data.count(b"\r\n") == len(rows)
    headers, import_ids = rows[0], [json.loads(cell) for cell in rows[2]]
    assert len(rows) == 3 + len(ids)
    first = dict(zip(headers, rows[3], strict=True))
    values = exported[0]["values"]
    assert first["ResponseId"] == ids[0] and first["shop_freq"] == str(values["QID1"]) == "3"
    assert first["Q2_1"] == "1" and first["Q2_2"] == "" and first["Q2_4_TEXT"] == "Smartwatch"
    assert first["Q9_NPS_GROUP"] == "2" and first["Q9"] == "8" and first["Q4"] == "Researcher"
    assert first["rallyParticipantId"] == "P1" and first["Finished"] == "1" and first["Status"] == "0"
    assert {"ImportId": "QID2", "choiceId": "4"} in import_ids
    assert {"ImportId": "QID9_NPS_GROUP"} in import_ids and {"ImportId": "QID4_TEXT"} in import_ids
    assert {"ImportId": "startDate", "timeZone": "Z"} in import_ids


def test_labels_replace_codes_when_asked(control: httpx.Client, admin: httpx.Client, brand: dict[str, Any]) -> None:
    survey_id, _ = screener_with_answers(control, brand)
    [first, *_] = responses(admin, survey_id, useLabels=True)
    assert first["values"]["QID1"] == "Every month" and first["values"]["QID9_NPS_GROUP"] == "Passive"
    _, data = export(admin, survey_id, format="csv", useLabels=True, timeZone="America/Denver")
    rows = table(data)
    row = dict(zip(rows[0], rows[3], strict=True))
    assert row["Status"] == "IP Address" and row["Finished"] == "True"
    assert row["Q2_1"] == "Phone" and row["Q2_4"] == "Other, please specify" and row["Q10_2"] == "Very satisfied"
    assert json.loads(rows[2][0]) == {"ImportId": "startDate", "timeZone": "America/Denver"}


def test_dates_limit_and_metadata_ids_narrow_the_export(
    control: httpx.Client, admin: httpx.Client, brand: dict[str, Any]
) -> None:
    survey_id = load(control, brand["adminUserId"], small_survey())
    for day in ("2024-01-01", "2024-02-01", "2024-03-01"):
        respond(control, survey_id, values={"QID1": 1}, recordedDate=f"{day}T12:00:00Z")
    window = responses(admin, survey_id, startDate="2024-01-15T00:00:00Z", endDate="2024-02-15T00:00:00+00:00")
    assert [r["values"]["recordedDate"] for r in window] == ["2024-02-01T12:00:00.000Z"]
    assert len(responses(admin, survey_id, limit=2)) == 2
    [narrow, *_] = responses(admin, survey_id, surveyMetadataIds=["_recordId"], questionIds=[])
    assert set(narrow["values"]) == {"_recordId"}
    _, data = export(admin, survey_id, format="csv", surveyMetadataIds=["_recordId"], questionIds=["QID2"])
    assert table(data)[0] == ["ResponseId", "Q2", "rallyParticipantId"]


def test_continuation_returns_exactly_what_was_recorded_since_the_last_export(
    control: httpx.Client, admin: httpx.Client, brand: dict[str, Any]
) -> None:
    survey_id = load(control, brand["adminUserId"], small_survey())
    other_survey = load(control, brand["adminUserId"], small_survey())
    respond(control, survey_id, values={"QID1": 1})
    first, _ = export(admin, survey_id, format="json", allowContinuation=True)
    token = first["continuationToken"]
    newer = respond(control, survey_id, count=2).json()["responseIds"]
    second, data = export(admin, survey_id, format="json", continuationToken=token)
    assert [r["responseId"] for r in json.loads(data)["responses"]] == newer
    stale = start(admin, survey_id, format="json", continuationToken=token)
    assert stale.status_code == 400
    assert stale.json()["meta"]["error"] == {"errorMessage": "Invalid continuation token.", "errorCode": "RE_4"}
    foreign = start(admin, other_survey, format="json", continuationToken=second["continuationToken"])
    assert foreign.status_code == 400
    _, empty = export(admin, survey_id, format="json", continuationToken=second["continuationToken"])
    assert json.loads(empty) == {"responses": []}


def test_progress_advances_before_the_file_is_ready(
    control: httpx.Client, admin: httpx.Client, brand: dict[str, Any]
) -> None:
    survey_id = load(control, brand["adminUserId"], small_survey())
    respond(control, survey_id, count=50)
    started = start(admin, survey_id, format="csv").json()
    assert started["result"]["status"] == "inProgress" and started["result"]["percentComplete"] == 0.0
    progress_id = started["result"]["progressId"]
    early = admin.get(f"/surveys/{survey_id}/export-responses/{progress_id}").json()["result"]
    assert early["status"] == "inProgress" and "fileId" not in early
    assert admin.get(f"/surveys/{survey_id}/export-responses/nope/file").status_code == 404
    done = wait(admin, survey_id, progress_id)
    assert done["percentComplete"] == 100.0 and done["fileId"].endswith("-def")
    assert "continuationToken" not in done


def test_an_uncompressed_export_serves_the_plain_file(
    control: httpx.Client, admin: httpx.Client, brand: dict[str, Any]
) -> None:
    survey_id = load(control, brand["adminUserId"], small_survey())
    respond(control, survey_id, values={"QID1": 2})
    _, data = export(admin, survey_id, format="csv", compress=False)
    assert table(data)[3][table(data)[0].index("Q1")] == "2"


def test_it_refuses_fields_and_formats_it_does_not_know(
    control: httpx.Client, admin: httpx.Client, brand: dict[str, Any]
) -> None:
    survey_id = load(control, brand["adminUserId"], small_survey())
    unknown = start(admin, survey_id, format="csv", filter={"x": 1})
    assert unknown.status_code == 400
    assert unknown.json()["meta"]["error"]["errorMessage"] == "Unknown fields are set: filter"
    assert start(admin, survey_id, format="spss").status_code == 400
    mixed = start(admin, survey_id, format="json", exportResponsesInProgress=True, allowContinuation=True)
    assert mixed.status_code == 400
    assert admin.get(f"/surveys/{survey_id}/export-responses/ES_unknown").status_code == 404
