from __future__ import annotations

from django.urls import path

from muster.front import views

urlpatterns = [
    path("", views.index, name="index"),
    path("settings/", views.settings_index, name="settings"),
]
