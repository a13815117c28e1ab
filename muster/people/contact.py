"""Opt-out and opt-in (DESIGN §5.3): opt-out means "do not contact", it blocks invitations and
reminders, nothing else. Pages and the API change it only through these."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils.timezone import now

from muster.people.models import ContactChange, Person


@transaction.atomic
def opt_out(person: Person, by: Any = None) -> None:
    """Idempotent: a second opt-out keeps the time of the first. Each change is recorded."""
    stamp = now()
    if Person.objects.filter(id=person.id, opted_out=False).update(opted_out=True, opted_out_at=stamp):
        ContactChange.objects.create(person=person, opted_out=True, by=by, at=stamp)
    person.refresh_from_db(fields=["opted_out", "opted_out_at"])


@transaction.atomic
def opt_in(person: Person, by: Any = None, reason: str = "") -> None:
    """The person may be contacted again (they asked, or the opt-out was a mistake), with why."""
    if Person.objects.filter(id=person.id, opted_out=True).update(opted_out=False, opted_out_at=None):
        ContactChange.objects.create(person=person, opted_out=False, by=by, reason=reason.strip()[:500])
    person.refresh_from_db(fields=["opted_out", "opted_out_at"])
