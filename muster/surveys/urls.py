from __future__ import annotations

from django.urls import path

from muster.surveys import views

urlpatterns = [
    path("s/<slug:slug>/go/<str:participant_id>/", views.handoff, name="study_handoff"),
    path("studies/<uuid:code>/screener/", views.study_step, {"step": "screener"}, name="study_screener"),
    path("studies/<uuid:code>/survey/", views.study_step, {"step": "survey"}, name="study_survey"),
]
