"""The life of a CSV import around its run: cancel, retry, dismiss, and its uploaded file.

An uploaded file is full of personal data: it is deleted once its import is done or cancelled, and
a failed one once it is dismissed, done after a retry, or 24 hours old (it is kept that long so it
can be retried). MUSTER_KEEP_UPLOADS_DAYS keeps every one that many days for audit instead.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.db.models import F, Q
from django.utils.timezone import now

from muster.people.models import ImportSeen, ImportStatus, PersonImport
from muster.scheduling import jobs, leases

log = logging.getLogger(__name__)

FAILED_KEPT = timedelta(hours=24)


class ImportRefused(Exception):
    """What a user asked of an import cannot be done now; the message says why."""


def kept() -> timedelta:
    return timedelta(days=settings.MUSTER_KEEP_UPLOADS_DAYS)


def delete_file(imp: PersonImport) -> None:
    """Deletes the import's uploaded file and forgets its path: the import can no longer go on."""
    if not imp.path:
        return
    Path(imp.path).unlink(missing_ok=True)
    ImportSeen.objects.filter(person_import=imp).delete()
    PersonImport.objects.filter(id=imp.id, path=imp.path).update(path="")
    imp.path = ""


def ended(imp: PersonImport) -> None:
    """An import stopped for good (done, cancelled, dismissed): its file goes now unless kept for audit."""
    ImportSeen.objects.filter(person_import=imp).delete()
    if not settings.MUSTER_KEEP_UPLOADS_DAYS:
        delete_file(imp)


def cancel(imp: PersonImport) -> None:
    """Stops an import that has not ended; a worker importing it stops before its next batch commits."""
    cancelled = PersonImport.objects.filter(
        id=imp.id, status__in=[ImportStatus.MAPPING, ImportStatus.QUEUED, ImportStatus.RUNNING]
    ).update(status=ImportStatus.CANCELLED, lease_holder="", lease_expires=None, finished=now())
    if cancelled != 1:
        raise ImportRefused("This import has already ended.")
    imp.refresh_from_db()
    ended(imp)


def retry(imp: PersonImport, enqueue: Callable[[str], object]) -> None:
    """Queues a failed import again; it resumes after its last committed batch."""
    if not imp.path:
        raise ImportRefused("The uploaded file has been deleted: upload it again to import it.")
    queued = (
        PersonImport.objects.filter(id=imp.id, status=ImportStatus.FAILED)
        .exclude(path="")
        .update(status=ImportStatus.QUEUED, error="", finished=None, dismissed=False)
    )
    if queued != 1:
        raise ImportRefused("Only a failed import whose file is still there can be retried.")
    enqueue(str(imp.code))


def dismiss(imp: PersonImport) -> None:
    """A failed import that will not be retried: its file goes as a finished import's does."""
    if PersonImport.objects.filter(id=imp.id, status=ImportStatus.FAILED).update(dismissed=True) != 1:
        raise ImportRefused("Only a failed import can be dismissed.")
    imp.refresh_from_db()
    ended(imp)


def delete_old_files() -> int:
    """The periodic job: deletes the files their imports no longer need. Returns how many."""
    at = now()
    failed_kept = at - max(kept(), FAILED_KEPT)
    # Uploaded and never mapped: nobody is coming back for it.
    PersonImport.objects.filter(status=ImportStatus.MAPPING, created__lt=failed_kept).update(
        status=ImportStatus.CANCELLED, error="Not started within 24 hours: the file was deleted.", finished=F("created")
    )
    over = (
        Q(status__in=[ImportStatus.DONE, ImportStatus.CANCELLED], finished__lt=at - kept())
        | Q(status=ImportStatus.FAILED, dismissed=True, finished__lt=at - kept())
        | Q(status=ImportStatus.FAILED, finished__lt=failed_kept)
    )
    deleted = 0
    for imp in PersonImport.objects.filter(over).exclude(path=""):
        delete_file(imp)
        deleted += 1
    if deleted:
        log.info("Deleted %s uploaded CSV files", deleted)
    return deleted


def register(enqueue: Callable[[str], object]) -> None:
    """Puts imports under the lease rule and their file clean-up on the scheduler (called at start-up)."""
    leases.register(
        "person_import",
        leases.Kind(
            held=lambda: PersonImport.objects.filter(status=ImportStatus.RUNNING),
            resume=lambda imp: enqueue(str(imp.code)),
        ),
    )
    jobs.register("delete_old_import_files", jobs.Job(delete_old_files, timedelta(hours=1)))
