from __future__ import annotations

from datetime import timedelta
from unittest import mock

from django.utils.timezone import now
from django_tasks_db.models import DBTaskResult

from muster.scheduling import jobs
from muster.scheduling.management.commands.scheduler import Command
from muster.scheduling.models import PeriodicJob
from muster.test import BaseTestCase


class SchedulerTestCase(BaseTestCase):
    def setUp(self) -> None:
        super().setUp()
        # Only the session-pruning job, whatever else the apps register.
        only_prune = mock.patch.dict(
            jobs.JOBS, {"prune_expired_sessions": jobs.JOBS["prune_expired_sessions"]}, clear=True
        )
        only_prune.start()
        self.addCleanup(only_prune.stop)
        jobs.ensure_rows()

    def test_it_claims_a_due_job_and_pushes_it_forward(self) -> None:
        job = jobs.claim_due_job()
        assert job is not None
        self.assertEqual(job.name, "prune_expired_sessions")
        job.refresh_from_db()
        self.assertGreater(job.next_run_at, now() + timedelta(minutes=59))

    def test_it_finds_nothing_when_nothing_is_due(self) -> None:
        PeriodicJob.objects.update(next_run_at=now() + timedelta(minutes=5))
        self.assertIsNone(jobs.claim_due_job())

    def test_only_one_of_two_schedulers_claims_a_job(self) -> None:
        # Both schedulers read the same due row before either updates it.
        seen_by_first = jobs.find_due_job()
        seen_by_second = jobs.find_due_job()
        assert seen_by_first is not None and seen_by_second is not None
        self.assertTrue(jobs.claim(seen_by_first))
        self.assertFalse(jobs.claim(seen_by_second))
        # And the loser, looking again, finds nothing left to do.
        self.assertIsNone(jobs.claim_due_job())

    def test_a_failing_job_is_recorded_and_does_not_stop_the_scheduler(self) -> None:
        broken = jobs.Job(run=mock.Mock(side_effect=RuntimeError("disk full")), every=timedelta(minutes=1))
        with mock.patch.dict(jobs.JOBS, {"broken": broken}):
            PeriodicJob.objects.create(name="broken", next_run_at=now() - timedelta(hours=1))
            command = Command()
            self.assertTrue(command.process_one())
            self.assertTrue(command.process_one())
            self.assertFalse(command.process_one())
        row = PeriodicJob.objects.get(name="broken")
        self.assertEqual(row.last_error, "RuntimeError: disk full")
        self.assertEqual(row.runs, 1)

    def test_it_enqueues_the_session_pruning_task_for_the_worker(self) -> None:
        self.assertTrue(Command().process_one())
        result = DBTaskResult.objects.get()
        self.assertIn("prune_expired_sessions", result.task_path)
