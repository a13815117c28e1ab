"""Brands, user types, users and their API tokens."""

from __future__ import annotations

import hashlib
import random
import sqlite3
from dataclasses import dataclass
from typing import Any

from .clock import iso_seconds, now
from .ids import new_id, new_token
from .store import Store

BRAND_ADMIN_TYPE = "UT_BRANDADMIN"


@dataclass(frozen=True)
class User:
    id: str
    brand_id: str
    username: str
    first_name: str
    last_name: str
    email: str
    user_type: str
    status: str
    language: str
    time_zone: str | None
    division_id: str | None
    expiration_date: str | None
    created_at: str
    password_changed_at: str
    api_token: str | None
    role: str
    api_access: bool

    @property
    def is_brand_admin(self) -> bool:
        return self.role == "brandAdmin"

    @property
    def display_name(self) -> str:
        return f"{self.first_name} {self.last_name}"


USER_QUERY = (
    "SELECT u.*, t.role, t.api_access FROM users u JOIN user_types t ON t.brand_id = u.brand_id AND t.id = u.user_type"
)


def _user(row: sqlite3.Row | None) -> User | None:
    if row is None:
        return None
    return User(
        id=row["id"],
        brand_id=row["brand_id"],
        username=row["username"],
        first_name=row["first_name"],
        last_name=row["last_name"],
        email=row["email"],
        user_type=row["user_type"],
        status=row["status"],
        language=row["language"],
        time_zone=row["time_zone"],
        division_id=row["division_id"],
        expiration_date=row["expiration_date"],
        created_at=row["created_at"],
        password_changed_at=row["password_changed_at"],
        api_token=row["api_token"],
        role=row["role"],
        api_access=bool(row["api_access"]),
    )


def password_hash(password: str) -> str:
    # A sandbox never holds real passwords; a salted digest keeps them out of the file.
    return hashlib.sha256(b"qualtrics-sandbox:" + password.encode()).hexdigest()


def brand_exists(store: Store, brand_id: str) -> bool:
    return store.one("SELECT 1 FROM brands WHERE id = ?", (brand_id,)) is not None


def brand_row(store: Store, brand_id: str) -> sqlite3.Row | None:
    return store.one("SELECT * FROM brands WHERE id = ?", (brand_id,))


def user_types(store: Store, brand_id: str) -> dict[str, str]:
    """role -> user type id, e.g. {"brandAdmin": "UT_BRANDADMIN", "standard": "UT_..."}."""
    rows = store.all("SELECT id, role FROM user_types WHERE brand_id = ? ORDER BY rowid", (brand_id,))
    return {row["role"]: row["id"] for row in rows}


def brand_admin(store: Store, brand_id: str) -> User | None:
    return _user(
        store.one(
            USER_QUERY + " WHERE u.brand_id = ? AND t.role = 'brandAdmin' ORDER BY u.created_at LIMIT 1",
            (brand_id,),
        )
    )


def create_brand(store: Store, brand_id: str | None, datacenter: str, rng: random.Random | None = None) -> User:
    """A brand with its three user types and a brand administrator holding a token."""
    brand_id = brand_id or new_id("brand", rng).replace("_", "").lower()[:12]
    stamp = iso_seconds(now())
    types = [
        (BRAND_ADMIN_TYPE, "Brand Administrator", "brandAdmin", 1),
        (new_id("UT", rng), "Standard (API access)", "standard", 1),
        (new_id("UT", rng), "Participant (no API access)", "noApi", 0),
    ]
    admin_id = new_id("UR", rng)
    with store.transaction():
        store.run("INSERT INTO brands (id, datacenter, created_at) VALUES (?, ?, ?)", (brand_id, datacenter, stamp))
        for type_id, name, role, api in types:
            store.run(
                "INSERT INTO user_types (brand_id, id, name, role, api_access) VALUES (?, ?, ?, ?, ?)",
                (brand_id, type_id, name, role, api),
            )
        insert_user(
            store,
            user_id=admin_id,
            brand_id=brand_id,
            username=f"admin@{brand_id}",
            first_name="Brand",
            last_name="Admin",
            email=f"admin@{brand_id}.example",
            user_type=BRAND_ADMIN_TYPE,
            password="sandbox",  # noqa: S106 - the sandbox admin never logs in
            language="EN",
            extra={},
        )
        store.run("UPDATE users SET api_token = ? WHERE id = ?", (new_token(rng), admin_id))
    admin = get_user(store, admin_id)
    assert admin is not None
    return admin


def insert_user(
    store: Store,
    *,
    user_id: str,
    brand_id: str,
    username: str,
    first_name: str,
    last_name: str,
    email: str,
    user_type: str,
    password: str,
    language: str,
    extra: dict[str, Any],
) -> None:
    stamp = iso_seconds(now())
    store.run(
        "INSERT INTO users (id, brand_id, username, first_name, last_name, email, user_type, status,"
        " password_hash, language, time_zone, division_id, expiration_date, created_at,"
        " password_changed_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'active', ?, ?, ?, ?, ?, ?, ?)",
        (
            user_id,
            brand_id,
            username,
            first_name,
            last_name,
            email,
            user_type,
            password_hash(password),
            language,
            extra.get("timeZone"),
            extra.get("divisionId"),
            extra.get("accountExpirationDate"),
            stamp,
            stamp,
        ),
    )


def get_user(store: Store, user_id: str) -> User | None:
    return _user(store.one(USER_QUERY + " WHERE u.id = ?", (user_id,)))


def user_by_token(store: Store, token: str) -> User | None:
    return _user(store.one(USER_QUERY + " WHERE u.api_token = ?", (token,)))


def list_users(store: Store, brand_id: str, offset: int, limit: int) -> list[User]:
    rows = store.all(USER_QUERY + " WHERE u.brand_id = ? ORDER BY u.rowid LIMIT ? OFFSET ?", (brand_id, limit, offset))
    return [u for u in (_user(r) for r in rows) if u is not None]


def username_taken(store: Store, username: str, except_user: str | None = None) -> bool:
    row = store.one("SELECT id FROM users WHERE lower(username) = lower(?)", (username,))
    return row is not None and row["id"] != except_user


def is_user_type(store: Store, brand_id: str, type_id: str) -> bool:
    return store.one("SELECT 1 FROM user_types WHERE brand_id = ? AND id = ?", (brand_id, type_id)) is not None


def issue_token(store: Store, user_id: str) -> str:
    """A new token; the user's previous one stops working."""
    token = new_token()
    store.run("UPDATE users SET api_token = ? WHERE id = ?", (token, user_id))
    return token


def user_json(user: User) -> dict[str, Any]:
    """The result of `GET /users/{id}`."""
    return {
        "id": user.id,
        "divisionId": user.division_id,
        "username": user.username,
        "firstName": user.first_name,
        "lastName": user.last_name,
        "userType": user.user_type,
        "organizationId": user.brand_id,
        "language": user.language,
        "accountStatus": user.status,
        "email": user.email,
        "accountCreationDate": user.created_at,
        "accountExpirationDate": user.expiration_date,
        "passwordLastChangedDate": user.password_changed_at,
        "passwordExpirationDate": None,
        "lastLoginDate": None,
        "unsubscribed": False,
        "timeZone": user.time_zone,
    }
