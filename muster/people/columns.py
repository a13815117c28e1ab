"""Which properties the People list shows as columns, remembered per user."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import TYPE_CHECKING

from muster.people.models import ListColumns, Property

if TYPE_CHECKING:
    from muster.accounts.models import User

# Until someone chooses, the list shows the first few properties.
DEFAULT_COLUMNS = 4


def chosen(user: User, properties: list[Property]) -> list[Property]:
    """The user's columns in the properties' own order, so the order is the same whoever chose what."""
    prefs = ListColumns.objects.filter(user=user).first()
    if prefs is None:
        return properties[:DEFAULT_COLUMNS]
    wanted = set(prefs.properties.values_list("id", flat=True))
    return [p for p in properties if p.id in wanted]


def choose(user: User, codes: Iterable[str]) -> int:
    """Remembers the properties named by code (unknown codes are ignored); returns how many were kept."""
    valid = []
    for code in codes:
        try:
            valid.append(uuid.UUID(code))
        except ValueError:
            continue
    prefs, _ = ListColumns.objects.get_or_create(user=user)
    props = list(Property.objects.filter(code__in=valid))
    prefs.properties.set(props)
    return len(props)
