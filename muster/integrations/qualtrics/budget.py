"""The per-connection Qualtrics call budget (MUSTER_QUALTRICS_CALLS_PER_MINUTE), shared by every
process through the database: each call takes one unit by conditional UPDATE."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils.timezone import now

from muster.integrations.qualtrics.client import QualtricsRateLimited
from muster.integrations.qualtrics.models import CallBudget


def _window(at: datetime) -> datetime:
    return at.replace(second=0, microsecond=0)


def try_spend(key: str, per_minute: int, at: datetime | None = None) -> float:
    """Takes one call from this minute's budget. Returns 0 when taken, else seconds until the next minute."""
    at = at or now()
    window = _window(at)
    taken = CallBudget.objects.filter(key=key, window_start=window, used__lt=per_minute).update(used=F("used") + 1)
    if taken:
        return 0.0
    # A new minute (or a first call): restart the count, unless another process just did.
    if CallBudget.objects.filter(key=key, window_start__lt=window).update(window_start=window, used=1):
        return 0.0
    if not CallBudget.objects.filter(key=key).exists():
        try:
            with transaction.atomic():
                CallBudget.objects.create(key=key, window_start=window, used=1)
            return 0.0
        except IntegrityError:
            return try_spend(key, per_minute, at)
    return 60.0 - (at - window).total_seconds()


def spender(key: str, max_wait: float = 5.0) -> Callable[[], None]:
    """A budget hook for client.Account: waits briefly for the next minute, else raises RateLimited."""

    def spend() -> None:
        per_minute = settings.MUSTER_QUALTRICS_CALLS_PER_MINUTE
        while (wait := try_spend(key, per_minute)) > 0:
            if wait > max_wait:
                raise QualtricsRateLimited(
                    f"Muster's own budget of {per_minute} Qualtrics calls a minute is spent.",
                    status=None,
                    retry_after=wait,
                )
            time.sleep(wait)

    return spend


def remaining(key: str, at: datetime | None = None) -> int:
    """The calls left in this minute's budget; a read that takes none (for callers that plan)."""
    per_minute = int(settings.MUSTER_QUALTRICS_CALLS_PER_MINUTE)
    row = CallBudget.objects.filter(key=key).values("window_start", "used").first()
    if row is None or row["window_start"] < _window(at or now()):
        return per_minute
    return max(0, per_minute - int(row["used"]))


def next_window(at: datetime | None = None) -> datetime:
    """When the budget fills up again: the start of the next minute."""
    return _window(at or now()) + timedelta(minutes=1)
