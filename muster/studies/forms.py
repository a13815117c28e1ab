from __future__ import annotations

from django import forms

from muster.studies.models import StudyKind


class StudyForm(forms.Form):
    name = forms.CharField(max_length=200)
    kind = forms.ChoiceField(choices=StudyKind.choices)
    participation_limit = forms.IntegerField(
        min_value=0,
        required=False,
        help_text="Leave empty for no limit. Test participants and cancelled ones don't count.",
    )
    landing_slug = forms.SlugField(max_length=80, label="Landing page address", help_text="/s/<this>/")
    landing_text = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 4}), label="Landing text")


class LandingForm(forms.Form):
    """What a study's landing page asks of anyone who wants to take part."""

    email = forms.EmailField(max_length=254)
    first_name = forms.CharField(max_length=150, required=False)
    last_name = forms.CharField(max_length=150, required=False)
