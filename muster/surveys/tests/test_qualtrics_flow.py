"""The loop up to the hand-off, over real HTTP: the demo screener in the sandbox is attached through
the API, mapped (a new property and an existing one with its options), dry-run against real
responses, and a participant's hand-off sends them to it with their Participant ID."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from django.test import override_settings

from muster.integrations.qualtrics.tests.sandbox import SandboxTestCase
from muster.people.models import Property, PropertyValue
from muster.people.properties import create_property
from muster.people.values import create_person
from muster.studies.details import create_study
from muster.studies.models import StudyParticipant

PUBLIC = "https://muster.example.org"


@override_settings(MUSTER_PUBLIC_URL=PUBLIC)
class QualtricsFlowTests(SandboxTestCase):
    def setUp(self) -> None:
        super().setUp()
        self.connection = self.connect_as_admin()
        self.survey = self.share_demo_screener(self.connection, PUBLIC, "SV_placeholder")
        self.study = create_study(self.olga, name="Grocery habits", landing_slug="grocery")
        self.region = create_property(
            "region", "Region", "single_select", options=["Northern", "South", "East", "West"]
        )

    def attach(self) -> dict[str, Any]:
        r = self.api(
            self.olga, "put", f"/studies/{self.study.code}/screener", {"tool": "qualtrics", "survey_id": self.survey}
        )
        assert r.status_code == 200, r.content
        return dict(r.json())

    def test_attaching_imports_every_question_with_a_clean_report(self) -> None:
        form = self.attach()
        assert form["owner"] == {"kind": "screener", "study": str(self.study.code), "panel": None}
        assert form["survey_name"] == "Muster demo screener" and form["version"] == 1
        assert [(i["item"], i["ok"]) for i in form["report"] if not i["ok"]] == []
        kinds = {q["qid"]: (q["kind"], q["support"]) for q in form["questions"]}
        assert kinds["QID1"] == ("single_choice", "supported")
        assert kinds["QID2"] == ("multiple_choice", "supported")
        assert kinds["QID10"] == ("matrix", "unsupported")
        assert "QID11" not in kinds  # in the Trash
        shop = next(q for q in form["questions"] if q["qid"] == "QID1")
        assert [(c["id"], c["recode"]) for c in shop["choices"]] == [("1", "4"), ("2", "3"), ("3", "2"), ("4", "1")]
        assert "<strong>How often</strong>" in shop["text"]
        assert form["view_in_qualtrics_url"].endswith(f"/survey-builder/{self.survey}/edit")

    def test_mapping_then_a_dry_run_on_real_responses_writes_nothing(self) -> None:
        form = self.attach()
        mappings = [
            {"qid": "QID1", "create": {"key": "shop_freq", "label": "Shopping frequency"}},
            {"qid": "QID3", "property": "region", "options": {"1": "Northern"}},
            {"qid": "QID9", "part": "group", "property": "region"},  # refused: region is taken by QID3
            {"qid": "QID10", "create": {"key": "sat", "label": "Satisfaction"}},  # a matrix: refused
        ]
        r = self.api(self.olga, "put", f"/forms/{form['code']}/mappings", {"mappings": mappings})
        assert r.status_code == 200, r.content
        saved = r.json()
        assert [m["qid"] for m in saved["mappings"]] == ["QID1", "QID3"]
        assert saved["mappings"][1]["options"] == {"1": "Northern", "2": "South", "3": "East", "4": "West"}
        assert [x["index"] for x in saved["refused"]] == [2, 3]
        assert not Property.objects.filter(key="sat").exists()

        person = create_person("pat@example.org", source="manual")
        participant = StudyParticipant.objects.create(study=self.study, person=person)
        # QID1 carries the recode: 3 is the second choice, "Every month".
        values = {"QID1": 3, "QID3": 1, "QID9": 8, "QID12_1": 14}
        body = {"values": values, "embeddedData": {"rallyParticipantId": participant.participant_id}}
        self.control("POST", f"/_sandbox/surveys/{self.survey}/respond", body)
        r = self.api(self.olga, "post", f"/forms/{form['code']}/dry-run", {"limit": 5})
        assert r.status_code == 200, r.content
        (result,) = r.json()["responses"]
        assert result["participant_id"] == participant.participant_id
        assert result["changes"] == [
            {"property": "shop_freq", "old": None, "new": "Every month"},
            {"property": "region", "old": None, "new": "Northern"},
        ]
        assert not PropertyValue.objects.exists()

    def test_the_hand_off_sends_a_participant_to_the_survey_with_their_participant_id(self) -> None:
        self.attach()
        self.study.status = "active"
        self.study.save()
        participant = StudyParticipant.objects.create(
            study=self.study, person=create_person("a@example.org", source="manual")
        )
        r = self.client.get(f"/s/grocery/go/{participant.participant_id}/")
        assert r.status_code == 302
        url = urlsplit(r["Location"])
        assert f"{url.scheme}://{url.netloc}" == self.sandbox.url and url.path == f"/jfe/form/{self.survey}"
        assert parse_qs(url.query) == {"rallyParticipantId": [participant.participant_id]}
        # The sandbox's survey page takes it, as Qualtrics would.
        page = httpx.get(r["Location"], timeout=10, follow_redirects=True)
        assert page.status_code == 200 and "How often" in page.text

    def test_without_a_connection_attaching_says_to_connect(self) -> None:
        self.connection.delete()
        r = self.api(
            self.olga, "put", f"/studies/{self.study.code}/screener", {"tool": "qualtrics", "survey_id": self.survey}
        )
        assert r.status_code == 409 and r.json()["message"] == "Connect Qualtrics first: Settings → Connected Apps."
