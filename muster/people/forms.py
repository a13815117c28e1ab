from __future__ import annotations

from django import forms

from muster.people.models import PropertyType


class PersonForm(forms.Form):
    email = forms.EmailField(max_length=254)
    other_emails = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}), help_text="One per line.")
    first_name = forms.CharField(max_length=150, required=False)
    last_name = forms.CharField(max_length=150, required=False)

    def other_email_list(self) -> list[str]:
        return [line.strip() for line in self.cleaned_data["other_emails"].splitlines() if line.strip()]

    def clean_other_emails(self) -> str:
        field = forms.EmailField()
        for line in self.data.get("other_emails", "").splitlines():
            if line.strip():
                field.clean(line.strip())
        return str(self.cleaned_data["other_emails"])


class PropertyForm(forms.Form):
    label = forms.CharField(max_length=200)
    key = forms.CharField(
        max_length=64,
        required=False,
        help_text="Used in the API, filters and CSV. Leave it empty to make it from the label "
        "(“Signed up” becomes signed_up); lowercase letters, digits, _ and -.",
    )
    type = forms.ChoiceField(choices=PropertyType.choices, widget=forms.RadioSelect, initial=PropertyType.TEXT)
    unique = forms.BooleanField(required=False, help_text="No two people may share a value.")
    pii = forms.BooleanField(required=False, label="PII", help_text="Masked for roles that may not see PII.")
    options = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 3}), help_text="One option per line."
    )


class PropertyEditForm(forms.Form):
    label = forms.CharField(max_length=200)
    unique = forms.BooleanField(required=False)
    pii = forms.BooleanField(required=False, label="PII")
    position = forms.IntegerField(min_value=0)


class ImportForm(forms.Form):
    file = forms.FileField(help_text="CSV, UTF-8, with a header row and an email column.")


class PanelForm(forms.Form):
    name = forms.CharField(max_length=200)
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
