"""The getting-started checklist above the People list ticks itself off from what really happened."""

from __future__ import annotations

from muster.integrations.qualtrics.tests.sandbox import SandboxTestCase
from muster.people import values as pv
from muster.people.models import Source
from muster.studies.models import Study, StudyStatus
from muster.studies.participants import add_participants
from muster.surveys.attach import Owner, attach
from muster.surveys.models import OwnerKind


class GettingStartedTestCase(SandboxTestCase):
    def steps(self) -> dict[str, bool]:
        r = self.client.get("/people/")
        return {step.title: done for step, done in r.context["first_steps"]}

    def test_each_step_ticks_itself_off_and_the_list_goes_when_all_are_done(self) -> None:
        self.client.force_login(self.olga)
        self.assertEqual(
            self.steps(),
            {
                "Connect Qualtrics": False,
                "Share a survey": False,
                "Create a study": False,
                "Add participants": False,
                "Attach a survey": False,
            },
        )
        self.assertContains(self.client.get("/people/"), "Getting started")
        connection = self.connect_as_admin()
        self.assertTrue(self.steps()["Connect Qualtrics"])
        # Sharing is seen when the survey list shows a shared survey, not before.
        survey = self.add_survey()
        self.client.get("/settings/qualtrics-surveys/")
        self.assertFalse(self.steps()["Share a survey"])
        self.control("POST", f"/_sandbox/surveys/{survey}/share", {"userId": connection.service_user_id})
        listed = self.client.get("/settings/qualtrics-surveys/")
        self.assertContains(listed, "Checkout study")
        # Its last-modified time in the one human format, not Qualtrics' ISO 8601.
        self.assertNotRegex(listed.content.decode(), r"\d{4}-\d\d-\d\dT\d\d:")
        self.assertRegex(listed.content.decode(), r"<td>\d{1,2} [A-Z][a-z]{2} \d{4}, \d\d:\d\d</td>")
        self.assertTrue(self.steps()["Share a survey"])
        study = Study.objects.create(name="Onboarding", landing_slug="onboarding", status=StudyStatus.ACTIVE)
        self.assertTrue(self.steps()["Create a study"])
        add_participants(study, [pv.create_person("ana@example.org", source=Source.MANUAL)])
        self.assertTrue(self.steps()["Add participants"])
        attach(Owner(OwnerKind.SCREENER, study=study), "qualtrics", survey, self.olga)
        self.assertEqual(self.steps(), {})
        self.assertNotContains(self.client.get("/people/"), "Getting started")

    def test_each_role_sees_only_the_steps_it_may_take(self) -> None:
        self.client.force_login(self.rita)
        self.assertEqual(
            list(self.steps()), ["Share a survey", "Create a study", "Add participants", "Attach a survey"]
        )
        self.client.force_login(self.dev)
        self.assertEqual(list(self.steps()), ["Connect Qualtrics", "Share a survey"])
        self.client.force_login(self.oscar)
        self.assertEqual(self.steps(), {})
