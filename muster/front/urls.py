from __future__ import annotations

from django.urls import path

from muster.front import views

urlpatterns = [
    path("", views.index, name="index"),
    path("people/", views.people, name="people"),
    path("panels/", views.panels, name="panels"),
    path("studies/", views.studies, name="studies"),
    path("settings/", views.settings_index, name="settings"),
]
