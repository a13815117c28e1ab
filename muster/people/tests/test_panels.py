from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from muster.people import values as pv
from muster.people.models import MembershipStatus, Panel, PanelMembership, Person, Source
from muster.people.properties import create_property
from muster.test import BaseTestCase

PENDING, APPROVED, REJECTED = MembershipStatus.PENDING_REVIEW, MembershipStatus.APPROVED, MembershipStatus.REJECTED


class PanelsTestCase(BaseTestCase):
    def setUp(self) -> None:
        super().setUp()
        self.country = create_property("country", "Country", "single_select", options=["UK", "France"])
        self.panel = Panel.objects.create(name="Mobile testers", description="People who test our apps")
        self.people: dict[str, Person] = {}
        for first, country in (("Ana", "UK"), ("Ben", "France"), ("Cleo", "UK"), ("Dan", "France")):
            person = pv.create_person(f"{first.lower()}@example.org", first_name=first, source=Source.MANUAL)
            pv.set_values(person, {self.country: pv.parse(self.country, country)}, source=Source.MANUAL)
            self.people[first] = person

    def join(self, first: str, status: str, source: str = Source.MANUAL) -> PanelMembership:
        return PanelMembership.objects.create(panel=self.panel, person=self.people[first], status=status, source=source)

    def statuses(self) -> dict[str, str]:
        rows = PanelMembership.objects.filter(panel=self.panel).values_list("person__first_name", "status")
        return dict(rows)


class PanelPagesTestCase(PanelsTestCase):
    def test_it_creates_a_panel(self) -> None:
        self.client.force_login(self.olga)
        r = self.client.post("/panels/", {"name": " Desktop ", "description": "Big screens"})
        panel = Panel.objects.get(name="Desktop")
        self.assertRedirects(r, f"/panels/{panel.code}/")
        self.assertEqual(panel.description, "Big screens")

    def test_only_panel_managers_create_panels(self) -> None:
        for user in (self.rita, self.dev, self.oscar):
            self.client.force_login(user)
            r = self.client.post("/panels/", {"name": "Desktop"}, follow=True)
            self.assertContains(r, "Your role does not allow this: manage panels.")
        self.assertFalse(Panel.objects.filter(name="Desktop").exists())

    def test_the_panel_list_counts_members_and_pending_reviews(self) -> None:
        self.join("Ana", PENDING)
        self.join("Ben", APPROVED)
        self.join("Cleo", APPROVED)
        self.join("Dan", REJECTED)
        self.client.force_login(self.oscar)
        r = self.client.get("/panels/")
        panel = r.context["panels"].get()
        self.assertEqual((panel.approved, panel.pending), (2, 1))

    def test_the_panel_page_shows_members_by_status(self) -> None:
        self.join("Ana", PENDING, Source.RESPONSE)
        self.join("Ben", APPROVED)
        self.join("Cleo", REJECTED)
        self.client.force_login(self.rita)
        expected = {APPROVED: "Ben", PENDING: "Ana", REJECTED: "Cleo"}
        for status, first in expected.items():
            r = self.client.get(f"/panels/{self.panel.code}/?status={status}")
            names = [row["name"] for row in r.context["rows"]]
            self.assertEqual(names, [first])
            self.assertContains(r, f"/people/{self.people[first].code}/")
        r = self.client.get(f"/panels/{self.panel.code}/")
        self.assertEqual(r.context["status"], APPROVED)
        self.assertEqual([(s, n) for s, _, n in r.context["tabs"]], [(PENDING, 1), (APPROVED, 1), (REJECTED, 1)])
        r = self.client.get(f"/panels/{self.panel.code}/?status={PENDING}")
        self.assertContains(r, "Survey response")

    def test_an_unknown_status_shows_the_members(self) -> None:
        self.join("Ben", APPROVED)
        self.client.force_login(self.rita)
        r = self.client.get(f"/panels/{self.panel.code}/?status=banned")
        self.assertEqual([row["name"] for row in r.context["rows"]], ["Ben"])

    def test_the_review_buttons_are_for_panel_managers_only(self) -> None:
        self.join("Ana", PENDING)
        url = f"/panels/{self.panel.code}/?status={PENDING}"
        self.client.force_login(self.olga)
        self.assertContains(self.client.get(url), 'value="approved">Approve</button>')
        self.client.force_login(self.rita)
        self.assertNotContains(self.client.get(url), "Approve</button>")

    def test_reviewing_approves_a_pending_member(self) -> None:
        m = self.join("Ana", PENDING, Source.RESPONSE)
        self.client.force_login(self.olga)
        url = f"/panels/{self.panel.code}/members/{self.people['Ana'].code}/"
        r = self.client.post(url, {"status": "approved", "back": PENDING})
        self.assertRedirects(r, f"/panels/{self.panel.code}/?status={PENDING}")
        m.refresh_from_db()
        self.assertEqual((m.status, m.reviewed_by, m.source), (APPROVED, self.olga, Source.RESPONSE))
        self.assertIsNotNone(m.reviewed_at)

    def test_reviewing_rejects_and_removes_members(self) -> None:
        self.join("Ana", PENDING)
        self.join("Ben", APPROVED)
        self.client.force_login(self.alice)
        r = self.client.post(
            f"/panels/{self.panel.code}/members/{self.people['Ana'].code}/", {"status": "rejected"}, follow=True
        )
        self.assertContains(r, "Marked rejected.")
        r = self.client.post(
            f"/panels/{self.panel.code}/members/{self.people['Ben'].code}/", {"status": "remove"}, follow=True
        )
        self.assertContains(r, "Removed from the panel.")
        self.assertEqual(self.statuses(), {"Ana": REJECTED})
        self.assertEqual(PanelMembership.objects.get().reviewed_by, self.alice)

    def test_removing_a_member_asks_first_and_says_what_it_does(self) -> None:
        self.join("Ben", APPROVED)
        self.client.force_login(self.olga)
        page = self.client.get(f"/panels/{self.panel.code}/").content.decode()
        start = page.index('<details class="confirm"><summary class="button">Remove…</summary>')
        confirm = page[start : page.index("</details>", start)]
        self.assertIn("Nothing else about them changes", confirm)
        self.assertIn('name="status" value="remove"', confirm)
        # Outside the confirmation no button removes anyone.
        self.assertEqual(page.count('value="remove"'), confirm.count('value="remove"'))

    def test_reviewing_refuses_an_unknown_status(self) -> None:
        self.join("Ana", PENDING)
        self.client.force_login(self.olga)
        url = f"/panels/{self.panel.code}/members/{self.people['Ana'].code}/"
        r = self.client.post(url, {"status": "banned"}, follow=True)
        self.assertContains(r, "Choose approved, rejected or pending review.")
        self.assertEqual(self.statuses(), {"Ana": PENDING})

    def test_reviewing_requires_manage_panels(self) -> None:
        self.join("Ana", PENDING)
        url = f"/panels/{self.panel.code}/members/{self.people['Ana'].code}/"
        for user in (self.rita, self.dev, self.oscar):
            self.client.force_login(user)
            self.assertEqual(self.client.post(url, {"status": "approved"}).status_code, 403)
            self.assertEqual(self.client.post(url, {"status": "remove"}).status_code, 403)
        self.assertEqual(self.statuses(), {"Ana": PENDING})

    def test_reviewing_someone_outside_the_panel_is_404(self) -> None:
        self.client.force_login(self.olga)
        url = f"/panels/{self.panel.code}/members/{self.people['Ana'].code}/"
        self.assertEqual(self.client.post(url, {"status": "approved"}).status_code, 404)
        self.assertFalse(PanelMembership.objects.exists())


class BulkAddTestCase(PanelsTestCase):
    def bulk(self, query: dict[str, str], **extra: object) -> Any:
        data = {"scope": "filter", "query": urlencode(query), "target": f"panel:{self.panel.code}"} | extra
        return self.client.post("/people/bulk/", data, follow=True)

    def test_the_people_list_offers_panels_to_panel_managers(self) -> None:
        option = f'<option value="panel:{self.panel.code}">Mobile testers</option>'
        self.client.force_login(self.olga)
        self.assertContains(self.client.get("/people/?p.country=UK"), option, html=True)
        self.client.force_login(self.rita)
        self.assertNotContains(self.client.get("/people/?p.country=UK"), option, html=True)

    def test_it_adds_everyone_the_filter_finds(self) -> None:
        self.client.force_login(self.olga)
        r = self.bulk({"p.country": "UK"})
        self.assertContains(r, "2 added to the panel Mobile testers.")
        self.assertEqual(self.statuses(), {"Ana": APPROVED, "Cleo": APPROVED})
        self.assertEqual(set(PanelMembership.objects.values_list("source", flat=True)), {Source.MANUAL})
        # Back to the filtered list.
        self.assertEqual(r.redirect_chain[-1][0], "/people/?p.country=UK")

    def test_it_adds_everyone_found_not_only_the_first_page(self) -> None:
        for i in range(30):
            person = pv.create_person(f"uk{i}@example.org", source=Source.MANUAL)
            pv.set_values(person, {self.country: pv.parse(self.country, "UK")}, source=Source.MANUAL)
        self.client.force_login(self.olga)
        r = self.bulk({"p.country": "UK"})
        self.assertContains(r, "32 added to the panel Mobile testers.")
        self.assertEqual(PanelMembership.objects.filter(panel=self.panel).count(), 32)

    def test_it_leaves_existing_members_as_they_are(self) -> None:
        self.join("Ana", REJECTED)
        self.client.force_login(self.olga)
        r = self.bulk({"p.country": "UK"})
        self.assertContains(r, "1 added to the panel Mobile testers; 1 was already a member.")
        self.assertContains(r, '<li class="warning" role="status">')
        self.assertEqual(self.statuses(), {"Ana": REJECTED, "Cleo": APPROVED})

    def test_adding_only_members_says_no_one_was_added_as_a_warning(self) -> None:
        self.join("Ana", APPROVED)
        self.join("Cleo", APPROVED)
        self.client.force_login(self.olga)
        r = self.bulk({"p.country": "UK"})
        self.assertContains(r, "No one was added to the panel Mobile testers: 2 were already members.")
        self.assertNotContains(r, '<li class="success"')

    def test_it_adds_the_selected_people(self) -> None:
        self.client.force_login(self.olga)
        people = [str(self.people["Ben"].code), str(self.people["Dan"].code)]
        r = self.bulk({}, scope="selected", person=people)
        self.assertContains(r, "2 added to the panel Mobile testers.")
        self.assertEqual(self.statuses(), {"Ben": APPROVED, "Dan": APPROVED})

    def test_it_refuses_a_selection_naming_nobody_and_adds_nobody(self) -> None:
        self.client.force_login(self.olga)
        for stranger in ("not-a-code", "00000000-0000-0000-0000-000000000000"):
            r = self.bulk({}, scope="selected", person=[str(self.people["Ben"].code), stranger])
            self.assertContains(r, "Some of these people do not exist.")
        self.assertFalse(PanelMembership.objects.exists())

    def test_it_refuses_a_filter_it_cannot_read_and_adds_nobody(self) -> None:
        self.client.force_login(self.olga)
        r = self.bulk({"p.planet": "Mars"})
        self.assertContains(r, "There is no property “planet”.")
        self.assertFalse(PanelMembership.objects.exists())

    def test_it_asks_for_a_target(self) -> None:
        self.client.force_login(self.olga)
        r = self.bulk({"p.country": "UK"}, target="")
        self.assertContains(r, "Choose a panel or a study.")
        self.assertFalse(PanelMembership.objects.exists())

    def test_it_requires_manage_panels(self) -> None:
        for user in (self.rita, self.dev, self.oscar):
            self.client.force_login(user)
            r = self.bulk({"p.country": "UK"})
            self.assertContains(r, "Your role does not allow this: manage panels.")
        self.assertFalse(PanelMembership.objects.exists())


class PanelsApiTestCase(PanelsTestCase):
    def test_it_creates_lists_and_updates_panels(self) -> None:
        r = self.api(self.olga, "post", "/panels", {"name": " Desktop ", "description": "Big screens"})
        self.assertEqual(r.status_code, 201)
        self.assertEqual((r.json()["name"], r.json()["members"]), ("Desktop", 0))
        code = r.json()["code"]
        self.assertTrue(Panel.objects.filter(code=code, description="Big screens").exists())
        r = self.api(self.dev, "get", "/panels")
        self.assertEqual([p["name"] for p in r.json()], ["Desktop", "Mobile testers"])
        r = self.api(self.olga, "patch", f"/panels/{code}", {"name": "Desktop users"})
        self.assertEqual(r.json()["name"], "Desktop users")
        self.assertEqual(self.api(self.dev, "get", f"/panels/{code}").json()["description"], "Big screens")

    def test_creating_and_changing_panels_requires_manage_panels(self) -> None:
        for user in (self.rita, self.dev):
            r = self.api(user, "post", "/panels", {"name": "Desktop"})
            self.assertEqual(r.status_code, 403)
            self.assertEqual(r.json()["message"], "Your role does not allow this: manage panels and sign-up review.")
            r = self.api(user, "patch", f"/panels/{self.panel.code}", {"name": "Renamed"})
            self.assertEqual(r.status_code, 403)
        self.assertEqual(list(Panel.objects.values_list("name", flat=True)), ["Mobile testers"])

    def test_it_lists_members_by_status(self) -> None:
        self.join("Ana", PENDING, Source.RESPONSE)
        self.join("Ben", APPROVED)
        self.join("Cleo", REJECTED)
        r = self.api(self.dev, "get", f"/panels/{self.panel.code}/members")
        self.assertEqual(r.status_code, 200)
        got = {m["person"]: m["status"] for m in r.json()}
        self.assertEqual(
            got,
            {
                str(self.people["Ana"].code): PENDING,
                str(self.people["Ben"].code): APPROVED,
                str(self.people["Cleo"].code): REJECTED,
            },
        )
        r = self.api(self.dev, "get", f"/panels/{self.panel.code}/members?status=pending_review")
        self.assertEqual([(m["person"], m["source"]) for m in r.json()], [(str(self.people["Ana"].code), "response")])
        r = self.api(self.dev, "get", f"/panels/{self.panel.code}/members?status=banned")
        self.assertEqual(r.status_code, 422)
        # Only approved members count as members.
        self.assertEqual(self.api(self.dev, "get", f"/panels/{self.panel.code}").json()["members"], 1)

    def test_it_adds_members_by_code_and_by_email(self) -> None:
        body = {"people": [str(self.people["Ana"].code)], "emails": [" BEN@Example.org "]}
        r = self.api(self.olga, "post", f"/panels/{self.panel.code}/members", body)
        self.assertEqual(r.status_code, 200, r.content)
        self.assertEqual(sorted(m["status"] for m in r.json()), [APPROVED, APPROVED])
        self.assertEqual(self.statuses(), {"Ana": APPROVED, "Ben": APPROVED})

    def test_it_adds_members_pending_review(self) -> None:
        body = {"emails": ["cleo@example.org"], "status": "pending_review"}
        r = self.api(self.olga, "post", f"/panels/{self.panel.code}/members", body)
        self.assertEqual([m["status"] for m in r.json()], [PENDING])
        self.assertEqual(self.statuses(), {"Cleo": PENDING})

    def test_it_adds_a_member_by_a_secondary_email(self) -> None:
        pv.set_emails(self.people["Dan"], "dan@example.org", ["dan.work@example.org"])
        r = self.api(self.olga, "post", f"/panels/{self.panel.code}/members", {"emails": ["dan.work@example.org"]})
        self.assertEqual(r.status_code, 200)
        self.assertEqual(self.statuses(), {"Dan": APPROVED})

    def test_it_accepts_a_person_named_twice(self) -> None:
        ana = self.people["Ana"]
        pv.set_emails(ana, "ana@example.org", ["ana.work@example.org"])
        body = {"people": [str(ana.code)], "emails": ["ana@example.org", "ana.work@example.org"]}
        r = self.api(self.olga, "post", f"/panels/{self.panel.code}/members", body)
        self.assertEqual(r.status_code, 200, r.content)
        self.assertEqual([m["person"] for m in r.json()], [str(ana.code)])
        self.assertEqual(self.statuses(), {"Ana": APPROVED})

    def test_it_leaves_existing_members_as_they_are(self) -> None:
        self.join("Ana", REJECTED)
        body = {"people": [str(self.people["Ana"].code), str(self.people["Ben"].code)]}
        r = self.api(self.olga, "post", f"/panels/{self.panel.code}/members", body)
        self.assertEqual(r.status_code, 200)
        self.assertEqual(self.statuses(), {"Ana": REJECTED, "Ben": APPROVED})

    def test_it_refuses_unknown_people_and_adds_nobody(self) -> None:
        body = {"people": [str(self.people["Ana"].code)], "emails": ["nobody@example.org"]}
        r = self.api(self.olga, "post", f"/panels/{self.panel.code}/members", body)
        self.assertEqual(r.status_code, 422)
        self.assertEqual(r.json()["message"], "Some of these people do not exist.")
        self.assertFalse(PanelMembership.objects.exists())

    def test_it_changes_a_members_status(self) -> None:
        self.join("Ana", PENDING)
        url = f"/panels/{self.panel.code}/members/{self.people['Ana'].code}"
        r = self.api(self.olga, "patch", url, {"status": "approved"})
        self.assertEqual(r.status_code, 200)
        self.assertEqual(r.json()["status"], APPROVED)
        m = PanelMembership.objects.get()
        self.assertEqual((m.status, m.reviewed_by), (APPROVED, self.olga))
        self.assertIsNotNone(m.reviewed_at)
        r = self.api(self.olga, "patch", url, {"status": "banned"})
        self.assertEqual(r.status_code, 422)
        r = self.api(
            self.olga, "patch", f"/panels/{self.panel.code}/members/{self.people['Ben'].code}", {"status": "approved"}
        )
        self.assertEqual(r.status_code, 404)
        self.assertEqual(self.statuses(), {"Ana": APPROVED})

    def test_changing_members_requires_manage_panels(self) -> None:
        self.join("Ana", PENDING)
        for user in (self.rita, self.dev):
            r = self.api(user, "post", f"/panels/{self.panel.code}/members", {"emails": ["ben@example.org"]})
            self.assertEqual(r.status_code, 403)
            url = f"/panels/{self.panel.code}/members/{self.people['Ana'].code}"
            self.assertEqual(self.api(user, "patch", url, {"status": "approved"}).status_code, 403)
        self.assertEqual(self.statuses(), {"Ana": PENDING})

    def test_it_removes_a_member_as_the_page_does(self) -> None:
        self.join("Ana", APPROVED)
        self.join("Ben", PENDING)
        url = f"/panels/{self.panel.code}/members/{self.people['Ana'].code}"
        self.assertEqual(self.api(self.rita, "delete", url).status_code, 403)
        r = self.api(self.olga, "delete", url)
        self.assertEqual(r.status_code, 204)
        self.assertEqual(self.statuses(), {"Ben": PENDING})
        self.assertEqual(self.api(self.olga, "delete", url).status_code, 404)
        # Removed, they can join again.
        r = self.api(self.olga, "post", f"/panels/{self.panel.code}/members", {"emails": ["ana@example.org"]})
        self.assertEqual(self.statuses(), {"Ana": APPROVED, "Ben": PENDING})
