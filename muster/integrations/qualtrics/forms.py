from __future__ import annotations

from django import forms

WHERE_TO_FIND_IT = (
    "A Brand Administrator's API token: in Qualtrics, Account Settings → Qualtrics IDs → API. "
    "Muster uses it for this one request and never stores it."
)


class BrandAdminTokenField(forms.CharField):
    def __init__(self, **kwargs: object) -> None:
        super().__init__(
            label="Brand Administrator API token",
            help_text=WHERE_TO_FIND_IT,
            max_length=200,
            # Never re-rendered into the page, whatever else was wrong with the form.
            widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
            **kwargs,  # type: ignore[arg-type]
        )


class ConnectForm(forms.Form):
    base_url = forms.CharField(
        label="Datacenter or account URL",
        max_length=200,
        help_text="Your datacenter id (e.g. iad1, fra1) or the address you use Qualtrics at "
        "(e.g. https://yourbrand.co1.qualtrics.com).",
    )
    brand_admin_token = BrandAdminTokenField()
    user_type = forms.CharField(
        label="User type for the service user",
        max_length=100,
        help_text="The UT_… id of a user type with API access (Admin → User Types). Muster's user gets this type.",
    )

    def clean_user_type(self) -> str:
        value = self.cleaned_data["user_type"].strip()
        if not value.startswith("UT_"):
            raise forms.ValidationError("A user type id starts with UT_.")
        return value


class AdminTokenForm(forms.Form):
    brand_admin_token = BrandAdminTokenField()


class DisconnectForm(forms.Form):
    brand_admin_token = BrandAdminTokenField(required=False)
