from __future__ import annotations

from django.contrib import admin

from muster.accounts.models import ApiToken, User


@admin.register(User)
class UserAdmin(admin.ModelAdmin[User]):
    list_display = ["email", "name", "role", "is_active", "last_login"]
    list_filter = ["role", "is_active"]
    search_fields = ["email", "name"]
    exclude = ["password", "groups", "user_permissions", "is_superuser"]
    readonly_fields = ["code", "last_login", "date_joined"]


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin[ApiToken]):
    list_display = ["name", "user", "hint", "created", "last_used"]
    exclude = ["token_hash"]
    readonly_fields = ["code", "user", "hint", "created", "last_used"]

    def has_add_permission(self, request: object) -> bool:  # type: ignore[override]
        return False
