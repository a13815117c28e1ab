from __future__ import annotations

from django.urls import path

from muster.integrations.qualtrics import views, webhook

urlpatterns = [
    path("settings/connected-apps/", views.connected_apps, name="connected_apps"),
    path("settings/connected-apps/qualtrics/", views.connection_view, name="qualtrics_connection"),
    path("settings/connected-apps/qualtrics/connect/", views.connect_view, name="qualtrics_connect"),
    path("settings/connected-apps/qualtrics/test/", views.test_view, name="qualtrics_test"),
    path("settings/connected-apps/qualtrics/repair/", views.repair_view, name="qualtrics_repair"),
    path("settings/connected-apps/qualtrics/resubscribe/", views.resubscribe_view, name="qualtrics_resubscribe"),
    path("settings/connected-apps/qualtrics/disconnect/", views.disconnect_view, name="qualtrics_disconnect"),
    path("settings/qualtrics-surveys/", views.surveys_view, name="qualtrics_surveys"),
    path("q/return/", views.survey_return, name="qualtrics_return"),
    path("q/return/status/", views.survey_return_status, name="qualtrics_return_status"),
    path("integrations/qualtrics/webhook/", webhook.receive, name="qualtrics_webhook"),
]
