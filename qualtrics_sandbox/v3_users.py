"""`/API/v3/whoami` and the users API (brand administrators only)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response

from . import accounts, surveys
from .accounts import User
from .auth import api_user, brand_admin_user
from .context import current_sandbox
from .envelope import bad_request, json_body, meta_only, not_found, success
from .ids import new_id
from .paging import PAGE_SIZE, offset, page

bp = Blueprint("v3_users", __name__)


@bp.get("/API/v3/whoami")
def whoami() -> Response:
    user = api_user()
    brand = accounts.brand_row(current_sandbox().store, user.brand_id)
    return success(
        {
            "brandId": user.brand_id,
            "userId": user.id,
            "userName": user.username,
            "accountType": user.user_type,
            "firstName": user.first_name,
            "lastName": user.last_name,
            "email": user.email,
            "datacenter": brand["datacenter"] if brand else current_sandbox().datacenter,
        }
    )


def _brand_user(admin: User, user_id: str) -> User:
    user = accounts.get_user(current_sandbox().store, user_id)
    if user is None or user.brand_id != admin.brand_id:
        raise not_found("User not found.", "UM_2")
    return user


def _text(body: dict[str, Any], name: str, required: bool) -> str | None:
    value = body.get(name)
    if value is None:
        if required:
            raise bad_request(f"Missing required field: {name}.", "UM_1")
        return None
    if not isinstance(value, str) or (required and not value.strip()):
        raise bad_request(f"Invalid value for {name}.", "UM_1")
    return value


@bp.post("/API/v3/users")
def create_user() -> Response:
    admin = brand_admin_user()
    store = current_sandbox().store
    body = json_body()
    username = _text(body, "username", True) or ""
    first_name = _text(body, "firstName", True) or ""
    last_name = _text(body, "lastName", True) or ""
    user_type = _text(body, "userType", True) or ""
    password = _text(body, "password", True) or ""
    email = _text(body, "email", False) or username
    language = _text(body, "language", False) or "EN"
    if not accounts.is_user_type(store, admin.brand_id, user_type):
        raise bad_request(f"Invalid userType: {user_type}.", "UM_5")
    if accounts.username_taken(store, username):
        raise bad_request("Username already exists.", "UM_4")
    user_id = new_id("UR")
    accounts.insert_user(
        store,
        user_id=user_id,
        brand_id=admin.brand_id,
        username=username,
        first_name=first_name,
        last_name=last_name,
        email=email,
        user_type=user_type,
        password=password,
        language=language,
        extra=body,
    )
    created = accounts.get_user(store, user_id)
    assert created is not None
    surveys.apply_auto_shares(store, created)
    return success({"id": user_id})


@bp.get("/API/v3/users")
def list_users() -> Response:
    admin = brand_admin_user()
    start = offset()
    users = accounts.list_users(current_sandbox().store, admin.brand_id, start, PAGE_SIZE + 1)
    return success(page([accounts.user_json(u) for u in users], start))


@bp.get("/API/v3/users/<user_id>")
def get_user(user_id: str) -> Response:
    admin = brand_admin_user()
    return success(accounts.user_json(_brand_user(admin, user_id)))


UPDATABLE = {
    "username": "username",
    "firstName": "first_name",
    "lastName": "last_name",
    "email": "email",
    "language": "language",
    "timeZone": "time_zone",
    "divisionId": "division_id",
    "accountExpirationDate": "expiration_date",
}


@bp.put("/API/v3/users/<user_id>")
def update_user(user_id: str) -> Response:
    admin = brand_admin_user()
    store = current_sandbox().store
    user = _brand_user(admin, user_id)
    body = json_body()
    changes: dict[str, Any] = {}
    for field, column in UPDATABLE.items():
        if field in body:
            changes[column] = _text(body, field, False)
    if "username" in body and accounts.username_taken(store, str(body["username"]), user.id):
        raise bad_request("Username already exists.", "UM_4")
    if "userType" in body:
        if not accounts.is_user_type(store, admin.brand_id, str(body["userType"])):
            raise bad_request(f"Invalid userType: {body['userType']}.", "UM_5")
        changes["user_type"] = body["userType"]
    if "password" in body:
        changes["password_hash"] = accounts.password_hash(_text(body, "password", True) or "")
    if "status" in body:
        status = str(body["status"]).lower()
        if status not in ("enabled", "disabled", "active"):
            raise bad_request("Invalid status; use Enabled or Disabled.", "UM_1")
        changes["status"] = "disabled" if status == "disabled" else "active"
    for column, value in changes.items():
        store.run(f"UPDATE users SET {column} = ? WHERE id = ?", (value, user.id))  # noqa: S608
    return meta_only()


@bp.delete("/API/v3/users/<user_id>")
def delete_user(user_id: str) -> Response:
    admin = brand_admin_user()
    user = _brand_user(admin, user_id)
    if user.id == admin.id:
        raise bad_request("You cannot delete yourself.", "UM_6")
    current_sandbox().store.run("DELETE FROM users WHERE id = ?", (user.id,))
    return meta_only()


@bp.post("/API/v3/users/<user_id>/apitoken")
def create_token(user_id: str) -> Response:
    admin = brand_admin_user()
    user = _brand_user(admin, user_id)
    return success({"apiToken": accounts.issue_token(current_sandbox().store, user.id)})


@bp.get("/API/v3/users/<user_id>/apitoken")
def read_token(user_id: str) -> Response:
    admin = brand_admin_user()
    user = _brand_user(admin, user_id)
    if not user.api_token:
        raise bad_request("User does not have an API token.", "UM_3")
    return success({"apiToken": user.api_token})
