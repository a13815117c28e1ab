from __future__ import annotations

from django.http import HttpRequest

from muster.accounts.roles import Capability, can
from muster.integrations.qualtrics.models import ConnectionStatus, QualtricsConnection


def broken_connection(request: HttpRequest) -> dict[str, object]:
    """A banner for those who can repair a broken Qualtrics connection."""
    if not can(getattr(request, "user", None), Capability.MANAGE_INTEGRATIONS):
        return {}
    broken = QualtricsConnection.objects.filter(status=ConnectionStatus.BROKEN).first()
    return {"qualtrics_broken": broken}
