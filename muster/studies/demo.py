"""Demo studies for `make run` (first run only; `front`'s load_demo), with participants drawn from
the demo panel of app users."""

from __future__ import annotations

from datetime import timedelta

from django.utils.timezone import now

from muster.people.models import Panel, Person
from muster.studies.models import Study, StudyKind, StudyStatus
from muster.studies.participants import add_participants, advance, change_study_status


def load(panel: Panel) -> None:
    onboarding = Study.objects.create(
        name="Onboarding survey",
        kind=StudyKind.SURVEY,
        status=StudyStatus.ACTIVE,
        participation_limit=40,
        landing_slug="onboarding",
        landing_text="Tell us how your first week with the app went (5 minutes).",
    )
    added, _ = add_participants(onboarding, Person.objects.filter(memberships__panel=panel)[:25])
    start = now() - timedelta(days=6)
    for n, p in enumerate(added[:12]):
        # As events would move them: an invitation sent, a link opened, a response arriving,
        # each stamped with when it happened.
        advance(p, "invited", start)
        opened = start + timedelta(hours=n * 5)
        if n < 8:
            advance(p, "link_opened", opened)
        if n < 5:
            advance(p, "survey_started", opened + timedelta(minutes=2))
        if n < 3:
            advance(p, "survey_completed", opened + timedelta(minutes=9))
    # One backfilled response: straight from not contacted to completed, nothing in between.
    advance(added[12], "survey_completed", start + timedelta(days=2))
    Study.objects.create(
        name="Checkout interviews",
        kind=StudyKind.INTERVIEW,
        status=StudyStatus.DRAFT,
        participation_limit=8,
        landing_slug="checkout-interviews",
        landing_text="A 45-minute video call about paying online.",
    )
    # An ended study, to show what closing means (and that it can be reopened), with its record.
    pilot = Study.objects.create(
        name="Pricing page pilot",
        kind=StudyKind.UNMODERATED_TEST,
        status=StudyStatus.ACTIVE,
        landing_slug="pricing-pilot",
        landing_text="Try our new pricing page and tell us what you think (10 minutes).",
    )
    done, _ = add_participants(pilot, Person.objects.filter(memberships__panel=panel)[25:31])
    for p in done[:4]:
        advance(p, "survey_completed", start - timedelta(days=20))
    change_study_status(pilot, StudyStatus.CLOSED)
