"""Every page Muster serves works under its Content-Security-Policy, in a real browser.

The pages come from the permission matrix's table of routes, so a new page is checked here too.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.contrib.staticfiles.testing import StaticLiveServerTestCase
from django.test import override_settings
from django.urls import reverse
from playwright.sync_api import Page
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from muster.accounts.roles import Role
from muster.browser import chromium
from muster.front.csp import policy
from muster.people.models import ImportStatus, PersonImport
from muster.test import PASSWORD, make_user
from muster.tests.test_permission_matrix import VIEWS, _fx

pytestmark = pytest.mark.browser

# Downloads, not pages.
NOT_PAGES = {"people_export"}
# Not policy matters: the error pages answer 404 and 500, and Django admin asks for /favicon.ico.
EXPECTED_ERRORS = ("/no-such-page/", "/explode/", "/favicon.ico")
REPORT_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (e) =>
  console.error(`CSP violation: ${e.violatedDirective} blocked ${e.blockedURI || "inline"} on ${location.pathname}`));
"""


# The error pages' tests add /explode/, which fails, to Muster's routes: the 500 page is checked too.
@override_settings(ROOT_URLCONF="muster.front.tests.test_errors")
class ContentSecurityPolicyBrowserTestCase(StaticLiveServerTestCase):
    def setUp(self) -> None:
        super().setUp()
        self.alice = make_user("alice@example.org", Role.ADMIN, "Alice Admin")
        self.problems: list[str] = []
        self.visited: list[str] = []

    def watch(self, page: Page) -> None:
        page.add_init_script(REPORT_VIOLATIONS)

        def console(message: Any) -> None:
            where = message.location.get("url", "")
            if message.text.startswith("Failed to load resource") and where.endswith(EXPECTED_ERRORS):
                return
            if message.type == "error":
                self.problems.append(f"console on {page.url}: {message.text}")

        page.on("console", console)
        page.on("pageerror", lambda e: self.problems.append(f"script error on {page.url}: {e}"))

        def outside(request: Any) -> None:
            if not request.url.startswith((self.live_server_url, "data:")):
                self.problems.append(f"{page.url} asked {request.url}")

        page.on("request", outside)

    def visit(self, page: Page, path: str) -> None:
        response = page.goto(f"{self.live_server_url}{path}")
        assert response is not None
        # After redirects, the page shown must carry the policy itself.
        final = page.url.removeprefix(self.live_server_url)
        assert response.headers.get("content-security-policy") == policy(
            tuple(settings.MUSTER_QUALTRICS_ALLOWED_HOSTS)
        ), final
        page.wait_for_load_state("networkidle")
        self.visited.append(final)
        shots = os.environ.get("MUSTER_SCREENSHOTS")
        if shots:
            name = re.sub(r"[^a-z0-9]+", "-", final.lower()).strip("-") or "root"
            page.screenshot(path=str(Path(shots) / f"csp-{name[:60]}.png"), full_page=True)

    def test_every_page_loads_under_the_policy_without_a_violation(self) -> None:
        fx = _fx(self)  # type: ignore[arg-type]
        running = PersonImport.objects.create(
            filename="b.csv", path="/nonexistent.csv", columns=["email"], status=ImportStatus.RUNNING, created_by=None
        )
        with chromium() as browser:
            page = browser.new_page()
            self.watch(page)
            # Public pages, the participant-facing ones among them, and the error pages.
            for path in ["/sign-in/", "/password-reset/", "/q/return/?rid=R_1&pid=P", "/no-such-page/", "/explode/"]:
                self.visit(page, path)
            # Signing in posts a form to Muster itself: form-action allows it.
            self.visit(page, "/sign-in/")
            page.get_by_label("Email").fill("alice@example.org")
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Sign in").click()
            page.wait_for_url(f"{self.live_server_url}/people/")
            for name, route in VIEWS.items():
                if route.method != "get" or name in NOT_PAGES:
                    continue
                self.visit(page, reverse(name, kwargs=route.kwargs(self, self.alice)))  # type: ignore[arg-type]
            # A running import polls its progress with htmx: the swapped-in fragment obeys the policy too.
            with page.expect_request(re.compile(r".*/progress/$")):
                self.visit(page, reverse("people_import_status", kwargs={"code": running.code}))
            page.wait_for_timeout(300)
            # Django admin and the API docs, whose Swagger UI Muster serves itself.
            for path in ["/admin/", "/admin/accounts/user/", f"/admin/accounts/user/{self.alice.pk}/change/"]:
                self.visit(page, path)
            self.visit(page, "/api/v1/docs")
            try:
                page.locator(".opblock").first.wait_for(timeout=15_000)
                page.locator(".opblock").first.click()
                page.wait_for_timeout(300)
            except PlaywrightTimeout:
                self.problems.append("Swagger UI did not show the API's operations")
        assert fx.person is not None
        assert len(self.visited) > 30, self.visited
        assert self.problems == [], "\n".join(self.problems)


def test_no_template_holds_inline_script_style_or_handlers() -> None:
    # The browser test reaches the pages it can; this covers templates it cannot (the 500 page).
    inline = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>|<style|\sstyle=|\son[a-z]+=|javascript:", re.IGNORECASE)
    roots = [Path(settings.BASE_DIR) / "muster"]
    found = [
        f"{path}: {m.group(0)}"
        for root in roots
        for path in root.rglob("*.html")
        for m in inline.finditer(path.read_text())
        if "application/json" not in m.group(0)
    ]
    assert found == []


def test_forms_may_lead_only_to_muster_and_the_survey_hosts() -> None:
    rules = dict(rule.split(" ", 1) for rule in policy(("*.qualtrics.com", "127.0.0.1:8100")).split("; "))
    assert rules["form-action"] == "'self' *.qualtrics.com 127.0.0.1:8100"
    assert rules["default-src"] == "'self'" and rules["frame-ancestors"] == "'none'"
