"""Drill Down (`QuestionType: "DD"`): definition, respond, bulk respondents, exports and the survey page."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import httpx
import orjson

from qualtrics_sandbox import builders as b
from qualtrics_sandbox import definitions as d
from qualtrics_sandbox.seed import DEMO_BRAND, seed_demo
from qualtrics_sandbox.store import Store
from qualtrics_sandbox.testing import SandboxServer

from .exporting import export, table
from .test_surveys import load
from .test_taking import Labels, open_survey

TREE = {"one": {"1.1": ["1.1.1", "1.1.2"], "1.2": ["1.2.1"]}, "two": {"2.1": ["2.1.1"]}, "none": None}


def drill_survey(forced: bool = False) -> dict[str, Any]:
    question = b.drill_down("QID1", "Where?", ["choice1", "choice2", "choice3"], TREE, tag="drilldown")
    if forced:
        question["Validation"]["Settings"]["ForceResponse"] = "ON"
    return b.survey("Drill", [question], embedded=["rallyParticipantId"])


def respond(control: httpx.Client, survey_id: str, **body: Any) -> httpx.Response:
    return control.post(f"/surveys/{survey_id}/respond", json=body)


def test_the_builder_numbers_items_depth_first_and_maps_each_to_its_parent() -> None:
    question = drill_survey()["Questions"]["QID1"]
    assert (question["QuestionType"], question["Selector"]) == ("DD", "DL")
    assert [c["Display"] for c in question["Choices"].values()] == ["choice1", "choice2", "choice3"]
    names = {aid: a["Display"] for aid, a in question["Answers"].items()}
    assert list(names.values()) == ["one", "1.1", "1.1.1", "1.1.2", "1.2", "1.2.1", "two", "2.1", "2.1.1", "none"]
    assert question["AnswerMap"]["1"] is None and question["AnswerMap"]["3"] == "2"
    assert [names[a] for a in d.drill_down_path(question, "4")] == ["one", "1.1", "1.1.2"]


def test_the_legacy_format_lists_levels_as_sub_questions_and_items_as_paths(
    control: httpx.Client, admin: httpx.Client, brand: dict[str, Any]
) -> None:
    survey_id = load(control, brand["adminUserId"], drill_survey())
    result = admin.get(f"/surveys/{survey_id}").json()["result"]
    question = result["questions"]["QID1"]
    assert question["questionType"] == {"type": "DD", "selector": "DL", "subSelector": None}
    assert [s["choiceText"] for s in question["subQuestions"].values()] == ["choice1", "choice2", "choice3"]
    assert question["choices"]["4"]["choiceText"] == "one ~ 1.1 ~ 1.1.2"
    assert question["choices"]["4"]["recode"] == "4"
    assert result["exportColumnMap"]["drilldown_2"] == {"question": "QID1", "subQuestion": "QID1.subQuestions.2"}


def test_a_drill_down_survives_a_qsf_round_trip(
    control: httpx.Client, admin: httpx.Client, brand: dict[str, Any]
) -> None:
    first = load(control, brand["adminUserId"], drill_survey())
    qsf = admin.get(f"/survey-definitions/{first}", params={"format": "qsf"}).json()["result"]
    second = load(control, brand["adminUserId"], qsf)
    question = admin.get(f"/survey-definitions/{second}/questions/QID1").json()["result"]
    assert question == drill_survey()["Questions"]["QID1"]


def test_respond_keys_one_value_per_level_with_the_items_as_labels(
    control: httpx.Client, admin: httpx.Client, brand: dict[str, Any]
) -> None:
    survey_id = load(control, brand["adminUserId"], drill_survey())
    reply = respond(control, survey_id, values={"QID1_1": 1, "QID1_2": 5, "QID1_3": 6})
    assert reply.status_code == 200, reply.text
    [rid] = reply.json()["responseIds"]
    result = admin.get(f"/surveys/{survey_id}/responses/{rid}").json()["result"]
    assert [result["values"][f"QID1_{i}"] for i in (1, 2, 3)] == [1, 5, 6]
    assert [result["labels"][f"QID1_{i}"] for i in (1, 2, 3)] == ["one", "1.2", "1.2.1"]
    assert {"QID1_1", "QID1_2", "QID1_3"} <= set(result["displayedFields"])
    assert result["displayedValues"]["QID1_1"] == [1, 7, 10]
    # A leaf on the first level answers the question with one key.
    short = respond(control, survey_id, values={"QID1_1": 10}).json()["responseIds"][0]
    values = admin.get(f"/surveys/{survey_id}/responses/{short}").json()["result"]["values"]
    assert values["QID1_1"] == 10 and "QID1_2" not in values


def test_respond_refuses_items_outside_the_chosen_branch_or_skipped_levels(
    control: httpx.Client, brand: dict[str, Any]
) -> None:
    survey_id = load(control, brand["adminUserId"], drill_survey())
    for values in ({"QID1_1": 2}, {"QID1_1": 1, "QID1_2": 8}, {"QID1_2": 2}, {"QID1_1": 1, "QID1_3": 3}):
        reply = respond(control, survey_id, values=values)
        assert reply.status_code == 400, values
        assert "QID1_" in reply.json()["error"]


def test_bulk_respondents_walk_down_the_tree(control: httpx.Client, admin: httpx.Client, brand: dict[str, Any]) -> None:
    survey_id = load(control, brand["adminUserId"], drill_survey(forced=True))
    assert respond(control, survey_id, count=40, seed=7).json()["count"] == 40
    question = drill_survey()["Questions"]["QID1"]
    parents = d.answer_parents(question)
    found = [r["values"] for r in json.loads(export(admin, survey_id, format="json")[1])["responses"]]
    assert len(found) == 40
    for values in found:
        path = [str(values[f"QID1_{i}"]) for i in (1, 2, 3) if f"QID1_{i}" in values]
        assert path and parents[path[0]] is None
        assert all(parents[child] == parent for parent, child in itertools.pairwise(path))
        assert len(path) == 3 or path == ["10"]


def test_csv_tsv_and_json_exports_have_one_column_per_level_like_the_recording(
    control: httpx.Client, admin: httpx.Client, brand: dict[str, Any]
) -> None:
    survey_id = load(control, brand["adminUserId"], drill_survey())
    rid = respond(control, survey_id, values={"QID1_1": 7, "QID1_2": 8, "QID1_3": 9}).json()["responseIds"][0]
    single = admin.get(f"/surveys/{survey_id}/responses/{rid}").json()["result"]
    [from_json] = json.loads(export(admin, survey_id, format="json")[1])["responses"]
    assert from_json == single
    [line] = export(admin, survey_id, format="ndjson")[1].splitlines()
    assert json.loads(line) == single
    for fmt, sep in (("csv", ","), ("tsv", "\t")):
        for labels, cells in ((False, ["7", "8", "9"]), (True, ["two", "2.1", "2.1.1"])):
            rows = table(export(admin, survey_id, format=fmt, useLabels=labels)[1], sep)
            at = [rows[0].index(f"drilldown_{i}") for i in (1, 2, 3)]
            assert [rows[1][i] for i in at] == ["Where? - choice1", "Where? - choice2", "Where? - choice3"]
            assert [json.loads(rows[2][i]) for i in at] == [{"ImportId": f"QID1_{i}"} for i in (1, 2, 3)]
            assert [rows[3][i] for i in at] == cells


def test_the_page_shows_one_labelled_select_per_level_and_refreshes_without_javascript(
    control: httpx.Client, admin: httpx.Client, brand: dict[str, Any], sandbox: SandboxServer
) -> None:
    survey_id = load(control, brand["adminUserId"], drill_survey(forced=True))
    with httpx.Client(base_url=sandbox.url, timeout=10) as browser:
        page = open_survey(browser, survey_id)
        html = browser.get(page).text
        parser = Labels()
        parser.feed(html)
        selects = [c for c in parser.controls if str(c.get("name")).startswith("QID1_")]
        assert [s["name"] for s in selects] == ["QID1_1", "QID1_2", "QID1_3"]
        assert all(s["id"] in parser.label_for for s in selects)
        assert "disabled" in selects[1] and "Update the lists" in html
        # Forced response: nothing chosen, then a branch not chosen to the end.
        assert browser.post(page, data={}).status_code == 400
        refreshed = browser.post(page, data={"QID1_1": "1", "_refresh": "QID1"})
        assert (
            refreshed.status_code == 200 and "1.2</option>" in refreshed.text and "2.1</option>" not in refreshed.text
        )
        assert 'name="QID1_2" aria-describedby="QID1-hint" autofocus' in refreshed.text
        unfinished = browser.post(page, data={"QID1_1": "1", "QID1_2": "2"})
        assert unfinished.status_code == 400 and "Please answer every part" in unfinished.text
        # Changing the first list without refreshing leaves a stale second choice.
        stale = browser.post(page, data={"QID1_1": "7", "QID1_2": "2", "QID1_3": "3"})
        assert stale.status_code == 400 and "The lists changed" in stale.text
        done = browser.post(page, data={"QID1_1": "1", "QID1_2": "2", "QID1_3": "4"})
        assert done.status_code == 200 and "Your response has been recorded" in done.text
    [body] = json.loads(export(admin, survey_id, format="json")[1])["responses"]
    assert [body["values"][f"QID1_{i}"] for i in (1, 2, 3)] == [1, 2, 4]
    assert body["labels"]["QID1_3"] == "1.1.2"


def test_reseeding_an_older_data_dir_appends_the_drill_down_to_the_screener_once(tmp_path: Path) -> None:
    store = Store(tmp_path / "sandbox.sqlite3")
    admin = seed_demo(store, "sandbox1", None)
    [row] = store.all(
        "SELECT id, definition FROM surveys WHERE brand_id = ? AND name = ?", (DEMO_BRAND, "Muster demo screener")
    )
    seeded = orjson.loads(row["definition"])
    assert seeded["Questions"]["QID12"]["QuestionType"] == "DD"
    # Make it look like a screener seeded before QID12 existed.
    older = json.loads(json.dumps(seeded))
    del older["Questions"]["QID12"]
    older["Blocks"]["BL_main"]["BlockElements"] = older["Blocks"]["BL_main"]["BlockElements"][:-2]
    older["QuestionCount"] = str(len(older["Questions"]))
    store.run("UPDATE surveys SET definition = ? WHERE id = ?", (orjson.dumps(older).decode(), row["id"]))
    assert seed_demo(store, "sandbox1", None) == admin
    upgraded = orjson.loads(store.all("SELECT definition FROM surveys WHERE id = ?", (row["id"],))[0]["definition"])
    assert upgraded == seeded
    seed_demo(store, "sandbox1", None)
    again = orjson.loads(store.all("SELECT definition FROM surveys WHERE id = ?", (row["id"],))[0]["definition"])
    assert again == seeded and again["Blocks"]["BL_main"]["BlockElements"][-1]["QuestionID"] == "QID12"
    store.close()
