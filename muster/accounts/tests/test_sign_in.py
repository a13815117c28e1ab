from __future__ import annotations

import re

from django.core import mail
from django.urls import reverse

from muster.test import PASSWORD, BaseTestCase


class SignInTestCase(BaseTestCase):
    def test_it_shows_the_sign_in_page(self) -> None:
        r = self.client.get("/sign-in/")
        self.assertContains(r, "Sign in to Muster")

    def test_it_sends_visitors_to_sign_in(self) -> None:
        r = self.client.get("/people/")
        self.assertRedirects(r, "/sign-in/?next=/people/", fetch_redirect_response=False)

    def test_it_signs_in_with_email_in_any_case(self) -> None:
        r = self.client.post("/sign-in/", {"username": "  Rita@Example.org ", "password": PASSWORD})
        self.assertRedirects(r, "/", fetch_redirect_response=False)
        self.assertEqual(self.client.session["_auth_user_id"], str(self.rita.pk))

    def test_it_rejects_a_wrong_password(self) -> None:
        r = self.client.post("/sign-in/", {"username": "rita@example.org", "password": "nope"})
        self.assertContains(r, "Please enter a correct email and password")
        self.assertNotIn("_auth_user_id", self.client.session)

    def test_it_locks_out_after_five_failures(self) -> None:
        for _ in range(5):
            self.client.post("/sign-in/", {"username": "rita@example.org", "password": "nope"})
        r = self.client.post("/sign-in/", {"username": "rita@example.org", "password": PASSWORD})
        self.assertEqual(r.status_code, 429)
        self.assertContains(r, "Signing in is paused", status_code=429)
        self.assertNotIn("_auth_user_id", self.client.session)

    def test_it_does_not_redirect_off_site_after_sign_in(self) -> None:
        r = self.client.post(
            "/sign-in/", {"username": "rita@example.org", "password": PASSWORD, "next": "https://evil.example/"}
        )
        self.assertRedirects(r, "/", fetch_redirect_response=False)

    def test_it_refuses_a_deactivated_user(self) -> None:
        self.rita.is_active = False
        self.rita.save()
        r = self.client.post("/sign-in/", {"username": "rita@example.org", "password": PASSWORD})
        self.assertEqual(r.status_code, 200)
        self.assertNotIn("_auth_user_id", self.client.session)

    def test_it_signs_out_with_post(self) -> None:
        self.client.force_login(self.rita)
        r = self.client.post("/sign-out/")
        self.assertRedirects(r, "/sign-in/", fetch_redirect_response=False)
        self.assertNotIn("_auth_user_id", self.client.session)

    def test_it_resets_a_password_by_email(self) -> None:
        r = self.client.post("/password-reset/", {"email": "rita@example.org"})
        self.assertRedirects(r, reverse("password_reset_done"), fetch_redirect_response=False)
        self.assertEqual(len(mail.outbox), 1)
        link = re.search(r"http://testserver(/password-reset/\S+/)", str(mail.outbox[0].body))
        assert link is not None
        r = self.client.get(link.group(1), follow=True)
        r = self.client.post(
            r.redirect_chain[-1][0],
            {"new_password1": "a new long passphrase", "new_password2": "a new long passphrase"},
        )
        self.assertRedirects(r, reverse("password_reset_complete"), fetch_redirect_response=False)
        self.rita.refresh_from_db()
        self.assertTrue(self.rita.check_password("a new long passphrase"))

    def test_it_answers_the_same_for_an_unknown_email(self) -> None:
        r = self.client.post("/password-reset/", {"email": "nobody@example.org"})
        self.assertRedirects(r, reverse("password_reset_done"), fetch_redirect_response=False)
        self.assertEqual(len(mail.outbox), 0)

    def test_it_tells_a_deactivated_user_who_knows_their_password_why(self) -> None:
        self.rita.is_active = False
        self.rita.save()
        r = self.client.post("/sign-in/", {"username": "rita@example.org", "password": PASSWORD})
        self.assertContains(r, "Your account is deactivated")
        self.assertNotIn("_auth_user_id", self.client.session)

    def test_a_wrong_password_does_not_reveal_a_deactivated_account(self) -> None:
        self.rita.is_active = False
        self.rita.save()
        r = self.client.post("/sign-in/", {"username": "rita@example.org", "password": "not it"})
        self.assertNotContains(r, "deactivated")
        self.assertContains(r, "correct email and password")
