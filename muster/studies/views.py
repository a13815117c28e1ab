from __future__ import annotations

import logging
import smtplib
from typing import Any
from uuid import UUID

from django.conf import settings
from django.contrib import messages
from django.core.mail import send_mail
from django.core.paginator import Paginator
from django.db.models import Count, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from muster.accounts.decorators import requires, signed_in_user
from muster.accounts.roles import Capability, can
from muster.people.models import MembershipStatus, Panel, Person, normalise_email
from muster.people.serialise import Viewer, email, name
from muster.ratelimits import limit, over, too_many_requests
from muster.studies import details, landing, registry
from muster.studies.forms import LandingForm, StudyForm
from muster.studies.models import ParticipantStatus, Study, StudyParticipant, StudyStatus
from muster.studies.participants import (
    ENDED,
    STUDY_TRANSITIONS,
    Explained,
    Refused,
    add_explained,
    change_study_status,
    counts_by_status,
    move,
    moves_for,
)


@requires(Capability.VIEW)
def studies(request: HttpRequest) -> HttpResponse:
    listed = Study.objects.annotate(n=Count("participants"))
    groups = [(label, [s for s in listed if s.status == value]) for value, label in StudyStatus.choices]
    return render(request, "studies/studies.html", {"section": "studies", "groups": groups, "any": bool(listed)})


@requires(Capability.MANAGE_STUDIES)
def study_new(request: HttpRequest) -> HttpResponse:
    form = StudyForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            study = details.create_study(signed_in_user(request), **form.cleaned_data)
        except details.Invalid as e:
            form.add_error(e.field, str(e))
        else:
            messages.success(request, "The study was created as a draft.")
            return redirect("study", code=study.code)
    return render(request, "studies/study_form.html", {"section": "studies", "form": form, "study": None})


@requires(Capability.MANAGE_STUDIES)
def study_edit(request: HttpRequest, code: UUID) -> HttpResponse:
    study = get_object_or_404(Study, code=code)
    form = StudyForm(request.POST or None, initial={f: getattr(study, f) for f in details.FIELDS})
    if request.method == "POST" and form.is_valid():
        try:
            details.update_study(study, **form.cleaned_data)
        except details.Invalid as e:
            form.add_error(e.field, str(e))
        else:
            messages.success(request, "Saved.")
            return redirect("study", code=study.code)
    return render(request, "studies/study_form.html", {"section": "studies", "form": form, "study": study})


# (from, to) -> (button, what it does, shown before it is done: None needs no confirmation).
STATUS_ACTIONS: dict[tuple[str, str], tuple[str, str | None]] = {
    (StudyStatus.DRAFT, StudyStatus.ACTIVE): ("Activate", None),
    (StudyStatus.DRAFT, StudyStatus.ARCHIVED): (
        "Archive",
        "Archiving puts the draft away: it takes no participants and nobody in it can be moved. "
        "You can restore it later, as a closed study.",
    ),
    (StudyStatus.ACTIVE, StudyStatus.PAUSED): ("Pause", None),
    (StudyStatus.ACTIVE, StudyStatus.CLOSED): (
        "Close",
        "Closing ends the study: it takes no new participants and nobody in it can be moved. You can reopen it later.",
    ),
    (StudyStatus.PAUSED, StudyStatus.ACTIVE): ("Resume", None),
    (StudyStatus.PAUSED, StudyStatus.CLOSED): (
        "Close",
        "Closing ends the study: it takes no new participants and nobody in it can be moved. You can reopen it later.",
    ),
    (StudyStatus.CLOSED, StudyStatus.ACTIVE): ("Reopen", None),
    (StudyStatus.CLOSED, StudyStatus.ARCHIVED): (
        "Archive",
        "Archiving puts the closed study away with its participants as they are. You can restore it to closed later.",
    ),
    (StudyStatus.ARCHIVED, StudyStatus.CLOSED): ("Restore", None),
}


@requires(Capability.VIEW)
def study(request: HttpRequest, code: UUID) -> HttpResponse:
    viewer = Viewer.of(request.user)
    study = get_object_or_404(Study, code=code)
    counts = counts_by_status(study)
    status = request.GET.get("status", "")
    rows = StudyParticipant.objects.filter(study=study).select_related("person").prefetch_related("person__emails")
    if status in ParticipantStatus.values:
        rows = rows.filter(status=status)
    page = Paginator(rows, 50).get_page(request.GET.get("page"))
    participants: list[dict[str, Any]] = []
    for p in page:
        p.study = study  # every row is of this study: no query per row for the moves it allows
        participants.append(
            {
                "p": p,
                "link": landing.handoff_url(study, p),
                "name": name(viewer, p.person) or "—",
                "email": email(viewer, p.person.primary_email),
                "moves": [(s, ParticipantStatus(s).label) for s in moves_for(p) if s != ParticipantStatus.CANCELLED],
                # Cancelling is offered apart, behind a confirmation: it cannot be undone.
                "can_cancel": ParticipantStatus.CANCELLED in moves_for(p),
            }
        )
    ctx = {
        "section": "studies",
        "study": study,
        "landing_url": landing.landing_url(study),
        "counts": [(s, label, counts[s]) for s, label in ParticipantStatus.choices],
        "total": sum(counts.values()),
        "status": status,
        "page": page,
        "participants": participants,
        "moves": [
            (s, STATUS_ACTIONS[(study.status, s)]) for s in StudyStatus.values if s in STUDY_TRANSITIONS[study.status]
        ],
        "ended": study.status in ENDED,
        "panels": Panel.objects.all(),
        "history": study.status_changes.select_related("by")[:20],
        "tabs": registry.tabs_for(study),
    }
    return render(request, "studies/study.html", ctx)


@require_POST
@requires(Capability.MANAGE_STUDIES)
def study_status(request: HttpRequest, code: UUID) -> HttpResponse:
    study = get_object_or_404(Study, code=code)
    try:
        change_study_status(study, request.POST.get("status", ""), signed_in_user(request))
    except Refused as e:
        messages.error(request, str(e))
    else:
        messages.success(request, f"The study is now {study.get_status_display().lower()}.")
    return redirect("study", code=study.code)


@require_POST
@requires(Capability.MANAGE_STUDIES)
def study_add_panel(request: HttpRequest, code: UUID) -> HttpResponse:
    study = get_object_or_404(Study, code=code)
    code_given = request.POST.get("panel", "")
    panel = Panel.objects.filter(code=code_given).first() if _uuid(code_given) else None
    if panel is None:
        messages.error(request, "Choose a panel.")
        return redirect("study", code=study.code)
    people = Person.objects.filter(memberships__panel=panel, memberships__status=MembershipStatus.APPROVED)
    try:
        outcome = add_explained(study, people, signed_in_user(request))
    except Refused as e:
        messages.error(request, str(e))
    else:
        say_what_was_added(request, outcome, f"from the panel {panel.name}")
    return redirect("study", code=study.code)


def _who(request: HttpRequest, people: list[Person]) -> str:
    viewer = Viewer.of(request.user)
    shown = [name(viewer, p) or email(viewer, p.primary_email) or f"person {str(p.code)[:8]}" for p in people[:10]]
    more = f" and {len(people) - 10} more" if len(people) > 10 else ""
    return ", ".join(shown) + more


def say_what_was_added(request: HttpRequest, outcome: Explained, where: str) -> None:
    """A success only when everyone was added; otherwise a warning naming who was not, and why."""
    n = len(outcome.added)
    parts = [f"{n} added {where}." if n else f"No one was added {where}."]
    if outcome.already_in:
        parts.append(f"Already in the study: {_who(request, outcome.already_in)}.")
    if outcome.over_limit:
        limit = outcome.study.participation_limit
        reached = f" ({limit})" if limit is not None else ""
        parts.append(f"Not added, the participation limit{reached} is reached: {_who(request, outcome.over_limit)}.")
    if outcome.opted_out:
        parts.append(f"Added but opted out, so Muster will not invite them: {_who(request, outcome.opted_out)}.")
    text = " ".join(parts)
    if n and not (outcome.already_in or outcome.over_limit or outcome.opted_out):
        messages.success(request, text)
    else:
        messages.warning(request, text)


def _uuid(text: str) -> bool:
    try:
        UUID(text)
    except ValueError:
        return False
    return True


@require_POST
@requires(Capability.MANAGE_STUDIES)
def participant_status(request: HttpRequest, code: UUID, participant_code: UUID) -> HttpResponse:
    participant = get_object_or_404(
        StudyParticipant.objects.select_related("person"), code=participant_code, study__code=code
    )
    try:
        move(participant, request.POST.get("status", ""))
    except Refused as e:
        messages.error(request, str(e))
    else:
        messages.success(request, f"Moved to “{participant.get_status_display()}”.")
    return redirect(reverse("study", args=[code]) + f"?status={request.POST.get('back', '')}")


# What studies add to people's pages (registered in apps.py).


def person_studies(request: HttpRequest, person: Person) -> dict[str, Any]:
    """The Studies tab of a person's profile."""
    return {"participations": person.participations.select_related("study")}


def person_studies_summary(request: HttpRequest, person: Person) -> tuple[str, str]:
    return "Studies", str(person.participations.count())


def study_choices(request: HttpRequest) -> list[tuple[UUID, str]] | None:
    """The studies the People list offers to add people to: those still taking participants."""
    if not can(request.user, Capability.MANAGE_STUDIES):
        return None
    return list(Study.objects.exclude(status__in=ENDED).values_list("code", "name"))


def add_people(request: HttpRequest, code: UUID, people: QuerySet[Person]) -> None:
    """The People list's "Add … to <study>"."""
    if not can(request.user, Capability.MANAGE_STUDIES):
        messages.error(request, "Your role does not allow this: manage studies.")
        return
    study = get_object_or_404(Study, code=code)
    try:
        outcome = add_explained(study, people, signed_in_user(request))
    except Refused as e:
        messages.error(request, str(e))
        return
    say_what_was_added(request, outcome, f"to the study {study.name}")


# The public pages (no sign-in): a study's landing page and its one-time continue link (DESIGN §5.4).

log = logging.getLogger(__name__)

SENT = "Check your email: we sent you a link to continue."
NOT_SENT = "We could not send you an email just now. Please try again in a few minutes."
CANCELLED = "Your participation in this study was cancelled, so there is nothing more to take part in."


def _public_study(slug: str) -> Study:
    """The study whose landing page this is; a draft has none yet (404, like an unknown address)."""
    return get_object_or_404(Study.objects.exclude(status=StudyStatus.DRAFT), landing_slug=slug)


@require_http_methods(["GET", "POST"])
@limit("study-landing", "10/m", method="POST")
def study_landing(request: HttpRequest, slug: str) -> HttpResponse:
    """Whoever enters an email gets the same answer, the same page and the same email, known or not.

    Both branches run the same reads and send one email; only a new email also inserts a person
    and its email row (test_landing checks the queries). Measured on SQLite with the in-memory mail
    backend: a median 2.4 ms for a known email, 2.8 ms for a new one; a real SMTP delivery adds tens
    of milliseconds that vary by more than that difference.
    """
    study = _public_study(slug)
    state = landing.state_message(study)
    form = LandingForm(request.POST or None)
    ctx = {"study": study, "form": form, "state": state}
    if state or request.method != "POST":
        return render(request, "studies/public/landing.html", ctx)
    if not form.is_valid():
        return render(request, "studies/public/landing.html", ctx, status=400)
    address = normalise_email(form.cleaned_data["email"])
    # Per address too, so nobody fills a stranger's mailbox from many addresses.
    seconds = over(request, "study-landing-email", "5/h", key=lambda g, r: address)
    if seconds:
        return too_many_requests(request, seconds)
    landing.arrive(address, form.cleaned_data["first_name"], form.cleaned_data["last_name"])
    ctx["sent"] = SENT if _send_link(study, address) else NOT_SENT
    return render(request, "studies/public/landing.html", ctx)


def _send_link(study: Study, address: str) -> bool:
    token = landing.make_token(study, address)
    path = reverse("study_continue", args=[study.landing_slug, token])
    context = {"study_name": study.name, "link": settings.MUSTER_PUBLIC_URL.rstrip("/") + path}
    subject = render_to_string("studies/public/link_subject.txt", context).strip()
    body = render_to_string("studies/public/link_email.txt", context)
    try:
        send_mail(subject, body, None, [address])
    except (smtplib.SMTPException, OSError):
        log.exception("The landing page of study %s could not send its link", study.code)
        return False
    return True


@require_http_methods(["GET", "POST"])
@limit("study-continue", "30/m", method="POST")
def study_continue(request: HttpRequest, slug: str, token: str) -> HttpResponse:
    """GET asks (so a mail scanner opening the link uses nothing up); POST uses the link."""
    study = _public_study(slug)
    ctx: dict[str, Any] = {"study": study, "message": "", "again": False}
    if request.method == "POST":
        try:
            outcome = landing.continue_with(study, token)
        except landing.BadLink as e:
            return render(request, "studies/public/continue.html", ctx | {"message": str(e), "again": True}, status=400)
        if outcome.participant is None:
            return render(request, "studies/public/continue.html", ctx | {"message": outcome.refused})
        if outcome.cancelled:
            return render(request, "studies/public/continue.html", ctx | {"message": CANCELLED})
        return redirect(landing.handoff_path(study, outcome.participant))
    try:
        landing.read_token(study, token)
    except landing.BadLink as e:
        return render(request, "studies/public/continue.html", ctx | {"message": str(e), "again": True}, status=400)
    return render(request, "studies/public/continue.html", ctx)
