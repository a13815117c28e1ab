"""A study's Screener and Survey pages, with a survey tool held in memory."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any
from unittest.mock import patch

from django.urls import reverse

from muster.accounts.models import User
from muster.accounts.roles import CAPABILITIES, Capability, Role
from muster.people.models import Property, PropertyType
from muster.people.properties import create_property
from muster.people.values import create_person
from muster.studies.details import create_study
from muster.studies.models import StudyParticipant
from muster.surveys.answers import Answer, ResponseData
from muster.surveys.attach import Owner, attach, attached_form
from muster.surveys.mappings import Wanted, save_mappings
from muster.surveys.models import OwnerKind, SurveyForm
from muster.surveys.questions import Kind, SurveySummary
from muster.surveys.tests.fake import FakeTool, choice_question, fake_tool, matrix_question, nps_question, text_question
from muster.surveys.tools import ToolError
from muster.test import BaseTestCase


class PageTestCase(BaseTestCase):
    def setUp(self) -> None:
        super().setUp()
        context = fake_tool()
        self.tool: FakeTool = context.__enter__()
        self.addCleanup(context.__exit__, None, None, None)
        self.tool.questions["SV_1"] = [
            choice_question("QID1", ["Weekly", "Monthly", "Never"]),
            choice_question("QID2", ["Phone", "Laptop"], kind=Kind.MULTIPLE_CHOICE),
            text_question("QID3"),
            nps_question("QID4"),
            matrix_question("QID5"),
        ]
        self.study = create_study(self.olga, name="Checkout", landing_slug="checkout")
        self.owner = Owner(OwnerKind.SCREENER, study=self.study)
        self.url = reverse("study_screener", args=[self.study.code])

    def attach(self) -> SurveyForm:
        return attach(self.owner, "fake", "SV_1", self.olga)

    def post(self, user: User, data: dict[str, Any], follow: bool = True) -> Any:
        self.client.force_login(user)
        return self.client.post(self.url, data, follow=follow)

    def rows(self, r: Any) -> dict[tuple[str, str], str]:
        """The page's mapping rows: (qid, part) -> the field prefix."""
        post = r.context["questions"]
        return {(row.qid, row.part or ""): row.name for v in post for row in v.rows}

    def mapping_post(self, r: Any, chosen: dict[tuple[str, str], dict[str, str]]) -> dict[str, Any]:
        """The mapping form as the page drew it, with `chosen` rows filled in: {(qid, part): fields}."""
        data: dict[str, Any] = {"action": "mappings", "row": []}
        for key, name in self.rows(r).items():
            data["row"].append(name)
            data[f"{name}-qid"], data[f"{name}-part"] = key
            data[f"{name}-policy"] = "overwrite"
            data[f"{name}-property"] = ""
            for field, value in chosen.get(key, {}).items():
                data[f"{name}-{field}"] = value
        return data


class PickerTests(PageTestCase):
    def test_it_lists_the_tools_surveys_active_ones_selectable(self) -> None:
        self.tool.surveys = lambda: [  # type: ignore[method-assign]
            SurveySummary("SV_1", "Onboarding screener", True),
            SurveySummary("SV_9", "Old draft", False),
        ]
        self.client.force_login(self.rita)
        r = self.client.get(self.url + "?tool=fake")
        self.assertContains(r, "Survey Tool")
        self.assertContains(r, "Fake tool Survey")
        self.assertContains(r, '<option value="SV_1"  >Onboarding screener</option>', html=False)
        self.assertContains(r, '<option value="SV_9" disabled >Old draft (not active)</option>', html=False)
        self.assertContains(r, "Refresh")

    def test_an_empty_picker_says_how_to_share_a_survey(self) -> None:
        self.tool.questions.clear()
        self.client.force_login(self.rita)
        r = self.client.get(self.url + "?tool=fake")
        self.assertContains(r, "Share the survey with “Muster UXR” in Fake tool (Collaborate) and make it active")

    def test_an_unavailable_tool_says_why_and_links_to_connected_apps_for_who_may_connect(self) -> None:
        self.tool.down = "Qualtrics is not connected."
        self.client.force_login(self.olga)
        r = self.client.get(self.url + "?tool=fake")
        self.assertContains(r, "Qualtrics is not connected.")
        self.assertContains(r, reverse("connected_apps"))
        self.client.force_login(self.rita)
        r = self.client.get(self.url + "?tool=fake")
        self.assertContains(r, "Qualtrics is not connected.")
        self.assertNotContains(r, reverse("connected_apps"))

    def test_survey_tool_none_offers_no_survey_but_keeps_the_tool_choice(self) -> None:
        self.client.force_login(self.rita)
        r = self.client.get(self.url + "?tool=")
        self.assertContains(r, "No survey tool: this step has no survey.")
        self.assertContains(r, '<option value="fake" >Fake tool</option>', html=False)
        self.assertNotContains(r, "Fake tool Survey")

    def test_a_fix_with_a_url_shows_the_url_to_copy(self) -> None:
        form = self.attach()
        assert form.version is not None
        url = "https://muster.example/q/return/?rid=${e://Field/ResponseID}"
        form.version.report = [{"item": "End of survey", "ok": False, "fix": f"Redirect every end of survey to {url}."}]
        form.version.save()
        self.client.force_login(self.rita)
        r = self.client.get(self.url)
        self.assertContains(r, f'<code class="copy">{url}</code>.', html=False)
        self.assertContains(r, "needs fixing")

    def test_attaching_shows_the_questions_and_the_report(self) -> None:
        r = self.post(self.rita, {"action": "attach", "tool": "fake", "survey": "SV_1"})
        self.assertContains(r, "“Survey SV_1” is attached: 5 questions imported.")
        self.assertContains(r, "Compatibility report")
        self.assertContains(r, "Participant ID field")
        self.assertContains(r, "<b>QID1</b>", html=False)  # sanitised HTML, shown as HTML
        self.assertContains(r, "Matrix tables can&#x27;t be mapped yet.")
        self.assertContains(r, "View in Fake tool")
        self.assertContains(r, 'href="https://fake.example/edit/SV_1" target="_blank" rel="noopener"')
        assert [v.q.qid for v in r.context["questions"]] == ["QID1", "QID2", "QID3", "QID4", "QID5"]
        assert attached_form(self.owner) is not None

    def test_a_tool_error_is_a_message_not_a_500(self) -> None:
        r = self.post(self.rita, {"action": "attach", "tool": "fake", "survey": "SV_404"})
        assert r.status_code == 200
        self.assertContains(r, "The survey was not attached: No such survey.")
        assert attached_form(self.owner) is None

    def test_a_tool_error_listing_surveys_is_shown_on_the_page(self) -> None:
        def broken() -> list[SurveySummary]:
            raise ToolError("Qualtrics is busy, try again in a minute.", transient=True)

        self.tool.surveys = broken  # type: ignore[method-assign]
        self.client.force_login(self.rita)
        self.assertContains(self.client.get(self.url + "?tool=fake"), "Qualtrics is busy, try again in a minute.")

    def test_detaching_keeps_the_form(self) -> None:
        form = self.attach()
        r = self.post(self.rita, {"action": "detach"})
        self.assertContains(r, "Its responses, versions and mappings are kept")
        form.refresh_from_db()
        assert form.detached_at is not None and attached_form(self.owner) is None
        assert SurveyForm.objects.filter(id=form.id).exists()

    def test_the_survey_step_is_its_own_step(self) -> None:
        self.attach()
        self.client.force_login(self.rita)
        r = self.client.get(reverse("study_survey", args=[self.study.code]))
        assert r.context["form"] is None
        self.assertContains(r, "<h1>Survey</h1>", html=True)


class MappingPageTests(PageTestCase):
    def setUp(self) -> None:
        super().setUp()
        self.form = self.attach()
        self.client.force_login(self.rita)

    def test_only_compatible_properties_are_offered(self) -> None:
        create_property("age", "Age", PropertyType.NUMBER)
        create_property("devices", "Devices", PropertyType.MULTI_SELECT, options=["Phone"])
        r = self.client.get(self.url)
        rows = {
            (row.qid, row.part): [p.key for p, _ in row.properties] for v in r.context["questions"] for row in v.rows
        }
        assert rows[("QID2", None)] == ["devices"]  # several answers: not a number
        assert rows[("QID4", "score")] == ["age"]
        assert ("QID5", None) not in rows  # unsupported: no mapping row
        assert ("QID4", None) not in rows  # NPS maps by its parts only

    def test_saving_with_one_refusal_shows_it_and_saves_the_rest(self) -> None:
        create_property("job", "Job", PropertyType.TEXT)
        r = self.client.get(self.url)
        data = self.mapping_post(
            r,
            {
                ("QID3", ""): {"property": "job"},
                ("QID1", ""): {"property": "__create__", "key": "job", "label": "Frequency"},
                ("QID4", "score"): {"property": "__create__", "key": "nps_score", "label": "NPS score"},
            },
        )
        r = self.client.post(self.url, data)
        assert r.status_code == 200
        self.assertContains(r, "2 mappings saved, 1 refused")
        row = next(row for v in r.context["questions"] for row in v.rows if row.qid == "QID1")
        assert row.error and "job" in row.error
        assert row.chosen == "__create__" and row.create_label == "Frequency"  # what was asked stays in the form
        self.assertContains(r, f"Refused: {row.error}")
        assert sorted(m.qid for m in self.form.mappings.all()) == ["QID3", "QID4"]

    def test_a_saved_mapping_redirects_and_says_so(self) -> None:
        r = self.client.get(self.url)
        data = self.mapping_post(r, {("QID3", ""): {"property": "__create__", "key": "job_title", "label": "Job"}})
        r = self.client.post(self.url, data, follow=True)
        self.assertContains(r, "1 mapping saved.")
        assert Property.objects.get(key="job_title").type == PropertyType.TEXT

    def test_create_property_is_hidden_and_refused_for_a_role_without_it(self) -> None:
        restricted = {**CAPABILITIES, Capability.CREATE_PROPERTY_FROM_MAPPING: frozenset({Role.ADMIN})}
        with patch.dict(CAPABILITIES, restricted):
            r = self.client.get(self.url)
            self.assertNotContains(r, "Create Property")
            data = self.mapping_post(r, {("QID3", ""): {"property": "__create__", "key": "job", "label": "Job"}})
            r = self.client.post(self.url, data)
        self.assertContains(r, "Your role cannot create properties.")
        assert not Property.objects.filter(key="job").exists()
        r = self.client.get(self.url)
        self.assertContains(r, "Create Property")

    def test_the_option_selects_are_suggested_by_label(self) -> None:
        prop = create_property("freq", "Frequency", PropertyType.SINGLE_SELECT, options=["monthly", "Weekly", "Rarely"])
        r = self.client.get(self.url)
        r = self.client.post(self.url, self.mapping_post(r, {("QID1", ""): {"property": "freq"}}), follow=True)
        row = next(row for v in r.context["questions"] for row in v.rows if row.qid == "QID1")
        chosen = {c.label: c.chosen for c in row.choices}
        assert chosen == {
            "Weekly": str(prop.options.get(label="Weekly").code),
            "Monthly": str(prop.options.get(label="monthly").code),
            "Never": "",
        }
        # Changing one choice's option on the page is saved as asked.
        rarely = str(prop.options.get(label="Rarely").code)
        data = self.mapping_post(
            r, {("QID1", ""): {"property": "freq", "opts_for": "freq", "opt-3": rarely, "opt-1": chosen["Weekly"]}}
        )
        data[f"{row.name}-opt-2"] = chosen["Monthly"]
        self.client.post(self.url, data)
        assert self.form.mappings.get().options == {
            "1": prop.options.get(label="Weekly").id,
            "2": prop.options.get(label="monthly").id,
            "3": prop.options.get(label="Rarely").id,
        }

    def test_a_new_property_gets_no_choice_selects(self) -> None:
        r = self.client.get(self.url)
        row = next(row for v in r.context["questions"] for row in v.rows if row.qid == "QID1")
        assert row.choices == [] and row.create_type == "single select"
        self.assertContains(r, "Creates a single select property with the choices as its options.")

    def test_add_is_offered_only_where_a_multi_select_fits(self) -> None:
        r = self.client.get(self.url)
        offered = {(row.qid, row.part): row.offer_add for v in r.context["questions"] for row in v.rows}
        assert offered[("QID2", None)] is True and offered[("QID3", None)] is False


class DryRunAndReimportPageTests(PageTestCase):
    def setUp(self) -> None:
        super().setUp()
        self.form = self.attach()
        save_mappings(self.form, [Wanted("QID1", create={"label": "Frequency"})], self.olga, may_create=True)

    def test_a_dry_run_shows_the_changes_and_writes_nothing(self) -> None:
        person = create_person("pat@example.org", first_name="Pat", source="manual")
        pid = StudyParticipant.objects.create(study=self.study, person=person).participant_id
        at = datetime(2026, 3, 1, tzinfo=UTC)
        self.tool.responses["SV_1"] = [
            ResponseData("R_1", pid, True, 100, at, None, "anonymous", False, [Answer("QID1", None, ("2",))]),
            ResponseData("R_2", "", True, 100, at, None, "anonymous", False, [Answer("QID1", None, ("9",))]),
        ]
        r = self.post(self.rita, {"action": "dry_run", "limit": "10"})
        self.assertContains(r, "Nothing was written.")
        self.assertContains(r, f"<code>{pid}</code>", html=False)
        self.assertContains(r, 'Frequency: <span class="muted">empty</span> → <strong>Monthly</strong>', html=False)
        self.assertContains(r, "The answer is a choice the survey does not have (9).")
        self.assertContains(r, "no Participant ID")
        assert not person.values.filter(property__key="frequency").exists()

    def test_reimport_reports_what_changed_and_what_was_paused(self) -> None:
        q1 = self.tool.questions["SV_1"][0]
        self.tool.questions["SV_1"][0] = replace(q1, choices=q1.choices[:2])
        self.tool.questions["SV_1"].append(text_question("QID6"))
        r = self.post(self.rita, {"action": "reimport"})
        self.assertContains(r, "Re-imported as version 2.")
        self.assertContains(r, "qid1: The choice “Never” was removed.")
        self.assertContains(r, "qid6: A new question.")
        self.assertContains(r, "Paused until mapped again: qid1 → Frequency.")
        self.assertContains(r, "New question")
        self.assertContains(r, "A choice was removed")
        self.assertContains(r, "Map it again to resume it.")

    def test_an_unchanged_reimport_says_so(self) -> None:
        r = self.post(self.rita, {"action": "reimport"})
        self.assertContains(r, "Nothing changed in the survey (still version 1)")

    def test_a_tool_error_on_reimport_is_a_message(self) -> None:
        self.tool.down = "Qualtrics is not connected."
        r = self.post(self.rita, {"action": "reimport"})
        self.assertContains(r, "The survey was not re-imported: Qualtrics is not connected.")


class AccessTests(PageTestCase):
    def test_observers_and_developers_see_it_read_only(self) -> None:
        self.attach()
        for user in (self.oscar, self.dev):
            self.client.force_login(user)
            r = self.client.get(self.url)
            assert r.status_code == 200
            self.assertContains(r, "Survey SV_1")
            self.assertContains(r, 'method="post"', count=1)  # signing out, nothing else
            self.assertNotContains(r, "Save Property Mapping")

    def test_observers_get_403_on_every_post(self) -> None:
        form = self.attach()
        for action in ("attach", "detach", "reimport", "mappings", "dry_run"):
            r = self.post(self.oscar, {"action": action, "tool": "fake", "survey": "SV_1"}, follow=False)
            assert r.status_code == 403, action
        form.refresh_from_db()
        assert form.detached_at is None

    def test_a_developer_may_not_attach(self) -> None:
        r = self.post(self.dev, {"action": "attach", "tool": "fake", "survey": "SV_1"}, follow=False)
        assert r.status_code == 403

    def test_the_study_page_links_to_both_steps(self) -> None:
        self.client.force_login(self.oscar)
        r = self.client.get(reverse("study", args=[self.study.code]))
        self.assertContains(
            r, f'<a href="{reverse("study_screener", args=[self.study.code])}" >Screener</a>', html=False
        )
        self.assertContains(r, f'<a href="{reverse("study_survey", args=[self.study.code])}" >Survey</a>', html=False)
