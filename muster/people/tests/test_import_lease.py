"""An import holds a lease while it runs: a worker that dies leaves it to another, which resumes it;
a user can cancel it, retry a failed one, or dismiss it; its uploaded file goes once it is not needed."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any
from unittest import mock

from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test import TransactionTestCase, override_settings
from django.utils.timezone import now
from django_tasks_db.models import DBTaskResult

from muster.people import csvio, imports
from muster.people.models import ImportSeen, ImportStatus, Person, PersonEmail, PersonImport, PropertyValue
from muster.people.properties import create_property
from muster.people.tests.test_history import queued_import
from muster.scheduling import leases
from muster.test import BaseTestCase

ROWS = 10


class Killed(BaseException):
    """Stands in for SIGKILL: nothing in the import gets to handle it."""


class ImportLeaseTestCase(BaseTestCase):
    def setUp(self) -> None:
        super().setUp()
        self.age = create_property("age", "Age", "number")
        body = "".join(f"p{n}@example.org,{n}\n" for n in range(ROWS))
        self.imp = queued_import(self.rita, "email,Age\n" + body, {"Age": str(self.age.code)})
        self.code = str(self.imp.code)
        patcher = mock.patch.object(csvio, "BATCH", 3)
        patcher.start()
        self.addCleanup(patcher.stop)

    def run_until_batch(self, killed_at: int, error: BaseException) -> None:
        """Runs the import; it dies while writing batch number `killed_at` (1-based)."""
        real = csvio.import_batch
        calls = []

        def write(*args: Any) -> Any:
            calls.append(1)
            if len(calls) == killed_at:
                raise error
            return real(*args)

        with mock.patch.object(csvio, "import_batch", write):
            try:
                csvio.import_people.call(self.code)
            except (Killed, RuntimeError):
                pass

    def lapse(self) -> None:
        """Time passes: the lease runs out."""
        PersonImport.objects.filter(id=self.imp.id).update(lease_expires=now() - timedelta(seconds=1))

    def queued_tasks(self) -> int:
        return DBTaskResult.objects.filter(task_path__endswith="import_people", args_kwargs__args=[self.code]).count()

    def test_a_killed_import_is_reclaimed_once_its_lease_lapses_and_resumes_after_its_last_batch(self) -> None:
        self.run_until_batch(3, Killed())
        self.imp.refresh_from_db()
        self.assertEqual(self.imp.status, ImportStatus.RUNNING)
        self.assertEqual(self.imp.rows_done, 6)
        self.assertEqual(leases.reclaim_lapsed(), 0)  # its lease has not lapsed yet
        self.lapse()
        self.assertEqual(leases.reclaim_lapsed(), 1)
        self.assertEqual(leases.reclaim_lapsed(), 0)  # reclaimed once, enqueued once
        self.assertEqual(self.queued_tasks(), 1)
        written: list[str] = []
        real = csvio.import_batch

        def write(imp: PersonImport, rows: list[csvio.Row], user: Any, reject: Any) -> Any:
            written.extend(r.email for r in rows)
            return real(imp, rows, user, reject)

        with mock.patch.object(csvio, "import_batch", write):
            csvio.import_people.call(self.code)
        self.imp.refresh_from_db()
        self.assertEqual(self.imp.status, ImportStatus.DONE, self.imp.error)
        self.assertEqual(written, [f"p{n}@example.org" for n in range(6, ROWS)])
        self.assertEqual((self.imp.rows_done, self.imp.rows_created, self.imp.rows_rejected), (ROWS, ROWS, 0))
        self.assertEqual(PersonEmail.objects.count(), ROWS)
        self.assertEqual(PropertyValue.objects.filter(property=self.age).count(), ROWS)
        self.assertEqual((self.imp.lease_holder, self.imp.lease_expires), ("", None))

    def test_a_second_worker_leaves_an_import_alone_while_its_lease_holds(self) -> None:
        self.run_until_batch(2, Killed())
        csvio.import_people.call(self.code)
        self.imp.refresh_from_db()
        self.assertEqual((self.imp.status, self.imp.rows_done), (ImportStatus.RUNNING, 3))

    def test_a_worker_whose_lease_was_taken_over_commits_no_more(self) -> None:
        def taken_over(*args: Any) -> Any:
            PersonImport.objects.filter(id=self.imp.id).update(lease_holder="someone else")
            return (0, 0, [])

        with mock.patch.object(csvio, "import_batch", taken_over):
            csvio.import_people.call(self.code)
        self.imp.refresh_from_db()
        self.assertEqual((self.imp.status, self.imp.rows_done), (ImportStatus.RUNNING, 0))

    def test_a_cancelled_import_stops_before_its_next_batch_commits_and_its_file_is_deleted(self) -> None:
        real = csvio.validate

        def validate(plan: Any, number: int, cells: list[str], width: int) -> Any:
            if number == 5:  # while the worker reads its second batch
                imports.cancel(PersonImport.objects.get(id=self.imp.id))
            return real(plan, number, cells, width)

        with mock.patch.object(csvio, "validate", validate):
            csvio.import_people.call(self.code)
        self.imp.refresh_from_db()
        self.assertEqual((self.imp.status, self.imp.rows_done), (ImportStatus.CANCELLED, 3))
        self.assertEqual(PersonEmail.objects.count(), 3)
        self.assertFalse(Path(queued_path(self.imp)).exists())
        self.assertEqual(self.imp.path, "")
        self.assertFalse(ImportSeen.objects.filter(person_import=self.imp).exists())

    def test_a_failed_import_says_why_and_a_retry_goes_on_after_its_last_batch(self) -> None:
        self.run_until_batch(2, RuntimeError("boom with ana@example.org in it"))
        self.imp.refresh_from_db()
        self.assertEqual(self.imp.status, ImportStatus.FAILED)
        self.assertIn("Unexpected error (RuntimeError)", self.imp.error)
        self.assertNotIn("ana@example.org", self.imp.error)
        self.client.force_login(self.rita)
        page = self.client.get(f"/people/import/{self.code}/")
        self.assertContains(page, "Unexpected error (RuntimeError)")
        self.assertContains(page, "Retry")
        r = self.client.post(f"/people/import/{self.code}/retry/", follow=True)
        self.assertContains(r, "Import queued again")
        self.assertEqual(self.queued_tasks(), 1)
        csvio.import_people.call(self.code)
        self.imp.refresh_from_db()
        self.assertEqual((self.imp.status, self.imp.rows_done, self.imp.error), (ImportStatus.DONE, ROWS, ""))
        self.assertEqual(Person.objects.count(), ROWS)
        self.assertEqual(self.imp.path, "")

    def test_the_page_cancels_a_running_import(self) -> None:
        PersonImport.objects.filter(id=self.imp.id).update(status=ImportStatus.RUNNING, lease_holder="w")
        self.client.force_login(self.rita)
        self.assertContains(self.client.get(f"/people/import/{self.code}/"), "Cancel import")
        r = self.client.post(f"/people/import/{self.code}/cancel/", follow=True)
        self.assertContains(r, "Import cancelled")
        self.imp.refresh_from_db()
        self.assertEqual((self.imp.status, self.imp.lease_holder, self.imp.path), (ImportStatus.CANCELLED, "", ""))
        again = self.client.post(f"/people/import/{self.code}/cancel/", follow=True)
        self.assertContains(again, "already ended")

    def test_only_people_who_manage_people_can_cancel_retry_or_dismiss(self) -> None:
        self.client.force_login(self.oscar)
        for action in ("cancel", "retry", "dismiss"):
            self.assertEqual(self.client.post(f"/people/import/{self.code}/{action}/").status_code, 403)
            self.assertEqual(self.client.get(f"/people/import/{self.code}/{action}/").status_code, 405)
        self.imp.refresh_from_db()
        self.assertEqual(self.imp.status, ImportStatus.QUEUED)


def queued_path(imp: PersonImport) -> Path:
    return csvio.import_dir() / f"{imp.code}.csv"


class UploadedFileTestCase(BaseTestCase):
    def setUp(self) -> None:
        super().setUp()
        self.imp = queued_import(self.rita, "email\nana@example.org\n", {})
        self.file = Path(self.imp.path)

    def set(self, **fields: Any) -> None:
        PersonImport.objects.filter(id=self.imp.id).update(**fields)
        self.imp.refresh_from_db()

    def test_the_file_is_deleted_once_the_import_is_done(self) -> None:
        csvio.import_people.call(str(self.imp.code))
        self.imp.refresh_from_db()
        self.assertEqual(self.imp.status, ImportStatus.DONE)
        self.assertFalse(self.file.exists())

    def test_a_failed_import_keeps_its_file_24_hours_for_a_retry(self) -> None:
        self.set(status=ImportStatus.FAILED, finished=now() - timedelta(hours=23))
        self.assertEqual(imports.delete_old_files(), 0)
        self.assertTrue(self.file.exists())
        self.set(finished=now() - timedelta(hours=25))
        self.assertEqual(imports.delete_old_files(), 1)
        self.assertFalse(self.file.exists())
        self.imp.refresh_from_db()
        self.assertFalse(self.imp.can_retry)
        self.client.force_login(self.rita)
        r = self.client.post(f"/people/import/{self.imp.code}/retry/", follow=True)
        self.assertContains(r, "upload it again")

    def test_a_dismissed_failed_import_loses_its_file_at_once(self) -> None:
        self.set(status=ImportStatus.FAILED, finished=now())
        self.client.force_login(self.rita)
        r = self.client.post(f"/people/import/{self.imp.code}/dismiss/", follow=True)
        self.assertContains(r, "The uploaded file has been deleted")
        self.assertFalse(self.file.exists())

    def test_an_upload_never_mapped_is_cancelled_and_deleted_after_24_hours(self) -> None:
        self.set(status=ImportStatus.MAPPING, created=now() - timedelta(hours=25))
        self.assertEqual(imports.delete_old_files(), 1)
        self.imp.refresh_from_db()
        self.assertEqual((self.imp.status, self.imp.path), (ImportStatus.CANCELLED, ""))
        self.assertFalse(self.file.exists())

    @override_settings(MUSTER_KEEP_UPLOADS_DAYS=3)
    def test_a_setting_keeps_files_for_audit_that_many_days(self) -> None:
        csvio.import_people.call(str(self.imp.code))
        self.assertTrue(self.file.exists())
        self.set(finished=now() - timedelta(days=2))
        self.assertEqual(imports.delete_old_files(), 0)
        self.set(finished=now() - timedelta(days=3, minutes=1))
        self.assertEqual(imports.delete_old_files(), 1)
        self.assertFalse(self.file.exists())

    def test_the_scheduler_runs_the_clean_up_and_the_reclaim(self) -> None:
        from muster.scheduling import jobs

        self.assertIn("delete_old_import_files", jobs.JOBS)
        self.assertIn("reclaim_lapsed_leases", jobs.JOBS)
        self.assertIn("person_import", leases.KINDS)


class StrandedImportMigrationTestCase(TransactionTestCase):
    """0006: an import a dead worker left "running" before leases existed can be retried."""

    def test_an_import_left_running_becomes_a_failed_one_that_says_why(self) -> None:
        before = [("people", "0005_history_revisions_required")]
        executor = MigrationExecutor(connection)
        executor.migrate(before)
        old = executor.loader.project_state(before).apps
        imp = old.get_model("people", "PersonImport").objects.create(
            filename="big.csv", path="/nowhere.csv", status="running", rows_done=4000, rows_created=4000
        )
        old.get_model("people", "ImportSeen").objects.create(person_import=imp, email="ana@example.org")
        executor = MigrationExecutor(connection)
        latest = executor.loader.graph.leaf_nodes()
        executor.migrate(latest)
        new = executor.loader.project_state(latest).apps
        after = new.get_model("people", "PersonImport").objects.get(id=imp.id)
        self.assertEqual((after.status, after.rows_done, after.lines_done), ("failed", 0, 0))
        self.assertIn("Retry to import it again from the start", after.error)
        self.assertFalse(new.get_model("people", "ImportSeen").objects.exists())
