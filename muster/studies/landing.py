"""A study's public landing page and hand-off links (DESIGN §5.4): what state a study shows its
visitors, the one-time link that lets whoever entered an email continue, and the participant that
link finds or creates.

The landing page never tells whether an email is known: everyone gets the same answer and the same
email. The link proves they can read that mailbox; only then does a participant exist.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core import signing
from django.db import IntegrityError, transaction
from django.urls import reverse

from muster.people import lookup
from muster.people import values as pv
from muster.people.models import Person, Source, normalise_email
from muster.studies.models import LandingLinkUse, ParticipantStatus, Study, StudyParticipant, StudyStatus
from muster.studies.participants import Refused, add_participants

LINK_SALT = "muster.studies.landing.continue"
LINK_MAX_AGE = timedelta(days=7)

PAUSED = "This study is paused; please come back later."
CLOSED = "This study is closed."
FULL = "This study is full."
NOT_OPEN = "This study has not opened yet; please come back later."


def state_message(study: Study) -> str | None:
    """Why the study takes nobody through its landing page now, or None when it does (active, seats free)."""
    if study.status == StudyStatus.PAUSED:
        return PAUSED
    if study.status in (StudyStatus.CLOSED, StudyStatus.ARCHIVED):
        return CLOSED
    if study.status == StudyStatus.DRAFT:
        return NOT_OPEN
    if is_full(study):
        return FULL
    return None


def is_full(study: Study) -> bool:
    return study.participation_limit is not None and study.seats_taken >= study.participation_limit


def landing_url(study: Study) -> str:
    return settings.MUSTER_PUBLIC_URL.rstrip("/") + reverse("study_landing", args=[study.landing_slug])


def handoff_path(study: Study, participant: StudyParticipant) -> str:
    return reverse("study_handoff", args=[study.landing_slug, participant.participant_id])


def handoff_url(study: Study, participant: StudyParticipant) -> str:
    """The participant's own link to the study: the hand-off, at the address participants reach."""
    return settings.MUSTER_PUBLIC_URL.rstrip("/") + handoff_path(study, participant)


def arrive(email: str, first_name: str = "", last_name: str = "") -> None:
    """Someone entered this email on a landing page: a new email becomes a person; a known one is
    left exactly as it is (the entered names may be anyone's, so nothing of it is written)."""
    try:
        lookup.people_named(emails=[email])
    except lookup.Unknown:
        try:
            pv.create_person(email, first_name=first_name, last_name=last_name, source=Source.LANDING)
        except pv.EmailTaken:
            pass  # created by a second request meanwhile: as good as known


# The one-time link.


class BadLink(Exception):
    """A link that does not continue anything; the message says so, for the person who opened it."""


def make_token(study: Study, email: str) -> str:
    # The nonce makes each link its own, so using one leaves another sent in the same second working.
    payload = {"s": str(study.code), "e": normalise_email(email), "n": secrets.token_urlsafe(6)}
    return signing.dumps(payload, salt=LINK_SALT, compress=True)


def read_token(study: Study, token: str) -> str:
    """The email a link was made for, or BadLink. Does not use it up (see `continue_with`)."""
    try:
        data = signing.loads(token, salt=LINK_SALT, max_age=LINK_MAX_AGE)
    except signing.SignatureExpired:
        raise BadLink("This link has expired: links work for 7 days. Enter your email again for a new one.") from None
    except signing.BadSignature:
        raise BadLink("This link is not valid. Enter your email again for a new one.") from None
    if not isinstance(data, dict) or data.get("s") != str(study.code) or not isinstance(data.get("e"), str):
        raise BadLink("This link is not valid. Enter your email again for a new one.")
    if LandingLinkUse.objects.filter(digest=_digest(token)).exists():
        raise BadLink("This link was already used. Enter your email again for a new one.")
    return data["e"]


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass
class Continued:
    """What a used link led to: a participant, or why not (`refused`); `cancelled` when their
    participation was cancelled (they are not sent on)."""

    participant: StudyParticipant | None
    refused: str = ""

    @property
    def cancelled(self) -> bool:
        return self.participant is not None and self.participant.status == ParticipantStatus.CANCELLED


def continue_with(study: Study, token: str) -> Continued:
    """Uses a link up and finds or creates its person's participant in the study.

    Raises BadLink for a link that is not (or no longer) good. The link is used up only when it
    led somewhere: a study that is full or paused leaves it working for later.
    """
    email = read_token(study, token)
    try:
        with transaction.atomic():
            try:
                with transaction.atomic():
                    LandingLinkUse.objects.create(digest=_digest(token), study=study)
            except IntegrityError:
                raise BadLink("This link was already used. Enter your email again for a new one.") from None
            outcome = _participant(study, email)
            if outcome.participant is None:
                raise _Undo(outcome)
    except _Undo as undo:
        return undo.outcome
    return outcome


class _Undo(Exception):
    def __init__(self, outcome: Continued) -> None:
        self.outcome = outcome


def _participant(study: Study, email: str) -> Continued:
    try:
        (person,) = lookup.people_named(emails=[email])
    except lookup.Unknown:
        # The person entered this email, so it was theirs; someone erased them since. Starting over
        # on the landing page makes them again.
        return Continued(None, "This link is not valid any more. Enter your email again for a new one.")
    # An opted-out person is let through: opt-out means "do not contact" (DESIGN §5.3), and here
    # they came to the study themselves.
    existing = _existing(study, person)
    if existing is not None:
        return Continued(existing)
    refused = state_message(study) if study.status != StudyStatus.ACTIVE else None
    if refused:
        return Continued(None, refused)
    try:
        added, _ = add_participants(study, [person])
    except Refused as e:
        # Added by a second use of a second link meanwhile, or the study closed.
        existing = _existing(study, person)
        return Continued(existing) if existing else Continued(None, str(e))
    if not added:
        return Continued(None, FULL)
    return Continued(added[0])


def _existing(study: Study, person: Person) -> StudyParticipant | None:
    return StudyParticipant.objects.filter(study=study, person=person, is_test=False).first()
