"""When to reconcile which form (DESIGN §8): the scheduler's job `qualtrics_reconcile_forms`.

Every JOB_EVERY the job looks at the Qualtrics forms that are due (next_sync_at passed or unset),
attached, not stopped, of an active study or a panel's sign-up. For each one it either
- runs it: it has never synced, its last run failed, it is stale (IDLE), or it is hot — a
  participant of its study was handed off to it in the last HANDED_OFF and has not come back —
  by claiming it (a conditional UPDATE on next_sync_at, so two schedulers never run one form
  twice) and enqueueing `reconcile_form` for the db_worker, so the scheduler loop stays short;
- or looks again HOT later (the same conditional UPDATE), which costs no Qualtrics call.
So a form of an active study is reconciled at least every IDLE, and every HOT while hot: a
response whose webhook and redirect were both lost arrives within a minute.

The call budget: a run takes about CALLS_PER_RUN calls; when the connection's budget for this
minute is shorter than that, the form waits for the next minute instead of failing.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.db.models import Exists, F, OuterRef, Q
from django.utils.timezone import now
from django_tasks import task

from muster.integrations.qualtrics import budget, connect
from muster.integrations.qualtrics.models import current_connection
from muster.integrations.qualtrics.reconcile import HANDED_OFF, HOT, IDLE, TOOL, Claim, claim, due, reconcile
from muster.studies.models import ParticipantStatus as S
from muster.studies.models import StudyParticipant, StudyStatus
from muster.surveys.models import OwnerKind, SurveyForm

logger = logging.getLogger(__name__)

JOB = "qualtrics_reconcile_forms"
JOB_EVERY = timedelta(seconds=10)
# Two exports (completed, in progress): a start, a few polls and a download each.
CALLS_PER_RUN = 12
MAX_PER_PASS = 200  # forms looked at per pass; the rest are next (oldest due first)

# Not come back yet: still before the step's completion.
SCREENER_PENDING = (S.LINK_OPENED, S.SCREENER_STARTED)
SURVEY_PENDING = (S.LINK_OPENED, S.SCREENER_QUALIFIED, S.SURVEY_STARTED)


def _handed_off(statuses: tuple[str, ...], since: datetime, also_qualified: bool = False) -> Exists:
    recent = Q(link_opened_at__gte=since)
    if also_qualified:
        # Sent on to the survey when qualified: that is their hand-off to the survey step.
        recent |= Q(screener_qualified_at__gte=since)
    waiting = StudyParticipant.objects.filter(recent, study_id=OuterRef("study_id"), status__in=statuses)
    return Exists(waiting)


def due_forms(brand: str, at: datetime | None = None) -> list[tuple[SurveyForm, bool]]:
    """The forms to look at now, oldest due first, each with whether it is hot."""
    at = at or now()
    since = at - HANDED_OFF
    forms = (
        SurveyForm.objects.filter(due(), tool=TOOL, brand=brand, detached_at=None, sync_stopped="")
        .filter(Q(owner_kind=OwnerKind.SIGNUP) | Q(study__status=StudyStatus.ACTIVE))
        .annotate(
            screener_waiting=_handed_off(SCREENER_PENDING, since),
            survey_waiting=_handed_off(SURVEY_PENDING, since, also_qualified=True),
        )
        .order_by(F("next_sync_at").asc(nulls_first=True), "id")[:MAX_PER_PASS]
    )
    found: list[tuple[SurveyForm, bool]] = []
    for form in forms:
        waiting = form.screener_waiting if form.owner_kind == OwnerKind.SCREENER else form.survey_waiting
        found.append((form, form.owner_kind != OwnerKind.SIGNUP and bool(waiting)))
    return found


def needs_run(form: SurveyForm, hot: bool, at: datetime) -> bool:
    if hot or form.last_synced_at is None or form.backfilled_at is None or form.sync_failures:
        return True
    # Stale by the next look: run now, so no form of an active study waits longer than IDLE.
    return form.last_synced_at <= at + HOT - IDLE


def look_again(form: SurveyForm, until: datetime) -> bool:
    """Moves a due form's next_sync_at to `until` without running it (a claim released at once)."""
    return claim(form, until) is not None


def enqueue_due_forms(at: datetime | None = None) -> int:
    """The job: runs what is due (as db_worker tasks), looks again later at the rest. Returns how
    many runs it enqueued."""
    at = at or now()
    connection = current_connection()
    if connection is None or connection.is_broken:
        return 0
    left = budget.remaining(connect.budget_key(connection), at)
    started = 0
    for form, hot in due_forms(connection.brand_id, at):
        if not needs_run(form, hot, at):
            look_again(form, at + HOT)
            continue
        if left < CALLS_PER_RUN:
            # The budget is short this minute: wait for the next one rather than fail.
            look_again(form, budget.next_window(at))
            continue
        held = claim(form)
        if held is None:
            continue  # another scheduler got there first
        left -= CALLS_PER_RUN
        reconcile_form.enqueue(form.pk, held.value.isoformat())
        started += 1
    return started


@task()
def reconcile_form(form_id: int, claimed: str) -> str:
    """A claimed form's run, in the db_worker. `claimed` is the claim's next_sync_at value."""
    form = SurveyForm.objects.filter(pk=form_id).first()
    if form is None:
        return "gone"
    return str(reconcile(form, Claim(form_id, datetime.fromisoformat(claimed))))


def register_jobs() -> None:
    from muster.scheduling import jobs

    jobs.register(JOB, jobs.Job(enqueue_due_forms, JOB_EVERY))
