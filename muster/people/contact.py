"""Opt-out and opt-in (DESIGN §5.3): opt-out means "do not contact", it blocks invitations and
reminders, nothing else. Pages and the API change it only through these."""

from __future__ import annotations

from django.utils.timezone import now

from muster.people.models import Person


def opt_out(person: Person) -> None:
    """Idempotent: a second opt-out keeps the time of the first."""
    Person.objects.filter(id=person.id, opted_out=False).update(opted_out=True, opted_out_at=now())
    person.refresh_from_db(fields=["opted_out", "opted_out_at"])


def opt_in(person: Person) -> None:
    """The person may be contacted again (they asked, or the opt-out was a mistake)."""
    Person.objects.filter(id=person.id, opted_out=True).update(opted_out=False, opted_out_at=None)
    person.refresh_from_db(fields=["opted_out", "opted_out_at"])
