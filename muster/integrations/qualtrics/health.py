"""The scheduled check: a token that stopped working (revoked, regenerated, user disabled) turns the
connection "broken" with the reason, and polling stops until someone repairs it."""

from __future__ import annotations

import logging
from datetime import timedelta

from django_tasks import task

logger = logging.getLogger(__name__)


@task()
def check_connection() -> str:
    from muster.integrations.qualtrics import client, connect
    from muster.integrations.qualtrics.models import current_connection
    from muster.integrations.qualtrics.scrub import scrub

    connection = current_connection()
    if connection is None:
        return "not connected"
    try:
        connect.test_connection(connection)
    except client.QualtricsAuthError as e:
        return scrub(f"broken: {e}")
    except client.QualtricsError as e:
        # Transient trouble (5xx, 429, network) is not a broken token: try again next time.
        logger.warning("Qualtrics connection check failed for now: %s", scrub(str(e)))
        return scrub(f"unavailable: {e}")
    return "ok"


def _enqueue_check() -> object:
    return check_connection.enqueue()


def register_jobs() -> None:
    from muster.scheduling import jobs

    jobs.register("qualtrics_check_connection", jobs.Job(_enqueue_check, timedelta(minutes=15)))
