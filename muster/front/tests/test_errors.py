from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.test import override_settings
from django.urls import path

from muster.test import BaseTestCase
from muster.urls import urlpatterns as muster_urls


def explode(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("a bug")


urlpatterns = [*muster_urls, path("explode/", explode)]
handler500 = "muster.front.views.server_error"


@override_settings(ROOT_URLCONF="muster.front.tests.test_errors", DEBUG=False)
class ErrorPagesTestCase(BaseTestCase):
    def test_a_500_shows_no_request_data(self) -> None:
        self.client.raise_request_exception = False
        self.client.force_login(self.rita)
        r = self.client.post("/explode/", {"note": "my-secret-note-4711"})
        self.assertEqual(r.status_code, 500)
        self.assertContains(r, "Something went wrong", status_code=500)
        self.assertNotContains(r, "my-secret-note-4711", status_code=500)
        self.assertNotContains(r, "RuntimeError", status_code=500)

    def test_a_404_is_a_friendly_page(self) -> None:
        self.client.force_login(self.rita)
        r = self.client.get("/no-such-page/")
        self.assertContains(r, "Page not found", status_code=404)

    def test_a_403_says_what_to_do(self) -> None:
        self.client.force_login(self.oscar)
        r = self.client.get("/settings/users/")
        self.assertContains(r, "ask an Admin", status_code=403)


class SkipLinkTestCase(BaseTestCase):
    def test_every_signed_in_page_starts_with_a_link_that_skips_to_the_content(self) -> None:
        self.client.force_login(self.olga)
        for url in ("/people/", "/studies/", "/settings/", "/account/"):
            page = self.client.get(url).content.decode()
            body = page[page.index("<body") :]
            first_link = body[body.index("<a ") : body.index("</a>")]
            self.assertIn('href="#main"', first_link, url)
            self.assertIn('<main id="main"', page, url)
