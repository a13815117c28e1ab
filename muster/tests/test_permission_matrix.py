"""Every URL pattern and every API operation has an expected outcome for every role.

A new route fails this test until it joins one of the tables below, so no route ships without
an access decision.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from django.urls import URLPattern, URLResolver, get_resolver, reverse

from muster.accounts.models import ApiToken, User
from muster.accounts.roles import Role
from muster.api.api import api
from muster.people.models import Panel, PanelMembership, PersonImport
from muster.people.properties import create_property
from muster.people.values import create_person
from muster.studies import landing
from muster.studies.models import Study, StudyParticipant, StudyStatus
from muster.surveys.models import SurveyForm
from muster.test import BaseTestCase

ALL = frozenset(Role)
TOKEN_OWNERS = frozenset({Role.ADMIN, Role.OPS_MANAGER, Role.RESEARCHER, Role.DEVELOPER})
MANAGE_INTEGRATIONS = frozenset({Role.ADMIN, Role.OPS_MANAGER, Role.DEVELOPER})
USE_INTEGRATIONS = frozenset({Role.ADMIN, Role.OPS_MANAGER, Role.RESEARCHER, Role.DEVELOPER})


@dataclass
class Route:
    roles: frozenset[Role] | None  # None: a public page, the same for everyone
    method: str = "get"
    kwargs: Callable[[BaseTestCase, User], dict[str, Any]] = field(default=lambda t, u: {})
    ok: int = 200
    data: dict[str, Any] = field(default_factory=dict)


def _own_token(t: BaseTestCase, u: User) -> dict[str, Any]:
    return {"code": ApiToken.issue(u, "matrix")[0].code}


PEOPLE_WRITERS = frozenset({Role.ADMIN, Role.OPS_MANAGER, Role.RESEARCHER})
DEFINERS = frozenset({Role.ADMIN, Role.OPS_MANAGER})


def _fx(t: BaseTestCase) -> SimpleNamespace:
    """One person, property, option, panel, study and import shared by every role's call."""
    if not hasattr(t, "_fixtures"):
        person = create_person("pat@example.org", first_name="Pat", source="manual")
        prop = create_property("colour", "Colour", "single_select", options=["Red"])
        panel = Panel.objects.create(name="Panel")
        PanelMembership.objects.create(panel=panel, person=person)
        study = Study.objects.create(name="Study", landing_slug="study", status=StudyStatus.ACTIVE)
        imp = PersonImport.objects.create(filename="a.csv", path="/nonexistent.csv", columns=["email"])
        t._fixtures = SimpleNamespace(  # type: ignore[attr-defined]
            person=person, prop=prop, option=prop.options.get(), panel=panel, study=study, imp=imp
        )
    return t._fixtures  # type: ignore[attr-defined,no-any-return]


def _new_participant(t: BaseTestCase, u: User) -> dict[str, Any]:
    fx = _fx(t)
    person = create_person(f"p{uuid.uuid4().hex[:8]}@example.org", source="manual")
    participant = StudyParticipant.objects.create(study=fx.study, person=person)
    return {"code": fx.study.code, "participant_code": participant.code}


def _new_member(t: BaseTestCase, u: User) -> dict[str, Any]:
    fx = _fx(t)
    person = create_person(f"m{uuid.uuid4().hex[:8]}@example.org", source="manual")
    PanelMembership.objects.create(panel=fx.panel, person=person)
    return {"code": fx.panel.code, "person_code": person.code}


def _new_person(t: BaseTestCase, u: User) -> dict[str, Any]:
    return {"code": create_person(f"e{uuid.uuid4().hex[:8]}@example.org", source="manual").code}


def _study_toggle(t: BaseTestCase, u: User) -> dict[str, Any]:
    _fx(t).study.refresh_from_db()
    return {"status": "paused" if _fx(t).study.status == StudyStatus.ACTIVE else "active"}


def _new_prop(t: BaseTestCase, u: User) -> dict[str, Any]:
    return {"code": create_property(f"p_{uuid.uuid4().hex[:8]}", "Doomed", "text").code}


def _new_panel(t: BaseTestCase, u: User) -> dict[str, Any]:
    return {"code": Panel.objects.create(name="Doomed").code}


def _person(t: BaseTestCase, u: User) -> dict[str, Any]:
    return {"code": _fx(t).person.code}


def _prop(t: BaseTestCase, u: User) -> dict[str, Any]:
    return {"code": _fx(t).prop.code}


def _panel(t: BaseTestCase, u: User) -> dict[str, Any]:
    return {"code": _fx(t).panel.code}


def _study(t: BaseTestCase, u: User) -> dict[str, Any]:
    return {"code": _fx(t).study.code}


def _form(t: BaseTestCase, u: User) -> dict[str, Any]:
    fx = _fx(t)
    if not hasattr(fx, "form"):
        fx.form = SurveyForm.objects.create(
            tool="qualtrics", brand="b", survey_id="SV_1", survey_name="S", owner_kind="survey", study=fx.study
        )
    return {"code": fx.form.code}


def _imp(t: BaseTestCase, u: User) -> dict[str, Any]:
    return {"code": _fx(t).imp.code}


VIEWS: dict[str, Route] = {
    "login": Route(None),
    "logout": Route(None, method="post", ok=302),
    "password_reset": Route(None),
    "password_reset_done": Route(None),
    "password_reset_confirm": Route(None, kwargs=lambda t, u: {"uidb64": "MQ", "token": "x-y"}),
    "password_reset_complete": Route(None),
    "index": Route(ALL, ok=302),
    "account": Route(ALL),
    "people": Route(ALL),
    "person_new": Route(PEOPLE_WRITERS),
    "people_bulk": Route(ALL, method="post", ok=302, data={"target": "nothing"}),
    "people_columns": Route(ALL, method="post", ok=302, data={"column": ["nothing"]}),
    "people_export": Route(PEOPLE_WRITERS),
    "people_import": Route(PEOPLE_WRITERS),
    "people_import_status": Route(PEOPLE_WRITERS, kwargs=_imp),
    "people_import_progress": Route(PEOPLE_WRITERS, kwargs=_imp),
    "people_import_cancel": Route(PEOPLE_WRITERS, method="post", ok=302, kwargs=_imp),
    "people_import_retry": Route(PEOPLE_WRITERS, method="post", ok=302, kwargs=_imp),
    "people_import_dismiss": Route(PEOPLE_WRITERS, method="post", ok=302, kwargs=_imp),
    "person": Route(ALL, kwargs=_person),
    "person_edit": Route(PEOPLE_WRITERS, kwargs=_person),
    "person_value": Route(
        PEOPLE_WRITERS, method="post", ok=302, kwargs=lambda t, u: {**_person(t, u), "property_code": _fx(t).prop.code}
    ),
    "person_opt_out": Route(PEOPLE_WRITERS, method="post", ok=302, kwargs=_person),
    "person_opt_in": Route(PEOPLE_WRITERS, method="post", ok=302, kwargs=_person),
    "person_erase": Route(PEOPLE_WRITERS, method="post", ok=302, kwargs=_new_person),
    "properties": Route(DEFINERS),
    "property": Route(DEFINERS, kwargs=_prop),
    "property_option_add": Route(DEFINERS, method="post", ok=302, kwargs=_prop, data={"label": "Blue"}),
    "property_option_update": Route(
        DEFINERS,
        method="post",
        ok=302,
        kwargs=lambda t, u: {"code": _fx(t).prop.code, "option_code": _fx(t).option.code},
        data={"action": "retire"},
    ),
    "property_delete": Route(DEFINERS, method="post", ok=302, kwargs=_new_prop),
    "panel_delete": Route(DEFINERS, method="post", ok=302, kwargs=_new_panel),
    "panels": Route(ALL),
    "panel": Route(ALL, kwargs=_panel),
    "panel_member_update": Route(
        DEFINERS,
        method="post",
        ok=302,
        kwargs=lambda t, u: {"code": _fx(t).panel.code, "person_code": _fx(t).person.code},
        data={"status": "approved"},
    ),
    "studies": Route(ALL),
    "study_new": Route(PEOPLE_WRITERS),
    "study": Route(ALL, kwargs=_study),
    "study_edit": Route(PEOPLE_WRITERS, kwargs=_study),
    "study_status": Route(PEOPLE_WRITERS, method="post", ok=302, kwargs=_study, data={"status": "paused"}),
    "study_add_panel": Route(PEOPLE_WRITERS, method="post", ok=302, kwargs=_study, data={"panel": "x"}),
    "participant_status": Route(
        PEOPLE_WRITERS, method="post", ok=302, kwargs=_new_participant, data={"status": "invited"}
    ),
    # A study's steps: everyone looks; the forms on them post to the same URL (MANAGE_STUDIES).
    "study_screener": Route(ALL, kwargs=_study),
    "study_survey": Route(ALL, kwargs=_study),
    "settings": Route(ALL),
    "users": Route(frozenset({Role.ADMIN})),
    "user_update": Route(
        frozenset({Role.ADMIN}),
        method="post",
        ok=302,
        kwargs=lambda t, u: {"code": t.oscar.code},
        data={"role": "observer", "is_active": "on"},
    ),
    "api_tokens": Route(TOKEN_OWNERS),
    "api_token_revoke": Route(TOKEN_OWNERS, method="post", ok=302, kwargs=_own_token),
    # Qualtrics, while not connected: the connection page sends you to Connect.
    "connected_apps": Route(MANAGE_INTEGRATIONS),
    "qualtrics_connection": Route(MANAGE_INTEGRATIONS, ok=302),
    "qualtrics_connect": Route(MANAGE_INTEGRATIONS),
    "qualtrics_test": Route(MANAGE_INTEGRATIONS, method="post", ok=302),
    "qualtrics_repair": Route(MANAGE_INTEGRATIONS, method="post", ok=302),
    "qualtrics_resubscribe": Route(MANAGE_INTEGRATIONS, method="post", ok=302),
    "qualtrics_disconnect": Route(MANAGE_INTEGRATIONS, method="post", ok=302),
    "qualtrics_surveys": Route(USE_INTEGRATIONS),
    "qualtrics_webhook": Route(None),
    "qualtrics_return": Route(None),
    # A study's public pages (DESIGN §5.4): the hand-off of a study with no forms says there is nothing yet.
    "study_landing": Route(None, kwargs=lambda t, u: {"slug": "study"}),
    "study_continue": Route(None, kwargs=lambda t, u: {"slug": "study", "token": _landing_token(t)}),
    "study_handoff": Route(None, kwargs=lambda t, u: {"slug": "study", "participant_id": _participant_id(t)}),
}


def _landing_token(t: BaseTestCase) -> str:
    return landing.make_token(_fx(t).study, "pat@example.org")


def _participant_id(t: BaseTestCase) -> str:
    fx = _fx(t)
    participant = StudyParticipant.objects.get_or_create(study=fx.study, person=fx.person, is_test=False)[0]
    return participant.participant_id


@dataclass
class Call:
    """An API call that needs path parameters, a JSON body or answers other than 200."""

    roles: frozenset[Role]
    path: Callable[[BaseTestCase, User], dict[str, Any]] = field(default=lambda t, u: {})
    body: Callable[[BaseTestCase, User], dict[str, Any]] | None = None
    ok: int = 200


WRITERS = TOKEN_OWNERS & PEOPLE_WRITERS

# (method, path) -> roles whose token may call it; everyone else gets 403, no token 401.
API: dict[tuple[str, str], frozenset[Role] | Call] = {
    ("get", "/api/v1/me"): TOKEN_OWNERS,
    # Qualtrics, while not connected: status answers, the rest say so (409); connect is refused
    # for its host (400) before any token leaves Muster.
    ("get", "/api/v1/integrations/qualtrics"): MANAGE_INTEGRATIONS,
    ("delete", "/api/v1/integrations/qualtrics"): Call(MANAGE_INTEGRATIONS, ok=409),
    ("post", "/api/v1/integrations/qualtrics/connect"): Call(
        MANAGE_INTEGRATIONS,
        body=lambda t, u: {"base_url": "https://evil.example.org", "brand_admin_token": "t", "user_type": "UT_1"},
        ok=400,
    ),
    ("post", "/api/v1/integrations/qualtrics/test"): Call(MANAGE_INTEGRATIONS, ok=409),
    ("post", "/api/v1/integrations/qualtrics/resubscribe"): Call(
        MANAGE_INTEGRATIONS, body=lambda t, u: {"brand_admin_token": "t"}, ok=409
    ),
    ("post", "/api/v1/integrations/qualtrics/repair"): Call(
        MANAGE_INTEGRATIONS, body=lambda t, u: {"brand_admin_token": "t"}, ok=409
    ),
    ("get", "/api/v1/integrations/qualtrics/surveys"): Call(USE_INTEGRATIONS, ok=409),
    ("get", "/api/v1/people"): TOKEN_OWNERS,
    ("post", "/api/v1/people"): Call(WRITERS, body=lambda t, u: {"email": f"new-{u.role}@example.org"}, ok=201),
    ("post", "/api/v1/people/bulk"): Call(
        WRITERS, body=lambda t, u: {"items": [{"email": f"bulk-{u.role}@example.org", "properties": {"colour": "Red"}}]}
    ),
    ("get", "/api/v1/people/{code}"): Call(TOKEN_OWNERS, _person),
    ("patch", "/api/v1/people/{code}"): Call(WRITERS, _person, lambda t, u: {"first_name": "Pat"}),
    ("put", "/api/v1/people/{code}/properties"): Call(WRITERS, _person, lambda t, u: {"properties": {"colour": "Red"}}),
    ("get", "/api/v1/people/{code}/history"): Call(TOKEN_OWNERS, _person),
    ("delete", "/api/v1/people/{code}"): Call(WRITERS, _new_person),
    ("get", "/api/v1/properties"): TOKEN_OWNERS,
    ("post", "/api/v1/properties"): Call(
        DEFINERS, body=lambda t, u: {"key": f"k-{u.role}", "label": "K", "type": "text"}, ok=201
    ),
    ("patch", "/api/v1/properties/{code}"): Call(DEFINERS, _prop, lambda t, u: {"label": "Colour"}),
    ("post", "/api/v1/properties/{code}/options"): Call(DEFINERS, _prop, lambda t, u: {"label": f"o-{u.role}"}, 201),
    ("patch", "/api/v1/properties/{code}/options/{option_code}"): Call(
        DEFINERS, lambda t, u: {**_prop(t, u), "option_code": _fx(t).option.code}, lambda t, u: {"position": 0}
    ),
    ("delete", "/api/v1/properties/{code}"): Call(DEFINERS, _new_prop, ok=204),
    ("delete", "/api/v1/panels/{code}"): Call(DEFINERS, _new_panel, ok=204),
    ("get", "/api/v1/panels"): TOKEN_OWNERS,
    ("post", "/api/v1/panels"): Call(DEFINERS, body=lambda t, u: {"name": "P"}, ok=201),
    ("get", "/api/v1/panels/{code}"): Call(TOKEN_OWNERS, _panel),
    ("patch", "/api/v1/panels/{code}"): Call(DEFINERS, _panel, lambda t, u: {"name": "Panel"}),
    ("get", "/api/v1/panels/{code}/members"): Call(TOKEN_OWNERS, _panel),
    ("post", "/api/v1/panels/{code}/members"): Call(
        DEFINERS, _panel, lambda t, u: {"people": [str(_fx(t).person.code)]}
    ),
    ("patch", "/api/v1/panels/{code}/members/{person_code}"): Call(
        DEFINERS, lambda t, u: {**_panel(t, u), "person_code": _fx(t).person.code}, lambda t, u: {"status": "approved"}
    ),
    ("delete", "/api/v1/panels/{code}/members/{person_code}"): Call(DEFINERS, _new_member, ok=204),
    ("get", "/api/v1/studies"): TOKEN_OWNERS,
    ("post", "/api/v1/studies"): Call(
        WRITERS, body=lambda t, u: {"name": "S", "landing_slug": f"s-{u.role}".replace("_", "-")}, ok=201
    ),
    ("get", "/api/v1/studies/{code}"): Call(TOKEN_OWNERS, _study),
    ("patch", "/api/v1/studies/{code}"): Call(WRITERS, _study, lambda t, u: {"name": "Study"}),
    ("post", "/api/v1/studies/{code}/status"): Call(WRITERS, _study, _study_toggle),
    ("get", "/api/v1/studies/{code}/participants"): Call(TOKEN_OWNERS, _study),
    ("post", "/api/v1/studies/{code}/participants"): Call(
        WRITERS, _study, lambda t, u: {"people": [str(_fx(t).person.code)]}
    ),
    ("post", "/api/v1/studies/{code}/participants/{participant_code}/status"): Call(
        WRITERS, _new_participant, lambda t, u: {"status": "invited"}
    ),
    # Not connected to Qualtrics: attaching, a dry run and a re-import say so (409).
    ("put", "/api/v1/studies/{code}/screener"): Call(
        WRITERS, _study, lambda t, u: {"tool": "qualtrics", "survey_id": "SV_1"}, ok=409
    ),
    ("put", "/api/v1/studies/{code}/survey"): Call(
        WRITERS, _study, lambda t, u: {"tool": "qualtrics", "survey_id": "SV_1"}, ok=409
    ),
    ("delete", "/api/v1/studies/{code}/screener"): Call(WRITERS, _study, ok=404),
    ("delete", "/api/v1/studies/{code}/survey"): Call(WRITERS, _study, ok=404),
    ("get", "/api/v1/forms/{code}"): Call(TOKEN_OWNERS, _form),
    ("get", "/api/v1/forms/{code}/responses"): Call(TOKEN_OWNERS, _form),
    ("put", "/api/v1/forms/{code}/mappings"): Call(WRITERS, _form, lambda t, u: {"mappings": []}),
    ("post", "/api/v1/forms/{code}/dry-run"): Call(WRITERS, _form, lambda t, u: {"limit": 5}, ok=409),
    ("post", "/api/v1/forms/{code}/reimport"): Call(WRITERS, _form, ok=409),
}


def url_names(resolver: URLResolver, namespace: str = "") -> list[str]:
    names = []
    for p in resolver.url_patterns:
        if isinstance(p, URLResolver):
            # Django admin guards itself (Admins only, checked below); the API has its own table.
            if p.namespace in ("admin", "api"):
                continue
            names += url_names(p, f"{namespace}{p.namespace}:" if p.namespace else namespace)
        elif isinstance(p, URLPattern) and p.name:
            names.append(namespace + p.name)
    return names


class PermissionMatrixTestCase(BaseTestCase):
    def test_every_url_pattern_has_an_expectation(self) -> None:
        missing = sorted(set(url_names(get_resolver())) - set(VIEWS))
        self.assertEqual(missing, [], "add these routes to VIEWS in this test")

    def test_every_api_operation_has_an_expectation(self) -> None:
        schema = api.get_openapi_schema()
        operations = {(m, path) for path, ops in schema["paths"].items() for m in ops}
        self.assertEqual(sorted(operations - set(API)), [], "add these operations to API in this test")

    def test_each_role_gets_the_expected_outcome_on_every_page(self) -> None:
        for name, route in VIEWS.items():
            for role, user in self.personas.items():
                self.client.force_login(user)
                url = reverse(name, kwargs=route.kwargs(self, user))
                r = getattr(self.client, route.method)(url, route.data)
                expected = route.ok if route.roles is None or role in route.roles else 403
                if name == "login":
                    expected = 302  # a signed-in user is sent on
                if name == "logout":
                    self.client.force_login(user)
                self.assertEqual(r.status_code, expected, f"{role} on {name}")
            self.client.logout()
            r = getattr(self.client, route.method)(reverse(name, kwargs=route.kwargs(self, self.alice)), route.data)
            if route.roles is None:
                self.assertEqual(r.status_code, route.ok, f"anonymous on {name}")
            else:
                self.assertEqual(r.status_code, 302, f"anonymous on {name}")
                self.assertTrue(r["Location"].startswith("/sign-in/"), name)

    def test_each_role_gets_the_expected_outcome_on_every_api_operation(self) -> None:
        for (method, path), spec in API.items():
            call = spec if isinstance(spec, Call) else Call(spec)
            for role, user in self.personas.items():
                _, raw = ApiToken.issue(user, "matrix")
                url = path.format(**call.path(self, user))
                body = json.dumps(call.body(self, user)) if call.body else None
                kwargs: dict[str, Any] = {"data": body, "content_type": "application/json"} if body is not None else {}
                r = getattr(self.client, method)(url, headers={"Authorization": f"Bearer {raw}"}, **kwargs)
                if role == Role.OBSERVER:
                    expected = 401  # Observers own no tokens, so theirs never authenticates
                else:
                    expected = call.ok if role in call.roles else 403
                self.assertEqual(r.status_code, expected, f"{role} on {method} {path}: {r.content[:200]!r}")
            r = getattr(self.client, method)(path.format(**call.path(self, self.alice)))
            self.assertEqual(r.status_code, 401, f"anonymous on {method} {path}")

    def test_only_admins_reach_django_admin(self) -> None:
        for role, user in self.personas.items():
            self.client.force_login(user)
            r = self.client.get("/admin/", follow=True)
            self.assertEqual(r.status_code, 200 if role == Role.ADMIN else 403, role)
