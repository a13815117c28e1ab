"""Finding "these people" from person codes and emails: the one resolver every page and API uses."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TypeVar
from uuid import UUID

from muster.people.models import Person, PersonEmail, normalise_email

T = TypeVar("T")

# Keeps each IN (...) well inside every database's limit on query parameters.
CHUNK = 1000


class Unknown(Exception):
    """Some of the codes or emails given name nobody; the message says so."""


def people_named(codes: Iterable[UUID | str] = (), emails: Iterable[str] = ()) -> list[Person]:
    """The people these codes and emails name, each once.

    Every code and every email (primary or not, in any case) must be someone's, else Unknown and
    nobody is returned; one person may be named several times, by code and by any of their emails.
    """
    wanted_codes: set[UUID] = set()
    for code in codes:
        try:
            wanted_codes.add(code if isinstance(code, UUID) else UUID(code))
        except ValueError:
            raise Unknown("Some of these people do not exist.") from None
    wanted_emails = {normalise_email(e) for e in emails}
    found: dict[int, Person] = {}
    for batch in _chunks(wanted_codes):
        found |= {p.id: p for p in Person.objects.filter(code__in=batch)}
    known_codes = {p.code for p in found.values()} & wanted_codes
    known_emails: set[str] = set()
    for email_batch in _chunks(wanted_emails):
        for row in PersonEmail.objects.filter(email__in=email_batch).select_related("person"):
            known_emails.add(row.email)
            found.setdefault(row.person_id, row.person)
    if len(known_codes) < len(wanted_codes) or len(known_emails) < len(wanted_emails):
        raise Unknown("Some of these people do not exist.")
    return list(found.values())


def _chunks(items: Iterable[T]) -> Iterator[list[T]]:
    batch: list[T] = []
    for item in items:
        batch.append(item)
        if len(batch) == CHUNK:
            yield batch
            batch = []
    if batch:
        yield batch
