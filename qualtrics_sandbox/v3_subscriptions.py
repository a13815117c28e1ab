"""`/API/v3/eventsubscriptions` (brand administrators only)."""

from __future__ import annotations

import sqlite3
from typing import Any

from flask import Blueprint, Response

from .accounts import User
from .auth import brand_admin_user
from .clock import iso_seconds, now
from .context import current_sandbox
from .envelope import bad_request, json_body, meta_only, not_found, success
from .ids import new_id

bp = Blueprint("v3_subscriptions", __name__)


def _subscription_json(row: sqlite3.Row) -> dict[str, Any]:
    return {
        "id": row["id"],
        "scope": row["brand_id"],
        "topics": row["topics"],
        "publicationUrl": row["publication_url"],
        "encrypted": bool(row["encrypt"]),
        "successfulCalls": row["successful_calls"],
    }


def _subscription(admin: User, subscription_id: str) -> sqlite3.Row:
    row = current_sandbox().store.one(
        "SELECT * FROM subscriptions WHERE id = ? AND brand_id = ?", (subscription_id, admin.brand_id)
    )
    if row is None:
        raise not_found(f"{subscription_id} not found", "ESSG_2")
    return row


@bp.post("/API/v3/eventsubscriptions")
def create_subscription() -> Response:
    admin = brand_admin_user()
    body = json_body()
    topics = body.get("topics")
    url = body.get("publicationUrl")
    if not isinstance(topics, str) or not topics.strip():
        raise bad_request("Missing or invalid topics.", "ESSC_1")
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise bad_request("Missing or invalid publicationUrl.", "ESSC_1")
    if body.get("encrypt"):
        # The encryption scheme is undocumented; refuse rather than invent one.
        raise bad_request("The sandbox does not support encrypt: true.", "ESSC_2")
    shared_key = body.get("sharedKey")
    subscription_id = new_id("SUB")
    current_sandbox().store.run(
        "INSERT INTO subscriptions (id, brand_id, topics, publication_url, encrypt, shared_key, created_at)"
        " VALUES (?, ?, ?, ?, 0, ?, ?)",
        (subscription_id, admin.brand_id, topics.strip(), url, shared_key or None, iso_seconds(now())),
    )
    return success({"id": subscription_id})


@bp.get("/API/v3/eventsubscriptions")
def list_subscriptions() -> Response:
    admin = brand_admin_user()
    rows = current_sandbox().store.all("SELECT * FROM subscriptions WHERE brand_id = ? ORDER BY seq", (admin.brand_id,))
    return success({"elements": [_subscription_json(r) for r in rows], "nextPage": None})


@bp.get("/API/v3/eventsubscriptions/<subscription_id>")
def get_subscription(subscription_id: str) -> Response:
    admin = brand_admin_user()
    return success(_subscription_json(_subscription(admin, subscription_id)))


@bp.delete("/API/v3/eventsubscriptions/<subscription_id>")
def delete_subscription(subscription_id: str) -> Response:
    admin = brand_admin_user()
    row = _subscription(admin, subscription_id)
    current_sandbox().store.run("DELETE FROM subscriptions WHERE id = ?", (row["id"],))
    return meta_only()


@bp.delete("/API/v3/eventsubscriptions")
def delete_all_subscriptions() -> Response:
    # A recording shows DELETE on the collection succeeding; we delete the brand's all.
    admin = brand_admin_user()
    current_sandbox().store.run("DELETE FROM subscriptions WHERE brand_id = ?", (admin.brand_id,))
    return meta_only()
