from __future__ import annotations

from django.urls import path

from muster.surveys import views

urlpatterns = [
    path("s/<slug:slug>/go/<str:participant_id>/", views.handoff, name="study_handoff"),
]
