"""Which forms the scheduler reconciles when: due forms of active studies and panels, at least every
5 minutes, every 30 s while a handed-off participant has not come back, one run per claim, within
the call budget."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.utils.timezone import now
from django_tasks_db.models import DBTaskResult

from muster.integrations.qualtrics import polling
from muster.integrations.qualtrics.connect import budget_key
from muster.integrations.qualtrics.models import CallBudget, QualtricsConnection
from muster.integrations.qualtrics.reconcile import claim
from muster.people.models import Panel
from muster.people.values import create_person
from muster.studies.details import create_study
from muster.studies.models import Study, StudyParticipant
from muster.surveys.models import OwnerKind, SurveyForm
from muster.test import BaseTestCase


class PollingTestCase(BaseTestCase):
    def setUp(self) -> None:
        super().setUp()
        self.connection = QualtricsConnection.objects.create(
            base_url="https://iad1.qualtrics.com", brand_id="brand1", service_user_id="UR_1", service_username="m"
        )
        self.study = self.a_study("Grocery habits", "active")

    def a_study(self, name: str, status: str) -> Study:
        study = create_study(self.olga, name=name, landing_slug=name.lower().replace(" ", "-"))
        study.status = status
        study.save()
        return study

    def a_form(self, study: Study | None = None, kind: str = OwnerKind.SCREENER, **sync: Any) -> SurveyForm:
        """A form that synced a minute ago and looks again now, unless `sync` says otherwise."""
        at = now()
        state: dict[str, Any] = {
            "next_sync_at": at - timedelta(seconds=1),
            "last_synced_at": at - timedelta(minutes=1),
            "backfilled_at": at - timedelta(hours=1),
            **sync,
        }
        owner: dict[str, Any] = {"study": study or self.study} if kind != OwnerKind.SIGNUP else {}
        if kind == OwnerKind.SIGNUP:
            owner["panel"] = Panel.objects.create(name="Shoppers")
        return SurveyForm.objects.create(
            tool="qualtrics",
            brand="brand1",
            survey_id=f"SV_{SurveyForm.objects.count() + 1}",
            survey_name="A survey",
            owner_kind=kind,
            **owner,
            **state,
        )

    def handed_off(self, status: str = "link_opened", minutes_ago: int = 10) -> StudyParticipant:
        person = create_person(f"p{StudyParticipant.objects.count()}@example.org", source="manual")
        opened = now() - timedelta(minutes=minutes_ago)
        return StudyParticipant.objects.create(study=self.study, person=person, status=status, link_opened_at=opened)

    def enqueued(self) -> list[int]:
        return [r.args_kwargs["args"][0] for r in DBTaskResult.objects.filter(task_path__endswith="reconcile_form")]


class DueFormTests(PollingTestCase):
    def test_it_runs_the_due_forms_of_active_studies_and_panels_only(self) -> None:
        never = self.a_form(next_sync_at=None, last_synced_at=None, backfilled_at=None)
        stale = self.a_form(self.a_study("Stale", "active"), last_synced_at=now() - timedelta(minutes=5))
        signup = self.a_form(kind=OwnerKind.SIGNUP, next_sync_at=None, last_synced_at=None)
        self.a_form(self.a_study("Draft", "draft"), next_sync_at=None, last_synced_at=None)
        self.a_form(self.a_study("Paused", "paused"), next_sync_at=None, last_synced_at=None)
        self.a_form(self.a_study("Later", "active"), next_sync_at=now() + timedelta(minutes=1), last_synced_at=None)
        self.a_form(self.a_study("Gone", "active"), last_synced_at=None, sync_stopped="The survey is gone.")
        self.a_form(self.a_study("Detached", "active"), last_synced_at=None, detached_at=now())

        assert polling.enqueue_due_forms() == 3

        assert sorted(self.enqueued()) == sorted([never.pk, stale.pk, signup.pk])

    def test_a_form_that_synced_recently_is_only_looked_at_again_in_30_seconds(self) -> None:
        form = self.a_form()

        assert polling.enqueue_due_forms() == 0

        form.refresh_from_db()
        assert form.next_sync_at is not None
        assert timedelta(seconds=25) < form.next_sync_at - now() <= timedelta(seconds=30)

    def test_a_form_that_failed_runs_as_soon_as_its_back_off_ends(self) -> None:
        form = self.a_form(sync_failures=2, sync_error="Qualtrics did not answer.")
        polling.enqueue_due_forms()
        assert self.enqueued() == [form.pk]

    def test_nothing_runs_without_a_working_connection(self) -> None:
        self.a_form(next_sync_at=None, last_synced_at=None)
        self.connection.status = "broken"
        self.connection.save()
        assert polling.enqueue_due_forms() == 0


class CadenceTests(PollingTestCase):
    def test_a_form_runs_every_30_seconds_while_a_handed_off_participant_has_not_come_back(self) -> None:
        form = self.a_form()
        participant = self.handed_off()

        assert polling.enqueue_due_forms() == 1

        form.refresh_from_db()
        assert form.next_sync_at is not None and form.next_sync_at > now() + timedelta(minutes=2)  # claimed
        assert self.enqueued() == [form.pk]
        # Once they are back (Screener Completed), the form goes back to its 5-minute cadence.
        DBTaskResult.objects.all().delete()
        participant.status = "screener_completed"
        participant.save()
        SurveyForm.objects.filter(pk=form.pk).update(next_sync_at=now() - timedelta(seconds=1))
        assert polling.enqueue_due_forms() == 0

    def test_a_hand_off_more_than_an_hour_ago_no_longer_makes_it_hot(self) -> None:
        self.a_form()
        self.handed_off(minutes_ago=61)
        assert polling.enqueue_due_forms() == 0

    def test_the_survey_step_is_hot_for_a_qualified_participant_sent_on_to_it(self) -> None:
        survey = self.a_form(kind=OwnerKind.SURVEY)
        screener = self.a_form()
        participant = self.handed_off("screener_qualified", minutes_ago=90)
        participant.screener_qualified_at = now() - timedelta(minutes=2)
        participant.save()

        polling.enqueue_due_forms()

        assert self.enqueued() == [survey.pk]
        assert screener.pk not in self.enqueued()


class ClaimTests(PollingTestCase):
    def test_two_claims_of_one_form_make_one_run(self) -> None:
        form = self.a_form(next_sync_at=None, last_synced_at=None)
        mine, theirs = SurveyForm.objects.get(pk=form.pk), SurveyForm.objects.get(pk=form.pk)

        assert claim(mine) is not None
        assert claim(theirs) is None

    def test_two_schedulers_passing_over_the_same_due_form_enqueue_one_run(self) -> None:
        form = self.a_form(next_sync_at=None, last_synced_at=None)
        seen_by_both = polling.due_forms("brand1")

        assert polling.enqueue_due_forms() == 1
        for other, _ in seen_by_both:
            assert claim(other) is None  # the other scheduler read it before the first claimed it

        assert polling.enqueue_due_forms() == 0
        assert self.enqueued() == [form.pk]

    def test_a_short_call_budget_pushes_the_form_to_the_next_minute_rather_than_failing(self) -> None:
        form = self.a_form(next_sync_at=None, last_synced_at=None)
        at = now()
        per_minute = 300
        CallBudget.objects.create(
            key=budget_key(self.connection), window_start=at.replace(second=0, microsecond=0), used=per_minute - 5
        )

        with self.settings(MUSTER_QUALTRICS_CALLS_PER_MINUTE=per_minute):
            assert polling.enqueue_due_forms(at) == 0

        form.refresh_from_db()
        assert form.next_sync_at == at.replace(second=0, microsecond=0) + timedelta(minutes=1)
        assert (form.sync_failures, form.sync_error) == (0, "")
