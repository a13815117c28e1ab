from __future__ import annotations

from django.contrib import admin
from django.urls import include, path

from muster.api.api import api
from muster.front.views import admin_sign_in

admin.site.site_header = "Muster administration"
admin.site.site_title = "Muster admin"
admin.site.login = admin_sign_in  # type: ignore[method-assign]

urlpatterns = [
    path("", include("muster.front.urls")),
    path("", include("muster.accounts.urls")),
    path("", include("muster.people.urls")),
    path("", include("muster.studies.urls")),
    path("", include("muster.surveys.urls")),
    path("", include("muster.integrations.qualtrics.urls")),
    path("api/v1/", api.urls),
    path("admin/", admin.site.urls),
]

handler500 = "muster.front.views.server_error"
