"""The reconciliation export per form, over real HTTP against the sandbox: the first run backfills,
later runs continue from the token (new and modified responses), a refused token falls back to a
date window, failures back off, a deleted survey stops polling, a killed run converges."""

from __future__ import annotations

import io
from datetime import timedelta
from typing import Any
from unittest import mock

import httpx
from django.core.management import call_command
from django.utils.timezone import now
from django_tasks_db.models import DBTaskResult

from muster.integrations.qualtrics import reconcile as reconciling
from muster.integrations.qualtrics.reconcile import LostClaim, Result, claim, reconcile
from muster.integrations.qualtrics.tests.sandbox import SandboxTestCase
from muster.people.models import Property, PropertyValue
from muster.people.values import create_person, values_of
from muster.studies.details import create_study
from muster.studies.models import StudyParticipant
from muster.surveys.attach import Owner, attach
from muster.surveys.mappings import Wanted, save_mappings
from muster.surveys.models import OwnerKind, Response, SurveyForm

PUBLIC = "https://muster.example.org"


class ReconcileTestCase(SandboxTestCase):
    def setUp(self) -> None:
        super().setUp()
        self.connection = self.connect_as_admin()
        self.survey = self.share_demo_screener(self.connection, PUBLIC, "SV_placeholder")
        self.study = create_study(self.olga, name="Grocery habits", landing_slug="grocery")
        self.study.status = "active"
        self.study.save()
        self.form = attach(Owner(OwnerKind.SCREENER, study=self.study), "qualtrics", self.survey, self.olga)
        wanted = [Wanted("QID4", create={"key": "job", "label": "Job"})]
        saved = save_mappings(self.form, wanted, self.olga, may_create=True)
        assert not saved.refused, saved.refused
        self.job = Property.objects.get(key="job")

    def participant(self, email: str) -> StudyParticipant:
        return StudyParticipant.objects.create(study=self.study, person=create_person(email, source="manual"))

    def respond(self, who: StudyParticipant | None, job: str, **more: Any) -> str:
        # QID1, QID9 and QID12 are forced answers in the demo screener.
        values = {"QID1": 3, "QID9": 8, "QID12_1": 14, "QID4_TEXT": job}
        embedded = {"rallyParticipantId": who.participant_id} if who is not None else {}
        body = {"values": values, "embeddedData": embedded, **more}
        return str(self.control("POST", f"/_sandbox/surveys/{self.survey}/respond", body)["responseIds"][0])

    def edit(self, response_id: str, job: str) -> None:
        self.control("PATCH", f"/_sandbox/responses/{response_id}", {"values": {"QID4_TEXT": job}})

    def faults(self, **config: Any) -> None:
        self.control("PUT", "/_sandbox/faults", config)

    def sync(self) -> Result:
        """A run now, as if the form had come due."""
        SurveyForm.objects.filter(pk=self.form.pk).update(next_sync_at=None)
        self.form.refresh_from_db()
        result = reconcile(self.form)
        self.form.refresh_from_db()
        return result

    def job_of(self, who: StudyParticipant) -> Any:
        return values_of([who.person], [self.job]).get((who.person_id, self.job.id))


class BackfillTests(ReconcileTestCase):
    def test_the_first_run_backfills_every_existing_response_once_with_mapped_values(self) -> None:
        pat, sam = self.participant("pat@example.org"), self.participant("sam@example.org")
        self.respond(pat, "Chef")
        self.respond(sam, "Baker")
        self.control("POST", f"/_sandbox/surveys/{self.survey}/respond", {"count": 5})
        assert self.form.backfilled_at is None

        result = self.sync()

        assert result.outcome == "synced" and result.counts == {"created": 7}, result
        assert Response.objects.filter(form=self.form).count() == 7
        assert (self.job_of(pat), self.job_of(sam)) == ("Chef", "Baker")
        pat.refresh_from_db()
        assert pat.status == "screener_completed"
        assert self.form.backfilled_at is not None and self.form.last_synced_at is not None
        assert self.form.sync_cursor and self.form.synced_until is not None
        assert (self.form.sync_error, self.form.sync_failures) == ("", 0)

    def test_a_second_run_with_the_token_gets_only_new_and_modified_responses(self) -> None:
        pat, sam = self.participant("pat@example.org"), self.participant("sam@example.org")
        first = self.respond(pat, "Chef")
        self.respond(None, "Nobody")
        self.sync()
        token = self.form.sync_cursor

        self.edit(first, "Head chef")
        self.respond(sam, "Baker")
        result = self.sync()

        assert result.counts == {"updated": 1, "created": 1}, result
        assert self.form.sync_cursor and self.form.sync_cursor != token
        assert (self.job_of(pat), self.job_of(sam)) == ("Head chef", "Baker")
        assert self.sync().counts == {}  # nothing new since

    def test_an_edit_in_qualtrics_re_applies_the_new_value_as_of_its_last_modified_date(self) -> None:
        pat = self.participant("pat@example.org")
        rid = self.respond(pat, "Chef")
        self.sync()
        self.edit(rid, "Sous-chef")

        self.sync()

        assert self.job_of(pat) == "Sous-chef"
        response = Response.objects.get(response_id=rid)
        assert response.last_modified_at is not None and response.recorded_at is not None
        assert response.last_modified_at > response.recorded_at
        value = PropertyValue.objects.get(person=pat.person, property=self.job)
        assert value.as_of == response.last_modified_at

    def test_an_older_answer_arriving_late_never_overwrites_a_newer_value(self) -> None:
        pat = self.participant("pat@example.org")
        self.respond(pat, "Chef")
        self.sync()
        yesterday = (now() - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
        late = self.respond(pat, "Dishwasher", recordedDate=yesterday, startDate=yesterday)

        result = self.sync()

        assert result.counts == {"created": 1}
        assert Response.objects.filter(response_id=late).exists()
        assert self.job_of(pat) == "Chef"

    def test_a_partial_response_moves_its_participant_to_started(self) -> None:
        pat = self.participant("pat@example.org")
        self.respond(pat, "Chef", finished=False, progress=40)

        self.sync()

        pat.refresh_from_db()
        assert pat.status == "screener_started"

    def test_a_response_still_being_taken_comes_in_by_the_in_progress_export(self) -> None:
        pat = self.participant("pat@example.org")
        link = f"{self.sandbox.url}/jfe/form/{self.survey}?rallyParticipantId={pat.participant_id}"
        assert httpx.get(link, follow_redirects=True, timeout=10).status_code == 200  # the first page shows

        self.sync()

        (response,) = Response.objects.filter(form=self.form)
        assert response.participant == pat and not response.finished
        pat.refresh_from_db()
        assert pat.status == "screener_started"


class FallbackAndFailureTests(ReconcileTestCase):
    def test_a_refused_token_falls_back_to_a_date_window_and_loses_nothing(self) -> None:
        pat, sam = self.participant("pat@example.org"), self.participant("sam@example.org")
        first = self.respond(pat, "Chef")
        self.sync()
        old_token = self.form.sync_cursor
        self.edit(first, "Head chef")
        self.respond(sam, "Baker")
        self.faults(continuationTokens={"refuse": 1.0})

        result = self.sync()

        assert result.outcome == "synced" and result.fell_back, result
        assert (self.job_of(pat), self.job_of(sam)) == ("Head chef", "Baker")
        assert Response.objects.filter(form=self.form).count() == 2
        assert self.form.sync_cursor and self.form.sync_cursor != old_token
        # The window starts an hour before what was last seen, so nothing between is missed.
        assert self.form.synced_until is not None
        self.faults()
        assert self.sync().fell_back is False

    def test_a_failed_export_backs_off_and_records_the_error(self) -> None:
        self.respond(self.participant("pat@example.org"), "Chef")
        self.faults(exports={"fail": 1.0})

        before = now()
        result = self.sync()

        assert result.outcome == "failed"
        assert self.form.sync_failures == 1 and "the export ended “failed”" in self.form.sync_error
        assert before.strftime("%Y-%m-%d") in self.form.sync_error  # says when
        assert self.form.next_sync_at is not None
        assert timedelta(seconds=55) < self.form.next_sync_at - before < timedelta(seconds=70)
        assert self.form.sync_cursor == "" and self.form.backfilled_at is None
        self.sync()
        assert self.form.sync_failures == 2 and self.form.next_sync_at - now() > timedelta(seconds=110)

        self.faults()
        assert self.sync().outcome == "synced"
        assert (self.form.sync_failures, self.form.sync_error) == (0, "")
        assert Response.objects.filter(form=self.form).count() == 1

    def test_a_survey_deleted_in_qualtrics_stops_polling_with_the_reason(self) -> None:
        self.respond(self.participant("pat@example.org"), "Chef")
        self.sync()
        self.control("DELETE", f"/_sandbox/surveys/{self.survey}")

        result = self.sync()

        assert result.outcome == "stopped"
        assert self.survey in self.form.sync_stopped and "gone from Qualtrics" in self.form.sync_stopped
        assert self.form.next_sync_at is None
        assert Response.objects.filter(form=self.form).count() == 1  # its responses are kept
        assert self.sync().outcome == "busy"  # a stopped form is never claimed again

    def test_a_survey_no_longer_readable_but_still_there_is_a_failure_not_a_stop(self) -> None:
        self.sync()
        with mock.patch.object(
            reconciling.exports,
            "run_export",
            side_effect=reconciling.client.QualtricsAuthError("Not allowed", 403),
        ):
            result = self.sync()
        assert result.outcome == "failed" and self.form.sync_stopped == ""
        assert "Not allowed" in self.form.sync_error


class KilledRunTests(ReconcileTestCase):
    def test_a_run_killed_mid_export_is_redone_from_the_stored_token_after_its_claim_lapses(self) -> None:
        people = [self.participant(f"p{i}@example.org") for i in range(5)]
        for i, who in enumerate(people):
            self.respond(who, f"Job {i}")
        real = reconciling.ingest
        calls = 0

        def dies_on_the_second_batch(*args: Any) -> Any:
            nonlocal calls
            calls += 1
            if calls == 2:
                raise SystemExit("killed")  # not an Exception: nothing of the run handles it
            return real(*args)

        SurveyForm.objects.filter(pk=self.form.pk).update(next_sync_at=None)
        held = claim(self.form)
        assert held is not None
        with (
            mock.patch.object(reconciling, "BATCH", 2),
            mock.patch.object(reconciling, "ingest", dies_on_the_second_batch),
        ):
            try:
                reconcile(self.form, held)
            except SystemExit:
                pass
        self.form.refresh_from_db()
        assert Response.objects.count() == 2 and self.form.sync_cursor == ""
        assert self.form.next_sync_at is not None and self.form.next_sync_at > now()  # still claimed
        assert reconcile(self.form).outcome == "busy"

        # The claim lapses: the form is due again, and the next run redoes the whole export.
        SurveyForm.objects.filter(pk=self.form.pk).update(next_sync_at=now() - timedelta(seconds=1))
        self.form.refresh_from_db()
        result = reconcile(self.form)

        assert result.outcome == "synced" and result.counts == {"unchanged": 2, "created": 3}, result
        assert [self.job_of(who) for who in people] == [f"Job {i}" for i in range(5)]
        self.form.refresh_from_db()
        assert self.form.sync_cursor and self.form.backfilled_at is not None
        # Had the killed worker woken up, it could write nothing more.
        with self.assertRaises(LostClaim):
            held.renew(force=True)


class SchedulerTests(ReconcileTestCase):
    def test_a_lost_webhook_and_redirect_still_bring_a_handed_off_participants_response(self) -> None:
        self.sync()  # the backfill is done; the form looks again in 30 s
        pat = self.participant("pat@example.org")
        pat.status, pat.link_opened_at = "link_opened", now()
        pat.save()
        self.respond(pat, "Chef")  # no redirect comes back, no webhook is delivered
        SurveyForm.objects.filter(pk=self.form.pk).update(next_sync_at=now() - timedelta(seconds=1))

        # In-process, inside the test's transaction: the loop's connection hygiene would close the
        # test's own connection on PostgreSQL (the real processes are in the slow tests).
        with mock.patch("muster.scheduling.management.commands.scheduler.close_old_connections"):
            call_command("scheduler", "--once", stdout=io.StringIO())
        assert DBTaskResult.objects.filter(task_path__endswith="reconcile_form").count() == 1
        with mock.patch("django_tasks_db.management.commands.db_worker.close_old_connections"):
            call_command("db_worker", "--batch", "--no-startup-delay", stdout=io.StringIO(), stderr=io.StringIO())

        run = DBTaskResult.objects.get(task_path__endswith="reconcile_form")
        assert run.status == "SUCCESSFUL", run.traceback
        pat.refresh_from_db()
        assert pat.status == "screener_completed" and self.job_of(pat) == "Chef"


class CrashTests(ReconcileTestCase):
    def test_an_unexpected_error_is_recorded_backs_off_and_is_raised_for_the_worker_log(self) -> None:
        self.respond(self.participant("pat@example.org"), "Chef")
        with (
            mock.patch.object(reconciling, "ingest", side_effect=RuntimeError("database is locked")),
            self.assertRaises(RuntimeError),
        ):
            self.sync()
        self.form.refresh_from_db()
        assert self.form.sync_failures == 1 and "RuntimeError: database is locked" in self.form.sync_error
        assert self.form.next_sync_at is not None and self.form.next_sync_at > now() + timedelta(seconds=55)
        assert self.form.sync_cursor == ""
