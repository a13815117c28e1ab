from __future__ import annotations

from django.http import HttpRequest

from muster.accounts.roles import Capability, can
from muster.integrations.qualtrics.models import current_connection
from muster.integrations.qualtrics.scrub import shown


def broken_connection(request: HttpRequest) -> dict[str, object]:
    """A banner for those who can repair a broken Qualtrics connection."""
    if not can(getattr(request, "user", None), Capability.MANAGE_INTEGRATIONS):
        return {}
    connection = current_connection()
    return {"qualtrics_broken": shown(connection) if connection is not None and connection.is_broken else None}
