"""Leases for long-running work (CSV imports now; exports and ingestion next): one recovery rule.

A row of work carries a lease: who holds it and until when. The holder renews it as it commits each
batch, in the same transaction, so a batch commits only while its worker still holds the work. A
worker that dies stops renewing; its lease lapses, and the periodic job `reclaim_lapsed_leases` frees
the row and enqueues its work again. The next worker takes the lease by conditional UPDATE and
resumes from the last committed batch. Nothing is left "running" by a killed process.

    class Export(Leased): ...
    leases.register("export", leases.Kind(held=..., resume=...))
    if leases.take(Export.objects.filter(id=...), holder): ...
"""

from __future__ import annotations

import os
import secrets
import socket
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db import models
from django.db.models import Q, QuerySet
from django.utils.timezone import now

# How long a lease lasts without renewal. A batch commits in about a second; the margin covers a
# slow disk or a wait for SQLite's write lock. A killed worker's work resumes within this plus the
# reclaim job's period.
LEASE = timedelta(minutes=2)


class LeaseLost(Exception):
    """The work is no longer ours: cancelled, or taken over after our lease lapsed."""


class Leased(models.Model):
    """The lease fields of a row of long-running work. An empty holder means nobody holds it."""

    lease_holder = models.CharField(max_length=100, blank=True)
    lease_expires = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True


def new_holder() -> str:
    """A name for this worker's hold on one piece of work: host, process, and a random part."""
    return f"{socket.gethostname()[:60]}:{os.getpid()}:{secrets.token_hex(4)}"


def free() -> Q:
    return Q(lease_holder="") | Q(lease_expires__lt=now()) | Q(lease_expires__isnull=True)


def take(work: QuerySet[Any], holder: str, lasting: timedelta = LEASE, **changes: Any) -> bool:
    """Takes the lease of the row in `work` if nobody holds it or its lease lapsed (conditional UPDATE).

    Exactly one updated row means the work is ours; none means another worker holds it.
    """
    return work.filter(free()).update(lease_holder=holder, lease_expires=now() + lasting, **changes) == 1


def renew(work: QuerySet[Any], holder: str, lasting: timedelta = LEASE, **changes: Any) -> None:
    """Extends our lease (and applies `changes`), or raises LeaseLost when the work is no longer ours.

    Call it inside the transaction that commits a batch: on PostgreSQL the row stays locked until
    that commit, so a worker taking over waits for it, and then finds the lease renewed.
    """
    if work.filter(lease_holder=holder).update(lease_expires=now() + lasting, **changes) != 1:
        raise LeaseLost


def release(work: QuerySet[Any], holder: str, **changes: Any) -> bool:
    """Gives the lease up (with `changes`, e.g. the work's final status); False when it was not ours."""
    return work.filter(lease_holder=holder).update(lease_holder="", lease_expires=None, **changes) == 1


@dataclass(frozen=True)
class Kind:
    """A kind of leased work: which of its rows are under way, and how to enqueue one again."""

    held: Callable[[], QuerySet[Any]]
    resume: Callable[[Any], object]


KINDS: dict[str, Kind] = {}


def register(name: str, kind: Kind) -> None:
    KINDS[name] = kind


def reclaim_lapsed() -> int:
    """Frees every lapsed lease of work under way and enqueues that work again. Returns how many.

    Each is freed by a conditional UPDATE on the lease as it was read, so when several schedulers
    run, one of them reclaims it; a worker that renewed meanwhile keeps it. The freed lease is given
    a fresh expiry: if no worker takes the work up in time, the next run enqueues it again.
    """
    reclaimed = 0
    for kind in KINDS.values():
        for row in kind.held().filter(Q(lease_expires__lt=now()) | Q(lease_expires__isnull=True)):
            as_read = Q(lease_expires=row.lease_expires) if row.lease_expires else Q(lease_expires__isnull=True)
            same = kind.held().filter(as_read, pk=row.pk, lease_holder=row.lease_holder)
            if same.update(lease_holder="", lease_expires=now() + LEASE) == 1:
                kind.resume(row)
                reclaimed += 1
    return reclaimed
