"""The Qualtrics UI deep links of REFERENCE §10 land on read-only pages."""

from __future__ import annotations

from typing import Any

import httpx

from qualtrics_sandbox import builders as b
from qualtrics_sandbox.seed import screener
from qualtrics_sandbox.testing import SandboxServer

from .test_responses import SCREENER_ANSWERS, respond
from .test_surveys import load
from .test_taking import open_survey


def test_the_builder_data_and_analysis_and_response_links_answer(
    sandbox: SandboxServer, control: httpx.Client, brand: dict[str, Any]
) -> None:
    survey_id = load(control, brand["adminUserId"], screener("SV_uiScreener00001", None))
    [rid] = respond(control, survey_id, values=SCREENER_ANSWERS).json()["responseIds"]
    with httpx.Client(base_url=sandbox.url) as browser:
        built = browser.get(f"/survey-builder/{survey_id}/edit")
        assert built.status_code == 200 and "How often" in built.text and "QID12" in built.text
        hub = browser.get("/responses/")
        assert hub.status_code == 200 and "location.hash" in hub.text and survey_id in hub.text
        listing = browser.get(f"/responses/surveys/{survey_id}")
        assert listing.status_code == 200 and rid in listing.text
        one = browser.get(f"/responses/surveys/{survey_id}/responses/{rid}")
        assert one.status_code == 200 and "Every month" in one.text and "rallyParticipantId" not in one.text
        assert browser.get("/survey-builder/SV_nothingHere0000/edit").status_code == 404
        assert browser.get(f"/responses/surveys/{survey_id}/responses/R_nothingHere000").status_code == 404


def test_question_types_the_sandbox_cannot_answer_show_a_notice(
    sandbox: SandboxServer, control: httpx.Client, brand: dict[str, Any]
) -> None:
    maxdiff = b.matrix("QID2", "Most and least?", ["A", "B"], ["Most", "Least"])
    maxdiff["Selector"] = "MaxDiff"
    upload = b.text_entry("QID3", "Your CV")
    upload.update({"QuestionType": "FileUpload", "Selector": "FileUpload"})
    group = b.rank_order("QID4", "Sort these", ["X", "Y"])
    group.update({"QuestionType": "PGR", "Selector": "DragAndDrop", "SubSelector": "Columns"})
    definition = b.survey("Odd types", [b.text_entry("QID1", "Hi"), maxdiff, upload, group])
    survey_id = load(control, brand["adminUserId"], definition)
    with httpx.Client(base_url=sandbox.url) as browser:
        page = open_survey(browser, survey_id)
        texts = []
        for _ in range(4):
            html = browser.get(page).text
            texts.append(html)
            browser.post(page, data={"QID1_TEXT": "hi"})
    notices = [t for t in texts if "not available in the sandbox" in t]
    assert len(notices) == 3 and any("MaxDiff" in t for t in notices) and any("File Upload" in t for t in notices)
    found = respond(control, survey_id, count=5).json()
    assert found["count"] == 5
