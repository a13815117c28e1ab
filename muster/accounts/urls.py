from __future__ import annotations

from django.urls import path

from muster.accounts import views

urlpatterns = [
    path("sign-in/", views.sign_in, name="login"),
    path("sign-out/", views.sign_out, name="logout"),
    path("password-reset/", views.password_reset, name="password_reset"),
    path("password-reset/sent/", views.password_reset_done, name="password_reset_done"),
    path("password-reset/<uidb64>/<token>/", views.password_reset_confirm, name="password_reset_confirm"),
    path("password-reset/done/", views.password_reset_complete, name="password_reset_complete"),
    path("account/", views.account, name="account"),
    path("settings/users/", views.users, name="users"),
    path("settings/users/<uuid:code>/", views.user_update, name="user_update"),
    path("settings/api-tokens/", views.api_tokens, name="api_tokens"),
    path("settings/api-tokens/<uuid:code>/revoke/", views.api_token_revoke, name="api_token_revoke"),
]
