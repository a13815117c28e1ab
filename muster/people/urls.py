from __future__ import annotations

from django.urls import path

from muster.people import views

urlpatterns = [
    path("people/", views.people, name="people"),
    path("people/new/", views.person_new, name="person_new"),
    path("people/bulk/", views.people_bulk, name="people_bulk"),
    path("people/columns/", views.people_columns, name="people_columns"),
    path("people/export.csv", views.people_export, name="people_export"),
    path("people/import/", views.people_import, name="people_import"),
    path("people/import/<uuid:code>/", views.people_import_status, name="people_import_status"),
    path("people/import/<uuid:code>/progress/", views.people_import_progress, name="people_import_progress"),
    path("people/import/<uuid:code>/cancel/", views.people_import_cancel, name="people_import_cancel"),
    path("people/import/<uuid:code>/retry/", views.people_import_retry, name="people_import_retry"),
    path("people/import/<uuid:code>/dismiss/", views.people_import_dismiss, name="people_import_dismiss"),
    path("people/<uuid:code>/", views.person, name="person"),
    path("people/<uuid:code>/edit/", views.person_edit, name="person_edit"),
    path("people/<uuid:code>/values/<uuid:property_code>/", views.person_value, name="person_value"),
    path("people/<uuid:code>/opt-out/", views.person_opt_out, name="person_opt_out"),
    path("people/<uuid:code>/opt-in/", views.person_opt_in, name="person_opt_in"),
    path("people/<uuid:code>/erase/", views.person_erase, name="person_erase"),
    path("settings/properties/", views.properties, name="properties"),
    path("settings/properties/<uuid:code>/", views.property_edit, name="property"),
    path("settings/properties/<uuid:code>/delete/", views.property_delete, name="property_delete"),
    path("settings/properties/<uuid:code>/options/", views.property_option_add, name="property_option_add"),
    path(
        "settings/properties/<uuid:code>/options/<uuid:option_code>/",
        views.property_option_update,
        name="property_option_update",
    ),
    path("panels/", views.panels, name="panels"),
    path("panels/<uuid:code>/", views.panel, name="panel"),
    path("panels/<uuid:code>/delete/", views.panel_delete, name="panel_delete"),
    path("panels/<uuid:code>/members/<uuid:person_code>/", views.panel_member_update, name="panel_member_update"),
]
