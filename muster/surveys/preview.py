"""Preview (DESIGN §1 step 5): the real participant path, taken by a test participant.

Each user previews as their own preview person, so the path — landing, hand-off, the survey with
a Participant ID, the return — is exactly the one participants take. A test participant never
counts toward the limit, and its responses never touch properties, statuses or incentives.
"""

from __future__ import annotations

from muster.accounts.models import User
from muster.people.models import Person, PersonEmail
from muster.people.values import EmailTaken, create_person
from muster.studies.models import ParticipantStatus, Study, StudyParticipant
from muster.studies.participants import add_participants

PREVIEW_SOURCE = "preview"
# A reserved top-level domain (RFC 2606): nothing is ever delivered to it.
PREVIEW_DOMAIN = "preview.muster.invalid"
DONE = (ParticipantStatus.SURVEY_COMPLETED, ParticipantStatus.CANCELLED, ParticipantStatus.SCREENER_NOT_QUALIFIED)


def preview_person(user: User) -> Person:
    address = f"preview-{user.code.hex[:12]}@{PREVIEW_DOMAIN}"
    found = PersonEmail.objects.filter(email=address).select_related("person").first()
    if found is not None:
        return found.person
    try:
        return create_person(
            address, first_name="Preview", last_name=user.name or user.email, source=PREVIEW_SOURCE, user=user
        )
    except EmailTaken:  # a second tab created it meanwhile
        return PersonEmail.objects.select_related("person").get(email=address).person


def preview_participant(study: Study, user: User) -> StudyParticipant:
    """The user's test participant in this study, a new one once the last has finished (so Preview
    always starts from the start of what is left, and again from the start after the end)."""
    person = preview_person(user)
    current = (
        StudyParticipant.objects.filter(study=study, person=person, is_test=True)
        .exclude(status__in=DONE)
        .order_by("-created", "-id")
        .first()
    )
    if current is not None:
        return current
    added, _ = add_participants(study, [person], user, is_test=True)
    return added[0]
