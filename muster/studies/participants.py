"""Study and participant status machines, and adding participants within the participation limit.

A participant's status changes two ways: `move`, a person's decision, follows TRANSITIONS strictly;
`advance`, for events (a link opened, a response arriving), only ever goes forward in PROGRESS.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.db import IntegrityError, connection, transaction
from django.db.models import Count, F, QuerySet
from django.utils.timezone import now

from muster.accounts.models import User
from muster.people.models import Person
from muster.people.sql import update_many
from muster.studies.models import ParticipantStatus, Study, StudyParticipant, StudyStatus, StudyStatusChange

S = ParticipantStatus

# DESIGN §5.3: every allowed move of a participant, in one table.
TRANSITIONS: dict[str, frozenset[str]] = {
    S.NOT_CONTACTED: frozenset({S.INVITED, S.LINK_OPENED, S.CANCELLED}),
    S.INVITED: frozenset({S.LINK_OPENED, S.CANCELLED}),
    S.LINK_OPENED: frozenset({S.SCREENER_STARTED, S.SURVEY_STARTED, S.CANCELLED}),
    S.SCREENER_STARTED: frozenset({S.SCREENER_COMPLETED, S.CANCELLED}),
    S.SCREENER_COMPLETED: frozenset({S.SCREENER_QUALIFIED, S.SCREENER_NOT_QUALIFIED, S.CANCELLED}),
    S.SCREENER_QUALIFIED: frozenset({S.SURVEY_STARTED, S.SCREENER_NOT_QUALIFIED, S.CANCELLED}),
    S.SCREENER_NOT_QUALIFIED: frozenset({S.SCREENER_QUALIFIED, S.CANCELLED}),
    S.SURVEY_STARTED: frozenset({S.SURVEY_COMPLETED, S.CANCELLED}),
    S.SURVEY_COMPLETED: frozenset(),
    S.CANCELLED: frozenset(),
}

# How far along each status is: what "forward" means for `advance`. Events may skip steps (a
# backfill takes not_contacted straight to survey_completed; a study without a screener goes from
# link_opened to survey_started). Qualified and not qualified are equally far: two outcomes of one
# decision, so no event turns one into the other. Cancelled has no place in the order.
PROGRESS: dict[str, int] = {
    S.NOT_CONTACTED: 0,
    S.INVITED: 1,
    S.LINK_OPENED: 2,
    S.SCREENER_STARTED: 3,
    S.SCREENER_COMPLETED: 4,
    S.SCREENER_QUALIFIED: 5,
    S.SCREENER_NOT_QUALIFIED: 5,
    S.SURVEY_STARTED: 6,
    S.SURVEY_COMPLETED: 7,
}

# DESIGN §5.4: `advance` never moves a cancelled or not-qualified participant forward.
HALTED = frozenset({S.CANCELLED, S.SCREENER_NOT_QUALIFIED})

STUDY_TRANSITIONS: dict[str, frozenset[str]] = {
    StudyStatus.DRAFT: frozenset({StudyStatus.ACTIVE, StudyStatus.ARCHIVED}),
    StudyStatus.ACTIVE: frozenset({StudyStatus.PAUSED, StudyStatus.CLOSED}),
    StudyStatus.PAUSED: frozenset({StudyStatus.ACTIVE, StudyStatus.CLOSED}),
    # Closing and archiving can be undone: reopen a closed study, restore an archived one to closed.
    StudyStatus.CLOSED: frozenset({StudyStatus.ACTIVE, StudyStatus.ARCHIVED}),
    StudyStatus.ARCHIVED: frozenset({StudyStatus.CLOSED}),
}

# Studies that take no new participants.
ENDED = (StudyStatus.CLOSED, StudyStatus.ARCHIVED)


class Refused(Exception):
    """A refused change; the message says why."""


def label(status: str) -> str:
    return str(S(status).label)


def why_not(participant: StudyParticipant, target: str) -> str | None:
    """None when the move is allowed, else the reason it is not."""
    current = participant.status
    if target not in S.values:
        return f"“{target}” is not a participant status."
    if current == target:
        return f"The participant is already “{label(target)}”."
    if current == S.SURVEY_COMPLETED:
        return "The participant completed the survey: that is final."
    if current == S.CANCELLED:
        return "The participant was cancelled: add them to the study again instead."
    study_status = participant.study.status
    if study_status in ENDED:
        return f"The study is {StudyStatus(study_status).label.lower()}: reopen it to move participants."
    if study_status == StudyStatus.DRAFT and target != S.CANCELLED:
        return "The study is a draft: activate it first (a draft only lets you cancel participants)."
    if target == S.INVITED and participant.person.opted_out:
        return "This person opted out: Muster does not invite people who asked not to be contacted."
    if target not in TRANSITIONS[current]:
        allowed = ", ".join(f"“{label(s)}”" for s in S.values if s in TRANSITIONS[current])
        return f"From “{label(current)}” a participant can move to {allowed}, not to “{label(target)}”."
    return None


def move(participant: StudyParticipant, target: str) -> StudyParticipant:
    """Moves a participant or raises Refused. The UPDATE is conditional on the status it was read in."""
    reason = why_not(participant, target)
    if reason:
        raise Refused(reason)
    stamp = now()
    with transaction.atomic():
        moved = StudyParticipant.objects.filter(id=participant.id, status=participant.status).update(
            status=target, status_changed_at=stamp, **{f"{target}_at": stamp}
        )
        if moved != 1:
            raise Refused("The participant's status changed meanwhile: reload and try again.")
        if target == S.CANCELLED and not participant.is_test:
            Study.objects.filter(id=participant.study_id, seats_taken__gt=0).update(seats_taken=F("seats_taken") - 1)
    participant.refresh_from_db()
    return participant


def behind_of(target: str) -> list[str]:
    """The statuses an event may move forward to `target`: those before it, halted ones left out."""
    return [s for s, rank in PROGRESS.items() if rank < PROGRESS[target] and s not in HALTED]


def advance(participant: StudyParticipant, target: str, at: datetime) -> bool:
    """Moves a participant forward to `target` because of an event that happened `at`.

    A no-op (False) when they are already at or past it, or halted (cancelled, not qualified); an
    opted-out person is never advanced to invited. The target's timestamp and status_changed_at
    get `at`; the timestamps of skipped steps stay empty, because nothing was seen to happen then.
    One conditional UPDATE, so concurrent events can only ever leave the furthest one.
    """
    if target not in PROGRESS or PROGRESS[target] == 0:
        raise ValueError(f"“{target}” is not a status an event can advance a participant to.")
    behind = behind_of(target)
    rows = StudyParticipant.objects.filter(id=participant.id, status__in=behind)
    if target == S.INVITED:
        # A subquery, not a join: the status condition stays on the updated row itself.
        rows = rows.filter(person__in=Person.objects.filter(opted_out=False))
    moved = rows.update(status=target, status_changed_at=at, **{f"{target}_at": at}) == 1
    if moved:
        participant.refresh_from_db()
    return moved


def advance_many(target: str, moments: dict[int, datetime]) -> None:
    """`advance` for many participants at once (participant id -> when it happened): the same rule,
    for a batch of responses, in a statement per batch (plain SQL: an ORM CASE over thousands of
    ids costs more than the update)."""
    if target not in PROGRESS or PROGRESS[target] == 0 or target == S.INVITED:
        raise ValueError(f"“{target}” is not a status a batch of events can advance participants to.")
    behind = behind_of(target)
    adapt = connection.ops.adapt_datetimefield_value
    stamp = "CAST({} AS timestamp with time zone)" if connection.vendor == "postgresql" else "{}"
    column = connection.ops.quote_name(f"{target}_at")
    update_many(
        StudyParticipant,
        f"status = {{}}, status_changed_at = {stamp}, {column} = {stamp}",
        [[i, target, adapt(m), adapt(m)] for i, m in moments.items()],
        where=f"status IN ({', '.join(['%s'] * len(behind))})",
        params=behind,
    )


def moves_for(participant: StudyParticipant) -> list[str]:
    """The statuses a person may move this participant to now, in the machine's order."""
    return [s for s in S.values if s in TRANSITIONS[participant.status] and why_not(participant, s) is None]


def change_study_status(study: Study, target: str, by: User | None = None) -> Study:
    if target not in StudyStatus.values:
        raise Refused(f"“{target}” is not a study status.")
    if study.status == target:
        raise Refused(f"The study is already “{StudyStatus(target).label}”.")
    if target not in STUDY_TRANSITIONS[study.status]:
        allowed = ", ".join(
            f"“{StudyStatus(s).label}”" for s in StudyStatus.values if s in STUDY_TRANSITIONS[study.status]
        )
        where = f"to {allowed}" if allowed else "nowhere: that is final"
        raise Refused(f"A study that is “{study.get_status_display()}” can move {where}.")
    with transaction.atomic():
        if Study.objects.filter(id=study.id, status=study.status).update(status=target) != 1:
            raise Refused("The study's status changed meanwhile: reload and try again.")
        StudyStatusChange.objects.create(study=study, from_status=study.status, to_status=target, by=by)
    study.refresh_from_db()
    return study


def take_seats(study: Study, wanted: int) -> int:
    """Reserves up to `wanted` seats by a conditional UPDATE and returns how many it got.

    Two processes adding people at once each succeed only if the count they read is still the
    count in the database, so the limit holds without locks.
    """
    while wanted > 0:
        row = Study.objects.filter(id=study.id).values("seats_taken", "participation_limit").get()
        free = wanted if row["participation_limit"] is None else row["participation_limit"] - row["seats_taken"]
        take = min(wanted, free)
        if take <= 0:
            return 0
        taken = Study.objects.filter(id=study.id, seats_taken=row["seats_taken"]).update(
            seats_taken=F("seats_taken") + take
        )
        if taken == 1:
            return take
    return 0


def add_participants(
    study: Study, people: QuerySet[Person] | Iterable[Person], user: User | None = None, *, is_test: bool = False
) -> tuple[list[StudyParticipant], list[str]]:
    """Adds people to a study within its limit. Returns the new participants and why others were not added."""
    if study.status in ENDED:
        raise Refused(f"The study is {study.get_status_display().lower()}: it takes no new participants.")
    ids = [p.id for p in people] if not isinstance(people, QuerySet) else list(people.values_list("id", flat=True))
    notes = []
    if not is_test:
        present = set(
            StudyParticipant.objects.filter(study=study, is_test=False, person_id__in=ids).values_list(
                "person_id", flat=True
            )
        )
        if present:
            notes.append(f"{len(present)} already in the study.")
        ids = [i for i in dict.fromkeys(ids) if i not in present]
    added: list[StudyParticipant] = []
    for start in range(0, len(ids), 1000):
        batch = ids[start : start + 1000]
        with transaction.atomic():
            seats = len(batch) if is_test else take_seats(study, len(batch))
            rows = [StudyParticipant(study=study, person_id=i, is_test=is_test, added_by=user) for i in batch[:seats]]
            try:
                with transaction.atomic():
                    StudyParticipant.objects.bulk_create(rows)
            except IntegrityError:
                # Someone added one of these people meanwhile: give the seats back and say so.
                if not is_test:
                    Study.objects.filter(id=study.id).update(seats_taken=F("seats_taken") - seats)
                raise Refused("Some of these people were added to the study meanwhile: try again.") from None
            added += rows
        if seats < len(batch):
            notes.append(
                f"The participation limit ({study.participation_limit}) is reached: {len(ids) - len(added)} not added."
            )
            break
    return added, notes


@dataclass
class Explained:
    """What adding people did, person by person, for a page to say (see `add_explained`)."""

    study: Study
    added: list[StudyParticipant]
    already_in: list[Person]
    over_limit: list[Person]
    opted_out: list[Person]  # added, but they asked not to be contacted
    notes: list[str]


def add_explained(study: Study, people: QuerySet[Person], user: User | None = None) -> Explained:
    """`add_participants`, saying who was not added and why, and who was added though opted out."""
    wanted = list(dict.fromkeys(people.values_list("id", flat=True)))
    present = set(
        StudyParticipant.objects.filter(study=study, is_test=False, person_id__in=wanted).values_list(
            "person_id", flat=True
        )
    )
    added, notes = add_participants(study, Person.objects.filter(id__in=wanted), user)
    got = {p.person_id for p in added}
    named = Person.objects.filter(id__in=[i for i in wanted if i in present or i not in got]).in_bulk()
    opted = list(Person.objects.filter(id__in=got, opted_out=True))
    return Explained(
        study=study,
        added=added,
        already_in=[named[i] for i in wanted if i in present],
        over_limit=[named[i] for i in wanted if i not in present and i not in got],
        opted_out=opted,
        notes=notes,
    )


def counts_by_status(study: Study) -> dict[str, int]:
    rows = (
        StudyParticipant.objects.filter(study=study, is_test=False).values("status").annotate(n=Count("id")).order_by()
    )
    found = {r["status"]: r["n"] for r in rows}
    return {s: found.get(s, 0) for s in S.values}


def is_participant_id(value: str) -> bool:
    """Whether `value` is the Participant ID of someone in a study (DESIGN §5.4)."""
    # Checked for shape first: 26 base32 characters, so nothing else (a NUL) reaches the database.
    return bool(_PARTICIPANT_ID.fullmatch(value)) and StudyParticipant.objects.filter(participant_id=value).exists()


_PARTICIPANT_ID = re.compile(r"[A-Z2-7]{26}")
