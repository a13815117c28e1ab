"""CSV export of people, through the masking layer, formula-safe."""

from __future__ import annotations

from collections.abc import Iterator

from defusedcsv import csv as safe_csv
from django.db.models import QuerySet

from muster.people import values as pv
from muster.people.models import Person, Property
from muster.people.serialise import Viewer, email, shown, value_text


def export_rows(people: QuerySet[Person], properties: list[Property], viewer: Viewer) -> Iterator[list[str]]:
    """Header then one row per person, through the masking layer, a page of 1,000 at a time."""
    yield ["Email", "First name", "Last name", "Opted out", *[p.label for p in properties]]
    last = 0
    ordered = people.order_by("id").prefetch_related("emails")
    while True:
        page = list(ordered.filter(id__gt=last)[:1000])
        if not page:
            return
        values = pv.values_of(page, properties)
        for person in page:
            yield [
                email(viewer, person.primary_email),
                shown_part(viewer, person.first_name),
                shown_part(viewer, person.last_name),
                "yes" if person.opted_out else "no",
                *[value_text(viewer, p, values.get((person.id, p.id))) for p in properties],
            ]
        last = page[-1].id


def shown_part(viewer: Viewer, text: str) -> str:
    return shown(viewer, True, text)


class Echo:
    def write(self, value: str) -> str:
        return value


def csv_lines(rows: Iterator[list[str]]) -> Iterator[str]:
    """Formula-safe CSV lines: defusedcsv escapes cells starting with = + - @ and friends."""
    writer = safe_csv.writer(Echo())
    for row in rows:
        yield writer.writerow(row)
