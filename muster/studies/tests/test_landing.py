from __future__ import annotations

import json
import re
import time
from typing import Any
from unittest.mock import patch
from urllib.parse import urlsplit

from django.core import mail, signing
from django.db import connection
from django.test.utils import CaptureQueriesContext

from muster.people import values as pv
from muster.people.models import Person, PersonEmail, PropertyValue, PropertyValueChange, Revision, Source
from muster.people.properties import create_property
from muster.studies import landing
from muster.studies.models import LandingLinkUse, Study, StudyParticipant, StudyStatus
from muster.studies.participants import add_participants, move
from muster.test import BaseTestCase

CSRF = re.compile(r'(csrfmiddlewaretoken" value=|"X-CSRFToken": )"[^"]*"')
SENT = "Check your email: we sent you a link to continue."


def domain_queries(captured: CaptureQueriesContext) -> list[str]:
    """The statements a request ran, without the rate limiter's cache and the savepoints, and
    without their quoted values (the emails differ)."""
    sql = [q["sql"] for q in captured.captured_queries]
    kept = [q for q in sql if "muster_cache" not in q and "SAVEPOINT" not in q]
    return [re.sub(r"'[^']*'", "?", q) for q in kept]


def without_csrf(body: bytes) -> str:
    return CSRF.sub(r'\1""', body.decode())


class LandingTestCase(BaseTestCase):
    def setUp(self) -> None:
        super().setUp()
        self.study = Study.objects.create(
            name="Onboarding",
            landing_slug="onboarding",
            status=StudyStatus.ACTIVE,
            landing_text="We are redesigning sign-up.\n\nIt takes ten minutes.",
        )
        # Ana is already in Muster, with a property value.
        self.ana = pv.create_person("ana@example.org", first_name="Ana", last_name="Lima", source=Source.MANUAL)
        self.city = create_property("city", "City", "text")
        pv.set_values(self.ana, {self.city: "Lisbon"}, source=Source.MANUAL)

    def post(self, email: str, first: str = "Someone", last: str = "Else") -> Any:
        return self.client.post("/s/onboarding/", {"email": email, "first_name": first, "last_name": last})

    def link_path(self, n: int = -1) -> str:
        (link,) = re.findall(r"https?://\S+/continue/\S+/", str(mail.outbox[n].body))
        return urlsplit(link).path

    def ana_as_she_is(self) -> dict[str, Any]:
        """Everything about Ana that a write would change."""
        return {
            "person": Person.objects.filter(id=self.ana.id).values().get(),
            "emails": list(PersonEmail.objects.filter(person=self.ana).values()),
            "values": list(PropertyValue.objects.filter(person=self.ana).values()),
            "history": PropertyValueChange.objects.filter(person=self.ana).count(),
            "revisions": Revision.objects.count(),
        }

    def test_it_shows_the_landing_text_and_the_form(self) -> None:
        r = self.client.get("/s/onboarding/")
        self.assertContains(r, "<p>We are redesigning sign-up.</p>", html=True)
        self.assertContains(r, "<p>It takes ten minutes.</p>", html=True)
        self.assertContains(r, 'name="email"')
        self.assertContains(r, 'name="first_name"')

    def test_it_is_404_for_a_draft_and_an_unknown_address(self) -> None:
        self.study.status = StudyStatus.DRAFT
        self.study.save()
        self.assertEqual(self.client.get("/s/onboarding/").status_code, 404)
        self.assertEqual(self.client.get("/s/nowhere/").status_code, 404)

    def test_it_says_when_the_study_is_paused_closed_or_full(self) -> None:
        for status, text in (
            (StudyStatus.PAUSED, "This study is paused; please come back later"),
            (StudyStatus.CLOSED, "This study is closed"),
            (StudyStatus.ARCHIVED, "This study is closed"),
        ):
            Study.objects.filter(id=self.study.id).update(status=status)
            r = self.client.get("/s/onboarding/")
            self.assertContains(r, text)
            self.assertNotContains(r, 'name="email"')
        Study.objects.filter(id=self.study.id).update(status=StudyStatus.ACTIVE, participation_limit=0)
        self.assertContains(self.client.get("/s/onboarding/"), "This study is full")
        self.assertContains(self.post("new@example.org"), "This study is full")
        self.assertEqual(len(mail.outbox), 0)

    def test_it_gives_a_known_email_the_same_answer_as_a_new_one(self) -> None:
        known = self.post("ana@example.org")
        new = self.post("nobody@example.org")
        self.assertEqual(known.status_code, new.status_code)
        self.assertEqual(known.status_code, 200)
        self.assertContains(known, SENT)
        self.assertEqual(without_csrf(known.content), without_csrf(new.content))
        self.assertEqual(len(mail.outbox), 2)
        self.assertEqual(mail.outbox[0].subject, mail.outbox[1].subject)
        self.assertEqual(mail.outbox[0].to, ["ana@example.org"])

    def test_both_branches_do_the_same_kind_of_work(self) -> None:
        # Not a time: the same email sent, the same reads in the same order, and a new email adds
        # only its person's writes (the email check before the insert, the person, their email).
        with CaptureQueriesContext(connection) as known:
            self.client.post("/s/onboarding/", {"email": "ana@example.org"}, REMOTE_ADDR="10.0.0.1")
        with CaptureQueriesContext(connection) as new:
            self.client.post("/s/onboarding/", {"email": "nobody@example.org"}, REMOTE_ADDR="10.0.0.2")
        self.assertEqual(len(mail.outbox), 2)
        known_work, new_work = domain_queries(known), domain_queries(new)
        self.assertEqual(new_work[: len(known_work)], known_work)
        extra = new_work[len(known_work) :]
        self.assertEqual(len(extra), 3)
        self.assertEqual([q.split()[0] for q in extra], ["SELECT", "INSERT", "INSERT"])

    def test_a_new_email_creates_the_person_and_the_link_creates_the_participant(self) -> None:
        self.post("New@Example.org", "Nia", "Oduya")
        nia = Person.objects.get(emails__email="new@example.org")
        self.assertEqual((nia.first_name, nia.last_name, nia.source), ("Nia", "Oduya", Source.LANDING))
        self.assertFalse(StudyParticipant.objects.filter(person=nia).exists())
        path = self.link_path()
        r = self.client.get(path)
        self.assertContains(r, "Continue to the study")
        # Opening the link (a mail scanner does) uses nothing up.
        self.assertFalse(StudyParticipant.objects.filter(person=nia).exists())
        r = self.client.post(path)
        participant = StudyParticipant.objects.get(person=nia, study=self.study)
        self.assertRedirects(r, f"/s/onboarding/go/{participant.participant_id}/", fetch_redirect_response=False)
        self.assertEqual(Study.objects.get(id=self.study.id).seats_taken, 1)

    def test_a_known_email_changes_nothing_about_that_person_until_the_link_is_used(self) -> None:
        before = self.ana_as_she_is()
        self.post("ANA@example.org ", "Mallory", "Intruder")
        self.assertEqual(self.ana_as_she_is(), before)
        self.assertEqual(Person.objects.count(), 1)
        self.client.post(self.link_path())
        # The link only adds her to the study.
        self.assertEqual(self.ana_as_she_is(), before)
        self.assertEqual(StudyParticipant.objects.get().person_id, self.ana.id)

    def test_a_used_link_cannot_be_used_twice(self) -> None:
        self.post("ana@example.org")
        path = self.link_path()
        first = self.client.post(path)
        self.assertEqual(first.status_code, 302)
        again = self.client.post(path)
        self.assertContains(again, "This link was already used", status_code=400)
        self.assertContains(self.client.get(path), "This link was already used", status_code=400)
        self.assertEqual(StudyParticipant.objects.count(), 1)
        self.assertEqual(LandingLinkUse.objects.count(), 1)
        # The token itself is not kept, only its hash.
        token = path.rstrip("/").rsplit("/", 1)[1]
        self.assertNotEqual(LandingLinkUse.objects.get().digest, token)

    def test_a_second_link_for_someone_already_in_the_study_leads_to_the_same_participant(self) -> None:
        self.post("ana@example.org")
        self.client.post(self.link_path())
        self.post("ana@example.org")
        r = self.client.post(self.link_path())
        (participant,) = StudyParticipant.objects.all()
        self.assertRedirects(r, f"/s/onboarding/go/{participant.participant_id}/", fetch_redirect_response=False)

    def test_an_expired_link_is_refused_politely(self) -> None:
        with patch("time.time", return_value=time.time() - 8 * 24 * 3600):
            token = landing.make_token(self.study, "ana@example.org")
        r = self.client.post(f"/s/onboarding/continue/{token}/")
        self.assertContains(r, "This link has expired", status_code=400)
        self.assertContains(r, 'href="/s/onboarding/"', status_code=400)
        self.assertFalse(StudyParticipant.objects.exists())

    def test_a_tampered_link_or_one_for_another_study_is_refused_politely(self) -> None:
        other = Study.objects.create(name="Other", landing_slug="other", status=StudyStatus.ACTIVE)
        token = landing.make_token(self.study, "ana@example.org")
        # Ana's signature on a payload naming Ben.
        ben = signing.b64_encode(json.dumps({"s": str(self.study.code), "e": "ben@example.org"}).encode()).decode()
        forged = ben + token[token.index(":") :]
        for path in (
            f"/s/onboarding/continue/{token[:-2]}xx/",
            f"/s/onboarding/continue/{forged}/",
            f"/s/other/continue/{token}/",
        ):
            self.assertContains(self.client.post(path), "This link is not valid", status_code=400)
        self.assertFalse(StudyParticipant.objects.exists())
        self.assertEqual(other.participants.count(), 0)

    def test_an_opted_out_person_who_comes_themselves_may_continue(self) -> None:
        self.client.force_login(self.olga)
        self.client.post(f"/people/{self.ana.code}/opt-out/")
        self.client.logout()
        self.post("ana@example.org")
        self.assertEqual(len(mail.outbox), 1)
        r = self.client.post(self.link_path())
        self.assertEqual(r.status_code, 302)
        self.assertTrue(StudyParticipant.objects.filter(person=self.ana).exists())

    def test_a_cancelled_participant_is_told_and_not_sent_on(self) -> None:
        (p,), _ = add_participants(self.study, [self.ana])
        move(p, "cancelled")
        self.post("ana@example.org")
        r = self.client.post(self.link_path())
        self.assertContains(r, "Your participation in this study was cancelled")
        self.assertEqual(StudyParticipant.objects.get().status, "cancelled")

    def test_a_link_to_a_full_study_says_so_and_keeps_working_for_later(self) -> None:
        self.post("ana@example.org")
        Study.objects.filter(id=self.study.id).update(participation_limit=0)
        path = self.link_path()
        self.assertContains(self.client.post(path), "This study is full")
        self.assertFalse(StudyParticipant.objects.exists())
        Study.objects.filter(id=self.study.id).update(participation_limit=1)
        self.assertEqual(self.client.post(path).status_code, 302)

    def test_a_link_to_a_paused_study_says_so(self) -> None:
        self.post("ana@example.org")
        Study.objects.filter(id=self.study.id).update(status=StudyStatus.PAUSED)
        self.assertContains(self.client.post(self.link_path()), "This study is paused")
        self.assertFalse(StudyParticipant.objects.exists())

    def test_an_invalid_email_is_asked_again(self) -> None:
        r = self.post("not an email")
        self.assertEqual(r.status_code, 400)
        self.assertContains(r, "Enter a valid email address", status_code=400)
        self.assertEqual(len(mail.outbox), 0)

    def test_it_answers_429_when_one_address_posts_too_often(self) -> None:
        self.hold_rate_limit_clock()
        for i in range(10):
            self.assertEqual(self.post(f"p{i}@example.org").status_code, 200)
        r = self.post("p10@example.org")
        self.assertContains(r, "Too many requests", status_code=429)
        self.assertIn("Retry-After", r.headers)
        self.assertEqual(len(mail.outbox), 10)

    def test_it_answers_429_when_one_email_is_entered_too_often(self) -> None:
        self.hold_rate_limit_clock()
        for _ in range(5):
            self.post("ana@example.org")
        self.assertEqual(self.post("ana@example.org").status_code, 429)
        self.assertEqual(len(mail.outbox), 5)

    def test_it_rejects_other_methods(self) -> None:
        self.assertEqual(self.client.put("/s/onboarding/").status_code, 405)


class LinkOnStudyPagesTestCase(BaseTestCase):
    def setUp(self) -> None:
        super().setUp()
        self.study = Study.objects.create(name="Onboarding", landing_slug="onboarding", status=StudyStatus.ACTIVE)
        self.ana = pv.create_person("ana@example.org", first_name="Ana", source=Source.MANUAL)
        (self.p,), _ = add_participants(self.study, [self.ana])

    def test_the_study_page_shows_each_participants_hand_off_link(self) -> None:
        self.client.force_login(self.oscar)
        r = self.client.get(f"/studies/{self.study.code}/")
        self.assertContains(r, f'value="http://127.0.0.1:8000/s/onboarding/go/{self.p.participant_id}/"')
        self.assertContains(r, "http://127.0.0.1:8000/s/onboarding/")

    def test_the_api_lists_participants_with_their_link_and_status(self) -> None:
        r = self.api(self.dev, "get", f"/studies/{self.study.code}/participants")
        (item,) = r.json()
        self.assertEqual(item["participant_id"], self.p.participant_id)
        self.assertEqual(item["status"], "not_contacted")
        self.assertEqual(item["link"], f"http://127.0.0.1:8000/s/onboarding/go/{self.p.participant_id}/")

    def test_the_link_is_built_on_the_public_address(self) -> None:
        with self.settings(MUSTER_PUBLIC_URL="https://research.example.com/"):
            self.assertEqual(
                landing.handoff_url(self.study, self.p),
                f"https://research.example.com/s/onboarding/go/{self.p.participant_id}/",
            )
