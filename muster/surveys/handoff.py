"""The hand-off (DESIGN §5.4): where a participant's link takes them next.

The screener until it is completed, the survey once qualified (or when the study has no screener),
each at its tool's anonymous link with the Participant ID in the form's participant field.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from django.utils.timezone import now

from muster.studies import landing
from muster.studies.models import ParticipantStatus, StudyParticipant, StudyStatus
from muster.studies.participants import advance
from muster.surveys import tools
from muster.surveys.models import OwnerKind, SurveyForm

S = ParticipantStatus

NOT_QUALIFIED = (
    "Thank you for your answers. The study is not looking for more participants like you at the moment, "
    "so there is nothing more to take."
)
COMPLETED = "You have already taken part in this study. Thank you!"
CANCELLED = "Your participation in this study was cancelled, so there is nothing more to take part in."
IN_REVIEW = "Thank you for your answers. The research team will be in touch about the next step."
NOTHING_YET = "There is nothing to take yet. Please come back later."
UNAVAILABLE = "The survey cannot be opened just now. Please try again in a few minutes."

# Where each status has the participant go next, before looking at the study's forms.
ON_TO_SURVEY = frozenset({S.SCREENER_QUALIFIED, S.SURVEY_STARTED})


@dataclass
class Step:
    """Where the hand-off sends a participant: `url` to go to, or `message` to show instead."""

    url: str = ""
    message: str = ""
    status: int = 200


def stop_for(participant: StudyParticipant) -> str | None:
    """Why this participant is not sent anywhere, whatever forms the study has; None to go on."""
    study = participant.study
    # A test participant (Preview) goes through whatever the study's state: the researcher checks
    # the path before the study opens, and while it is paused.
    if not participant.is_test and study.status != StudyStatus.ACTIVE:
        return landing.state_message(study)
    if participant.status == S.CANCELLED:
        return CANCELLED
    if participant.status == S.SCREENER_NOT_QUALIFIED:
        return NOT_QUALIFIED
    if participant.status == S.SURVEY_COMPLETED:
        return COMPLETED
    return None


def next_form(participant: StudyParticipant) -> SurveyForm | str:
    """The form the participant takes next, or the message saying why there is none."""
    forms = {f.owner_kind: f for f in SurveyForm.objects.filter(study_id=participant.study_id, detached_at=None)}
    screener, survey = forms.get(OwnerKind.SCREENER), forms.get(OwnerKind.SURVEY)
    if participant.status in ON_TO_SURVEY or screener is None:
        return survey or NOTHING_YET
    if participant.status == S.SCREENER_COMPLETED:
        return IN_REVIEW  # a qualification decision comes first
    return screener


def take_url(form: SurveyForm, participant: StudyParticipant) -> str:
    """The tool's anonymous link with the Participant ID in the form's participant field (raises ToolError)."""
    base = tools.get(form.tool).links(form.survey_id, form.base_url).take
    parts = urlsplit(base)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != form.participant_field]
    query.append((form.participant_field, participant.participant_id))
    return urlunsplit(parts._replace(query=urlencode(query)))


def open_link(participant: StudyParticipant) -> Step:
    """Records that the participant opened their link (forward only: `advance` never moves a
    cancelled or not-qualified participant, nor one further along) and says where they go next."""
    stop = stop_for(participant)
    if stop:
        return Step(message=stop)
    advance(participant, S.LINK_OPENED, now())
    form = next_form(participant)
    if isinstance(form, str):
        return Step(message=form)
    try:
        return Step(url=take_url(form, participant))
    except tools.ToolError:
        return Step(message=UNAVAILABLE, status=503)
