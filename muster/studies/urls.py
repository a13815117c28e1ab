from __future__ import annotations

from django.urls import path

from muster.studies import views

urlpatterns = [
    path("studies/", views.studies, name="studies"),
    path("studies/new/", views.study_new, name="study_new"),
    path("studies/<uuid:code>/", views.study, name="study"),
    path("studies/<uuid:code>/edit/", views.study_edit, name="study_edit"),
    path("studies/<uuid:code>/status/", views.study_status, name="study_status"),
    path("studies/<uuid:code>/add-panel/", views.study_add_panel, name="study_add_panel"),
    path(
        "studies/<uuid:code>/participants/<uuid:participant_code>/status/",
        views.participant_status,
        name="participant_status",
    ),
    path("s/<slug:slug>/", views.study_landing, name="study_landing"),
    path("s/<slug:slug>/continue/<str:token>/", views.study_continue, name="study_continue"),
]
