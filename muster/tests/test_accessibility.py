"""Every page, as each role sees it: the ids its ARIA attributes, labels and in-page links point at
exist, it has a title and one main heading, and the skip link has somewhere to go."""

from __future__ import annotations

from html.parser import HTMLParser

from django.urls import reverse

from muster.test import BaseTestCase
from muster.tests.test_permission_matrix import VIEWS

REFERENCES = ("aria-describedby", "aria-labelledby", "aria-controls", "for", "list", "form")


class Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: list[str] = []
        self.references: list[tuple[str, str, str]] = []  # (tag, attribute, id)
        self.h1 = 0
        self.title = ""
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if found.get("id"):
            self.ids.append(str(found["id"]))
        for name in REFERENCES:
            if name in ("for", "list", "form") and tag not in ("label", "input", "button", "select", "textarea"):
                continue
            for target in (found.get(name) or "").split():
                self.references.append((tag, name, target))
        href = found.get("href") or ""
        if href.startswith("#") and len(href) > 1:
            self.references.append((tag, "href", href[1:]))
        self.h1 += tag == "h1"
        self._in_title = tag == "title"

    def handle_endtag(self, tag: str) -> None:
        self._in_title = False if tag == "title" else self._in_title

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data


class AccessibilityTestCase(BaseTestCase):
    def test_every_page_points_only_at_ids_it_has(self) -> None:
        for name, route in VIEWS.items():
            if route.method != "get":
                continue
            for role, user in self.personas.items():
                if route.roles is not None and role not in route.roles:
                    continue
                self.client.force_login(user)
                r = self.client.get(reverse(name, kwargs=route.kwargs(self, user)))
                if r.status_code != 200 or not r["Content-Type"].startswith("text/html"):
                    continue
                if not r.content.lstrip().lower().startswith(b"<!doctype html"):
                    continue  # an htmx fragment: its ids live in the page that holds it
                page = Page()
                page.feed(r.content.decode())
                where = f"{name} as {role}"
                self.assertEqual(sorted({i for i in page.ids if page.ids.count(i) > 1}), [], f"{where}: duplicate ids")
                missing = [ref for ref in page.references if ref[2] not in page.ids]
                self.assertEqual(missing, [], f"{where}: these point at ids the page does not have")
                self.assertTrue(page.title.strip(), f"{where}: no title")
                self.assertEqual(page.h1, 1, f"{where}: one main heading")
                self.assertIn("main", page.ids, f"{where}: the skip link's target")
