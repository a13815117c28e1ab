"""Panel membership: adding people, and the review decisions (approve, reject, back to pending,
remove). Pages and the API change memberships only through these."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction
from django.db.models import ProtectedError, QuerySet
from django.utils.timezone import now

from muster.accounts.models import User
from muster.people.models import MembershipStatus, Panel, PanelMembership, Person, Source

BATCH = 2000


class Refused(Exception):
    """A refused membership change; the message says why."""


def add_members(
    panel: Panel,
    people: QuerySet[Person] | Iterable[Person],
    status: str = MembershipStatus.APPROVED,
    source: str = Source.MANUAL,
) -> int:
    """Adds people (a filtered queryset, possibly large, or a list) in batches; existing members stay
    as they are.

    Returns how many joined.
    """
    if isinstance(people, QuerySet):
        ids: Iterable[int] = people.order_by().values_list("id", flat=True).iterator(chunk_size=BATCH)
    else:
        ids = dict.fromkeys(p.id for p in people)
    added = 0
    batch: list[int] = []
    for person_id in ids:
        batch.append(person_id)
        if len(batch) == BATCH:
            added += _add(panel, batch, status, source)
            batch = []
    if batch:
        added += _add(panel, batch, status, source)
    return added


def _add(panel: Panel, ids: list[int], status: str, source: str) -> int:
    present = set(PanelMembership.objects.filter(panel=panel, person_id__in=ids).values_list("person_id", flat=True))
    new = [PanelMembership(panel=panel, person_id=i, status=status, source=source) for i in ids if i not in present]
    # ignore_conflicts: a concurrent add of the same person is not an error.
    PanelMembership.objects.bulk_create(new, ignore_conflicts=True)
    return len(new)


def decide(membership: PanelMembership, status: str, user: User) -> PanelMembership:
    """Approves, rejects or puts back to pending review, recording who decided and when."""
    if status not in MembershipStatus.values:
        raise Refused("Choose approved, rejected or pending review.")
    decided = PanelMembership.objects.filter(id=membership.id).update(
        status=status, reviewed_by=user, reviewed_at=now()
    )
    if decided != 1:
        raise Refused("This person was removed from the panel meanwhile.")
    membership.refresh_from_db()
    return membership


def remove(membership: PanelMembership) -> None:
    """Takes the person out of the panel (they can be added again later)."""
    PanelMembership.objects.filter(id=membership.id).delete()


@transaction.atomic
def delete_panel(panel: Panel) -> int:
    """Deletes the panel and its memberships (the people stay); returns how many memberships went.
    Refused while a sign-up form belongs to it."""
    memberships = panel.memberships.count()
    try:
        with transaction.atomic():
            panel.delete()
    except ProtectedError:
        raise Refused(
            f"{panel.name} has a sign-up form, which keeps its responses: the panel cannot be deleted."
        ) from None
    return memberships
