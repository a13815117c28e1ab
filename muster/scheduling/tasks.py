from __future__ import annotations

from django.contrib.sessions.models import Session
from django.utils.timezone import now
from django_tasks import task


@task()
def prune_expired_sessions() -> int:
    deleted, _ = Session.objects.filter(expire_date__lt=now()).delete()
    return deleted
