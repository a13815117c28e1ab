from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET

from muster.ratelimits import over, too_many_requests
from muster.studies.models import StudyParticipant
from muster.studies.participants import is_participant_id
from muster.surveys import handoff as h


@require_GET
def handoff(request: HttpRequest, slug: str, participant_id: str) -> HttpResponse:
    """A participant's link: records link_opened and sends them to their next form (DESIGN §5.4).

    A GET that records something, because it is the link invitations carry; recording is
    forward-only and idempotent, so a mail scanner opening it first only says "link opened" early.
    """
    participant = (
        StudyParticipant.objects.select_related("study").filter(participant_id=participant_id).first()
        if is_participant_id(participant_id)
        else None
    )
    if participant is None or participant.study.landing_slug != slug:
        # Guessing 128 bits is hopeless; slowing it down costs nobody with a real link anything.
        seconds = over(request, "handoff-miss", "60/m")
        if seconds:
            return too_many_requests(request, seconds)
        raise Http404("No such participant.")
    step = h.open_link(participant)
    if step.url:
        return redirect(step.url)
    ctx = {"study": participant.study, "message": step.message}
    return render(request, "surveys/handoff.html", ctx, status=step.status)
