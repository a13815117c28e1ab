"""Getting responses in, the two push paths (DESIGN §8): the return redirect and the webhook each
ask for a single fetch of one response, which hands it to the one ingestion function.

    request_fetch(connection, survey, rid)   dedupes (PendingFetch), then enqueues fetch_response
    fetch_response(survey, rid)              the task: GET the response within the call budget,
                                             ingest it; transient failures come back later

Dedupe is by constraint, not by looking at the task queue: a PendingFetch row per (connection,
response id) exists while a fetch is queued, so duplicated webhooks, or a webhook and the redirect
together, queue one fetch. A response already stored (finished) is not fetched again: edits come
in through the reconciliation export, which also serves whatever these paths gave up on.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils.timezone import now
from django_tasks import task

from muster.integrations.qualtrics import client, connect
from muster.integrations.qualtrics.answers import read_response
from muster.integrations.qualtrics.models import PendingFetch, QualtricsConnection, WebhookEvent, current_connection
from muster.integrations.qualtrics.scrub import scrub
from muster.studies.models import ParticipantStatus, StudyParticipant
from muster.surveys.answers import ResponseData
from muster.surveys.ingest import Reader, forms_using, ingest
from muster.surveys.models import OwnerKind, Response, SurveyForm
from muster.surveys.questions import QuestionDef

logger = logging.getLogger(__name__)

TOOL = "qualtrics"
# Waits between attempts after a 202 (not yet available), a 404, a 429 or a 5xx: about ten minutes
# in all, then the fetch is given up (the reconciliation export still brings the response in).
BACKOFF = (2, 5, 15, 30, 60, 120, 120, 120, 120)
# However often Muster's own call budget was spent (those waits are not attempts), a fetch older
# than this is given up: the export serves a burst better than single fetches do.
MAX_AGE = timedelta(hours=1)
# A pending fetch this far past its due time lost its task; the next request takes it over.
STALE = timedelta(minutes=5)
RESPONSE_ID = re.compile(r"R_[A-Za-z0-9]{1,60}")
# A participant with one of these statuses is still on the screener (DESIGN §5.4's hand-off).
ON_SCREENER = frozenset(
    {
        ParticipantStatus.NOT_CONTACTED,
        ParticipantStatus.INVITED,
        ParticipantStatus.LINK_OPENED,
        ParticipantStatus.SCREENER_STARTED,
    }
)
KINDS = ("completedResponse", "partialResponse")


def is_response_id(value: str) -> bool:
    return bool(RESPONSE_ID.fullmatch(value))


# ---------------------------------------------------------------- asking for a fetch


def _stored(connection: QualtricsConnection, surveys: Sequence[str], response_id: str, finished: bool) -> bool:
    brand = connection.brand_id
    found = Response.objects.filter(tool=TOOL, brand=brand, survey_id__in=surveys, response_id=response_id)
    return (found.filter(finished=True) if finished else found).exists()


def request_fetch(
    connection: QualtricsConnection, survey_id: str, response_id: str, fallback: str = "", *, finished: bool = True
) -> bool:
    """Queues a fetch of this response unless one is queued already or it is stored (`finished`:
    only a finished stored response counts; a partial event counts any). True when queued."""
    surveys = [s for s in (survey_id, fallback) if s]
    if _stored(connection, surveys, response_id, finished):
        return False
    try:
        with transaction.atomic():
            PendingFetch.objects.create(
                connection=connection, survey_id=survey_id, response_id=response_id, fallback_survey_id=fallback
            )
    except IntegrityError:
        pending = PendingFetch.objects.filter(connection=connection, response_id=response_id)
        # A second opinion on the survey becomes the fallback (the redirect may have guessed wrong).
        pending.filter(fallback_survey_id="").exclude(survey_id=survey_id).update(fallback_survey_id=survey_id)
        # A fetch whose task was lost (its worker died before it ran) is taken over.
        lost = pending.filter(next_attempt_at__lt=now() - STALE)
        if not lost.update(next_attempt_at=now()):
            return False
        survey_id = pending.values_list("survey_id", flat=True).first() or survey_id
    fetch_response.enqueue(survey_id, response_id)
    return True


def on_return(participant_id: str, response_id: str) -> bool:
    """The return redirect (DESIGN §5.4): fetch `rid` now when `pid` is a real Participant ID of a
    study with an attached Qualtrics form. The pid only picks the survey to ask; whose response it
    is comes from the response itself. True when a fetch was queued."""
    if not is_response_id(response_id):
        return False
    participant = StudyParticipant.objects.filter(participant_id=participant_id).only("study_id", "status").first()
    connection = current_connection()
    if participant is None or connection is None or connection.is_broken:
        return False
    forms = SurveyForm.objects.filter(
        study_id=participant.study_id,
        tool=TOOL,
        brand=connection.brand_id,
        detached_at=None,
        owner_kind__in=[OwnerKind.SCREENER, OwnerKind.SURVEY],
    )
    by_step = {f.owner_kind: f.survey_id for f in forms}
    if not by_step:
        return False
    screener, survey = by_step.get(OwnerKind.SCREENER, ""), by_step.get(OwnerKind.SURVEY, "")
    first, other = (screener, survey) if participant.status in ON_SCREENER else (survey, screener)
    first, other = (first or other), (other if first else "")
    return request_fetch(connection, first, response_id, other if other != first else "")


def on_event(event: WebhookEvent) -> None:
    """A newly recorded webhook event: fetch its response, or drop it when no attached form uses
    its survey (processed, with nothing done)."""
    connection = event.connection
    if event.kind not in KINDS or connection.is_broken:
        # While broken nothing can be fetched: the event waits, unprocessed, for the
        # reconciliation after the repair.
        return
    forms = forms_using(TOOL, connection.brand_id, event.survey_id)
    if not forms:
        WebhookEvent.objects.filter(pk=event.pk, processed_at=None).update(processed_at=now())
        return
    SurveyForm.objects.filter(pk__in=[f.pk for f in forms]).update(last_webhook_at=event.received_at)
    queued = request_fetch(connection, event.survey_id, event.response_id, finished=event.kind == "completedResponse")
    if not queued and not PendingFetch.objects.filter(connection=connection, response_id=event.response_id).exists():
        # Already stored: nothing left to do for this event.
        WebhookEvent.objects.filter(pk=event.pk, processed_at=None).update(processed_at=now())


# ---------------------------------------------------------------- the fetch


def reader(fetched: client.SingleResponse) -> Reader:
    raw = fetched.model_dump(by_alias=True)

    def read(questions: Sequence[QuestionDef], participant_field: str) -> ResponseData:
        return read_response(questions, fetched.values, fetched.labels, participant_field, fetched.response_id, raw=raw)

    return read


def _get(account: client.Account, surveys: Sequence[str], response_id: str) -> tuple[str, client.SingleResponse]:
    """The response from the first survey that has it; a 404 moves on to the next one."""
    missing: client.QualtricsNotFound | None = None
    for survey_id in surveys:
        try:
            return survey_id, client.get_response(account, survey_id, response_id)
        except client.QualtricsNotFound as e:
            missing = e
    assert missing is not None
    raise missing


@task()
def fetch_response(survey_id: str, response_id: str) -> str:
    """Fetches one response with the live connection's service user and ingests it. Returns what
    happened, in a word or two (the task's result)."""
    connection = current_connection()
    if connection is None:
        return "not connected"
    pending = PendingFetch.objects.filter(connection=connection, response_id=response_id).first()
    if pending is None:
        # Called directly, or a duplicate task from a race: fetch unless it is in already.
        if _stored(connection, [survey_id], response_id, finished=True):
            return "stored already"
        pending, _ = PendingFetch.objects.get_or_create(
            connection=connection, response_id=response_id, defaults={"survey_id": survey_id}
        )
    if connection.is_broken:
        _give_up(connection, pending, f"the Qualtrics connection is broken ({connection.status_reason})")
        return "connection broken"
    surveys = [s for s in (pending.survey_id, pending.fallback_survey_id) if s]
    try:
        with connect.connection_account(connection) as account:
            found_in, fetched = _get(account, surveys, response_id)
    except client.QualtricsRateLimited as e:
        if e.status is None:
            # Muster's own budget is spent: not an attempt; come back when its minute ends.
            return _later(connection, pending, e, wait=e.retry_after or 60.0, counts=False)
        return _later(connection, pending, e, wait=e.retry_after or 0.0)
    except (client.QualtricsNotReady, client.QualtricsNotFound, client.QualtricsUnavailable) as e:
        # 202 and 404 on a single response are transient for minutes (DESIGN §8); 5xx too.
        return _later(connection, pending, e)
    except client.QualtricsAuthError as e:
        if e.status == 401:
            # The token itself stopped working (the account's hook marked it already; this says why).
            connect.mark_broken(connection, f"The service user's token stopped working: {e}")
            _give_up(connection, pending, "the Qualtrics connection is broken: reconnect or repair it")
            return "connection broken"
        # 403: the service user may not read this survey's responses; the connection is fine.
        _give_up(connection, pending, f"Qualtrics refused to let Muster's service user read it ({e.message})")
        return "refused"
    except client.QualtricsError as e:
        _give_up(connection, pending, scrub(str(e)))
        return "failed"
    results = ingest(TOOL, connection.brand_id, found_in, [reader(fetched)])
    PendingFetch.objects.filter(pk=pending.pk).delete()
    WebhookEvent.objects.filter(connection=connection, response_id=response_id, processed_at=None).update(
        processed_at=now()
    )
    return results[0].outcome if results else "dropped"


def _later(
    connection: QualtricsConnection,
    pending: PendingFetch,
    error: client.QualtricsError,
    wait: float = 0.0,
    counts: bool = True,
) -> str:
    """Comes back after the next backoff step (at least `wait`), or gives up once they are spent."""
    attempts = pending.attempts + 1 if counts else pending.attempts
    if attempts > len(BACKOFF) or now() - pending.requested_at > MAX_AGE:
        _give_up(connection, pending, _why(error))
        return "given up"
    delay = max(wait, BACKOFF[attempts - 1] if counts else 0.0)
    due = now() + timedelta(seconds=delay)
    PendingFetch.objects.filter(pk=pending.pk).update(attempts=attempts, next_attempt_at=due, last_error=_why(error))
    fetch_response.using(run_after=due).enqueue(pending.survey_id, pending.response_id)
    logger.info("Qualtrics response %s: %s; trying again in %.0f s", pending.response_id, _why(error), delay)
    return "later"


def _why(error: client.QualtricsError) -> str:
    if isinstance(error, client.QualtricsNotReady):
        return "Qualtrics kept saying it is not available yet"
    if isinstance(error, client.QualtricsNotFound):
        return "Qualtrics kept answering that it does not exist"
    if isinstance(error, client.QualtricsRateLimited):
        return "Qualtrics was busy (too many requests)" if error.status else "Muster's Qualtrics call budget was spent"
    return f"Qualtrics did not answer ({scrub(error.message)})"


def _give_up(connection: QualtricsConnection, pending: PendingFetch, reason: str) -> None:
    """Stops trying and says so on the forms using the survey, where their sync health shows it.
    The webhook events stay unprocessed: the reconciliation export serves them."""
    PendingFetch.objects.filter(pk=pending.pk).delete()
    surveys = [s for s in (pending.survey_id, pending.fallback_survey_id) if s]
    message = (
        f"Response {pending.response_id} could not be fetched: {reason}. "
        "The next reconciliation brings it in if Qualtrics has it."
    )
    SurveyForm.objects.filter(tool=TOOL, brand=connection.brand_id, survey_id__in=surveys, detached_at=None).update(
        sync_error=message
    )
    logger.warning("Qualtrics response %s given up: %s", pending.response_id, reason)


def arrived(participant_id: str, response_id: str) -> bool:
    """Whether this response is in and attached to this participant (the return page's status)."""
    return Response.objects.filter(
        tool=TOOL, response_id=response_id, participant__participant_id=participant_id
    ).exists()
