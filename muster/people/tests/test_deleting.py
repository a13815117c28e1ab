"""Deleting a property or a panel: it says what goes, and refuses while something depends on it."""

from __future__ import annotations

from django.urls import reverse

from muster.people.models import Panel, PanelMembership, Person, PropertyValue, PropertyValueChange
from muster.people.properties import create_property
from muster.people.values import create_person
from muster.studies.models import Study
from muster.surveys.models import QuestionMapping, SurveyForm
from muster.test import BaseTestCase


class DeletingAPropertyTests(BaseTestCase):
    def setUp(self) -> None:
        super().setUp()
        self.prop = create_property("colour", "Colour", "single_select", options=["Red", "Blue"])
        self.pat = create_person("pat@example.org", source="manual", values={self.prop: self.prop.options.first()})

    def test_the_confirmation_names_what_goes(self) -> None:
        self.client.force_login(self.olga)
        page = self.client.get(reverse("property", args=[self.prop.code])).content.decode()
        assert "1 values, 1 history entries, 2 options" in page

    def test_it_removes_the_values_and_their_history_and_keeps_the_people(self) -> None:
        self.client.force_login(self.olga)
        r = self.client.post(reverse("property_delete", args=[self.prop.code]), follow=True)
        assert "The property Colour was deleted, with 1 values and their history." in r.content.decode()
        assert not PropertyValue.objects.exists() and not PropertyValueChange.objects.exists()
        assert Person.objects.filter(id=self.pat.id).exists()

    def test_a_property_a_mapping_writes_to_is_refused_naming_the_mapping(self) -> None:
        study = Study.objects.create(name="S", landing_slug="s")
        form = SurveyForm.objects.create(
            tool="qualtrics", brand="b", survey_id="SV_1", survey_name="Screener", owner_kind="screener", study=study
        )
        QuestionMapping.objects.create(form=form, qid="QID3", property=self.prop)
        r = self.api(self.olga, "delete", f"/properties/{self.prop.code}")
        assert r.status_code == 409
        assert r.json()["message"] == (
            "Colour cannot be deleted while something writes to it: the mapping of QID3 in the survey “Screener”. "
            "Remove those mappings first."
        )
        assert PropertyValue.objects.count() == 1

    def test_a_researcher_may_not(self) -> None:
        assert self.api(self.rita, "delete", f"/properties/{self.prop.code}").status_code == 403


class DeletingAPanelTests(BaseTestCase):
    def test_it_removes_the_memberships_and_keeps_the_people(self) -> None:
        panel = Panel.objects.create(name="Shoppers")
        pat = create_person("pat@example.org", source="manual")
        PanelMembership.objects.create(panel=panel, person=pat)
        self.client.force_login(self.olga)
        r = self.client.post(reverse("panel_delete", args=[panel.code]), follow=True)
        assert "The panel Shoppers was deleted; its 1 members stay in Muster." in r.content.decode()
        assert not Panel.objects.exists() and Person.objects.filter(id=pat.id).exists()

    def test_a_panel_with_a_sign_up_form_is_refused(self) -> None:
        panel = Panel.objects.create(name="Shoppers")
        SurveyForm.objects.create(
            tool="qualtrics", brand="b", survey_id="SV_1", survey_name="Sign-up", owner_kind="signup", panel=panel
        )
        r = self.api(self.olga, "delete", f"/panels/{panel.code}")
        assert r.status_code == 409 and "sign-up form" in r.json()["message"]
        assert Panel.objects.exists()
