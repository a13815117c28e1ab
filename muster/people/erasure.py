"""Erasing a person (a GDPR/CCPA erasure request): everything Muster holds about them goes.

Erasing is not opting out. Opting out keeps the person and stops invitations and reminders;
erasing removes the person, their emails, property values and history, panel memberships and
study participations, and nothing of them can be brought back. What stays is an `Erasure`
record: who erased, when, and how many rows of each kind went.

Participations live in apps that `people` may not import: the database's cascades, as Django's
deletion collector follows them, find them, and the collector's per-model counts say what went.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from django.db import connection, router, transaction
from django.db.models.deletion import Collector

from muster.people.models import Erasure, ImportRejection, ImportSeen, Person, Revision

if TYPE_CHECKING:
    from muster.accounts.models import User

log = logging.getLogger(__name__)

# The collector names models by label; a record names kinds a person would recognise.
KINDS = {
    "people.Person": "person",
    "people.PersonEmail": "emails",
    "people.PropertyValue": "property values",
    "people.PropertyValue_value_options": "options picked",
    "people.PropertyValueChange": "history",
    "people.Revision": "revisions",
    "people.PanelMembership": "panel memberships",
    "people.ImportRejection": "import reports",
    "people.ImportSeen": "import reports",
    "studies.StudyParticipant": "study participations",
    "surveys.Response": "survey responses",
}

# What the confirmation names, in the order it names them, with the word for one.
WHAT_GOES = {
    "emails": "email",
    "property values": "property value",
    "history": "history entry",
    "panel memberships": "panel membership",
    "study participations": "study participation",
    "survey responses": "survey response",
}


def preview(person: Person) -> list[str]:
    """What erasing the person would delete, kind by kind as the confirmation names them ("2 emails")."""
    collector = Collector(using=router.db_for_write(Person))
    collector.collect([person])
    counts: Counter[str] = Counter()
    for model, instances in collector.data.items():
        counts[KINDS.get(model._meta.label, model._meta.label)] += len(instances)
    for qs in collector.fast_deletes:
        counts[KINDS.get(qs.model._meta.label, qs.model._meta.label)] += qs.count()
    shown = []
    for kind, one in WHAT_GOES.items():
        n = counts[kind]
        shown.append(f"{n} {one if n == 1 else 'history entries' if kind == 'history' else kind}")
    return shown


def erase(person: Person, by: User | None) -> Erasure:
    """Deletes the person and everything that refers to them, and records the erasure.

    On SQLite the deleted rows are overwritten (secure_delete) and the WAL is checkpointed and
    truncated afterwards, so the erased data is gone from the database files, not only from queries.
    """
    with _secure_delete(), transaction.atomic():
        emails = list(person.emails.values_list("email", flat=True))
        revisions = set(person.changes.values_list("revision_id", flat=True))
        counts: Counter[str] = Counter()
        # An import's report of a refused row, and its list of emails seen, name the person by email.
        _, deleted = ImportRejection.objects.filter(email__in=emails).delete()
        counts.update(deleted)
        _, deleted = ImportSeen.objects.filter(email__in=emails).delete()
        counts.update(deleted)
        _, deleted = person.delete()
        counts.update(deleted)
        # A revision that only wrote this person's values says when someone edited them: it goes too.
        _, deleted = Revision.objects.filter(id__in=revisions, changes__isnull=True).delete()
        counts.update(deleted)
        kinds: Counter[str] = Counter()
        for label, n in counts.items():
            if n:
                kinds[KINDS.get(label, label)] += n
        record = Erasure.objects.create(erased_by=by, counts=dict(sorted(kinds.items())))
        transaction.on_commit(_checkpoint)
    return record


@contextmanager
def _secure_delete() -> Iterator[None]:
    if connection.vendor != "sqlite":
        # PostgreSQL frees deleted rows at the next VACUUM (autovacuum runs it); it has no per-delete switch.
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA secure_delete")
        before = cursor.fetchone()[0]
        cursor.execute("PRAGMA secure_delete = ON")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"PRAGMA secure_delete = {int(before)}")


def _checkpoint() -> None:
    if connection.vendor != "sqlite":
        return
    # The WAL still holds the pages as they were before the delete: copy the overwritten pages into
    # the database file and empty the WAL.
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        busy, frames, copied = cursor.fetchone()
    if busy or frames != copied:
        # Another connection is reading an older snapshot. The erased rows are already zeroes in the
        # WAL's newest pages; the old frames go when the next checkpoint reaches them.
        log.warning("Erasure: the WAL could not be emptied yet (%s of %s pages copied)", copied, frames)
