"""`advance`: the forward-only, idempotent status move for events (DESIGN §5.3, §5.4)."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.utils.timezone import now

from muster.people import contact
from muster.people import values as pv
from muster.people.models import Source
from muster.studies.models import ParticipantStatus, Study, StudyParticipant, StudyStatus
from muster.studies.participants import HALTED, PROGRESS, TRANSITIONS, add_participants, advance, move
from muster.test import BaseTestCase

S = ParticipantStatus
STAMPS = [f"{s}_at" for s in S.values if s != S.NOT_CONTACTED]


class AdvanceTestCase(BaseTestCase):
    def setUp(self) -> None:
        super().setUp()
        self.study = Study.objects.create(name="Onboarding", landing_slug="onboarding", status=StudyStatus.ACTIVE)
        self.ana = pv.create_person("ana@example.org", first_name="Ana", source=Source.MANUAL)
        (self.p,), _ = add_participants(self.study, [self.ana])
        self.at = now() - timedelta(days=3)

    def stamps(self) -> dict[str, datetime]:
        row = StudyParticipant.objects.values(*STAMPS).get(id=self.p.id)
        return {k: v for k, v in row.items() if v is not None}

    def test_it_moves_forward_and_stamps_the_events_own_time(self) -> None:
        self.assertTrue(advance(self.p, S.LINK_OPENED, self.at))
        self.assertEqual(
            (self.p.status, self.p.link_opened_at, self.p.status_changed_at), (S.LINK_OPENED, self.at, self.at)
        )

    def test_a_backfill_skips_steps_and_stamps_only_the_target(self) -> None:
        self.assertTrue(advance(self.p, S.SURVEY_COMPLETED, self.at))
        self.assertEqual(self.p.status, S.SURVEY_COMPLETED)
        self.assertEqual(self.stamps(), {"survey_completed_at": self.at})

    def test_it_is_a_no_op_at_or_past_the_target(self) -> None:
        advance(self.p, S.SURVEY_STARTED, self.at)
        for target in (S.SURVEY_STARTED, S.LINK_OPENED, S.INVITED, S.SCREENER_COMPLETED, S.SCREENER_QUALIFIED):
            self.assertFalse(advance(self.p, target, self.at + timedelta(hours=1)), target)
        self.p.refresh_from_db()
        self.assertEqual((self.p.status, self.stamps()), (S.SURVEY_STARTED, {"survey_started_at": self.at}))

    def test_a_later_step_arriving_first_is_not_undone_by_an_earlier_one(self) -> None:
        advance(self.p, S.SURVEY_COMPLETED, self.at)
        self.assertFalse(advance(self.p, S.SURVEY_STARTED, self.at - timedelta(minutes=5)))
        self.p.refresh_from_db()
        self.assertEqual(self.p.status, S.SURVEY_COMPLETED)

    def test_a_study_without_a_screener_goes_from_the_link_to_the_survey(self) -> None:
        advance(self.p, S.LINK_OPENED, self.at)
        self.assertTrue(advance(self.p, S.SURVEY_STARTED, self.at + timedelta(minutes=1)))
        self.assertTrue(advance(self.p, S.SURVEY_COMPLETED, self.at + timedelta(minutes=9)))
        self.assertEqual(set(self.stamps()), {"link_opened_at", "survey_started_at", "survey_completed_at"})

    def test_it_never_moves_a_cancelled_or_not_qualified_participant(self) -> None:
        for halt in (S.CANCELLED, S.SCREENER_NOT_QUALIFIED):
            StudyParticipant.objects.filter(id=self.p.id).update(status=halt)
            self.p.refresh_from_db()
            for target in (S.LINK_OPENED, S.SCREENER_QUALIFIED, S.SURVEY_STARTED, S.SURVEY_COMPLETED):
                self.assertFalse(advance(self.p, target, self.at), (halt, target))
            self.p.refresh_from_db()
            self.assertEqual(self.p.status, halt)

    def test_no_event_turns_a_qualification_decision_around(self) -> None:
        advance(self.p, S.SCREENER_QUALIFIED, self.at)
        self.assertFalse(advance(self.p, S.SCREENER_NOT_QUALIFIED, self.at))
        self.p.refresh_from_db()
        self.assertEqual(self.p.status, S.SCREENER_QUALIFIED)
        # A person may still decide otherwise, through the strict table.
        move(self.p, S.SCREENER_NOT_QUALIFIED)
        self.assertEqual(self.p.status, S.SCREENER_NOT_QUALIFIED)

    def test_it_never_invites_an_opted_out_person_but_counts_the_link_they_open(self) -> None:
        contact.opt_out(self.ana)
        self.assertFalse(advance(self.p, S.INVITED, self.at))
        self.assertTrue(advance(self.p, S.LINK_OPENED, self.at))

    def test_it_refuses_targets_no_event_reaches(self) -> None:
        for target in (S.NOT_CONTACTED, S.CANCELLED, "teleported"):
            with self.assertRaisesRegex(ValueError, "not a status an event can advance"):
                advance(self.p, target, self.at)

    def test_a_test_participant_advances_and_still_takes_no_seat(self) -> None:
        (t,), _ = add_participants(self.study, [self.ana], is_test=True)
        self.assertTrue(advance(t, S.SURVEY_COMPLETED, self.at))
        self.study.refresh_from_db()
        self.assertEqual(self.study.seats_taken, 1)


class OrderTestCase(BaseTestCase):
    def test_every_status_but_cancelled_has_a_place_in_the_order(self) -> None:
        self.assertEqual(set(PROGRESS), set(S.values) - {S.CANCELLED})
        self.assertEqual(min(PROGRESS.values()), PROGRESS[S.NOT_CONTACTED])
        self.assertTrue(set(S.values) >= HALTED)

    def test_every_manual_move_goes_forward_but_requalifying(self) -> None:
        # The strict table and the order agree: a person's move only goes back when they revise a
        # qualification decision, which no event does.
        siblings = {S.SCREENER_QUALIFIED, S.SCREENER_NOT_QUALIFIED}
        for source, targets in TRANSITIONS.items():
            for target in targets - {S.CANCELLED}:
                if {source, target} == siblings:
                    self.assertEqual(PROGRESS[source], PROGRESS[target])
                else:
                    self.assertGreater(PROGRESS[target], PROGRESS[source], f"{source} -> {target}")
