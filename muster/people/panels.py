from __future__ import annotations

from django.db.models import QuerySet

from muster.people.models import MembershipStatus, Panel, PanelMembership, Person, Source


def add_members(
    panel: Panel, people: QuerySet[Person], status: str = MembershipStatus.APPROVED, source: str = Source.MANUAL
) -> int:
    """Adds people (a filtered queryset, possibly large) in batches; existing members stay as they are.

    Returns how many joined.
    """
    added = 0
    ids = people.order_by().values_list("id", flat=True).iterator(chunk_size=2000)
    batch: list[int] = []
    for person_id in ids:
        batch.append(person_id)
        if len(batch) == 2000:
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
