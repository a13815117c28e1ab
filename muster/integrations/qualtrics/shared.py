"""Whether Muster's service user has been seen to have any survey shared with it.

Kept in the shared cache (the database cache table), per connection: it only ticks a box on the
getting-started checklist, so losing it costs nothing but one more visit to the surveys page.
"""

from __future__ import annotations

from django.core.cache import cache

from muster.integrations.qualtrics.models import QualtricsConnection


def _key(connection: QualtricsConnection) -> str:
    return f"qualtrics:surveys-shared:{connection.code}"


def remember(connection: QualtricsConnection, active_surveys: int) -> None:
    cache.set(_key(connection), active_surveys > 0, timeout=None)


def any_seen(connection: QualtricsConnection) -> bool:
    return bool(cache.get(_key(connection), False))
