"""Surveys, sharing (collaborations) and stored responses."""

from __future__ import annotations

import random
import sqlite3
from datetime import UTC, datetime
from typing import Any

import orjson

from . import definitions as d
from .accounts import User
from .clock import iso_millis, iso_seconds, now
from .ids import new_id
from .logic import Chooser
from .responses import Submission, build_response
from .store import Store
from .webhooks import enqueue_response_event

JSON = dict[str, Any]

ALL_PERMISSIONS: JSON = {
    "surveyDefinitionManipulation": {
        "copySurveyQuestions": True,
        "editSurveyFlow": True,
        "useBlocks": True,
        "useSkipLogic": True,
        "useConjoint": True,
        "useTriggers": True,
        "useQuotas": True,
        "setSurveyOptions": True,
        "editQuestions": True,
        "deleteSurveyQuestions": True,
    },
    "surveyManagement": {
        "editSurveys": True,
        "activateSurveys": True,
        "deactivateSurveys": True,
        "copySurveys": True,
        "distributeSurveys": True,
        "deleteSurveys": True,
        "translateSurveys": True,
    },
    "response": {
        "editSurveyResponses": True,
        "createResponseSets": True,
        "viewResponseId": True,
        "useCrossTabs": True,
    },
    "result": {
        "downloadSurveyResults": True,
        "viewSurveyResults": True,
        "filterSurveyResults": True,
        "viewPersonalData": True,
    },
}


def survey_row(store: Store, survey_id: str) -> sqlite3.Row | None:
    return store.one("SELECT * FROM surveys WHERE id = ?", (survey_id,))


def survey_summary(row: sqlite3.Row) -> JSON:
    """An element of `GET /surveys`."""
    return {
        "id": row["id"],
        "name": row["name"],
        "ownerId": row["owner_id"],
        "lastModified": row["last_modified"],
        "creationDate": row["created_at"],
        "isActive": bool(row["is_active"]),
    }


def stored_definition(row: sqlite3.Row, public_url: str) -> JSON:
    """The definition as served: stored fields plus the ones the sandbox owns."""
    definition: JSON = orjson.loads(row["definition"])
    definition["SurveyID"] = row["id"]
    definition["SurveyName"] = row["name"]
    definition["SurveyStatus"] = "Active" if row["is_active"] else "Inactive"
    definition["BrandID"] = row["brand_id"]
    definition["OwnerID"] = row["owner_id"]
    definition.setdefault("CreatorID", row["owner_id"])
    definition["BrandBaseURL"] = public_url
    return definition


def create_survey(
    store: Store,
    owner: User,
    document: JSON,
    active: bool,
    rng: random.Random | None = None,
) -> str:
    """Store a survey-definitions result object (or a whole QSF document) for `owner`."""
    definition = d.from_qsf(document) if d.is_qsf(document) else dict(document)
    wanted = definition.get("SurveyID")
    survey_id = wanted if isinstance(wanted, str) and wanted.startswith("SV_") else None
    if survey_id is None or survey_row(store, survey_id) is not None:
        survey_id = new_id("SV", rng)
    stamp = iso_seconds(now())
    name = str(definition.get("SurveyName") or (definition.get("SurveyOptions") or {}).get("SurveyName") or "Untitled")
    definition.setdefault("LastModified", stamp)
    definition.setdefault("CreatorID", owner.id)
    definition.setdefault("SurveyName", name)
    options = definition.get("SurveyOptions") or {}
    created = options.get("SurveyCreationDate") or stamp
    for key in ("SurveyID", "BrandID", "OwnerID", "BrandBaseURL", "SurveyStatus"):
        definition.pop(key, None)
    store.run(
        "INSERT INTO surveys (id, brand_id, owner_id, name, is_active, created_at, last_modified, definition)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (
            survey_id,
            owner.brand_id,
            owner.id,
            name,
            int(active),
            created,
            definition["LastModified"],
            orjson.dumps(definition).decode(),
        ),
    )
    return survey_id


def set_active(store: Store, survey_id: str, active: bool) -> None:
    store.run(
        "UPDATE surveys SET is_active = ?, last_modified = ? WHERE id = ?",
        (int(active), iso_seconds(now()), survey_id),
    )


def rename(store: Store, survey_id: str, name: str) -> None:
    store.run("UPDATE surveys SET name = ?, last_modified = ? WHERE id = ?", (name, iso_seconds(now()), survey_id))


def share(store: Store, survey_id: str, user_id: str, permissions: JSON) -> None:
    store.run(
        "INSERT INTO collaborations (survey_id, user_id, permissions) VALUES (?, ?, ?)"
        " ON CONFLICT (survey_id, user_id) DO UPDATE SET permissions = excluded.permissions",
        (survey_id, user_id, orjson.dumps(permissions).decode()),
    )


def collaboration(store: Store, survey_id: str, user_id: str) -> JSON | None:
    row = store.one("SELECT permissions FROM collaborations WHERE survey_id = ? AND user_id = ?", (survey_id, user_id))
    if row is None:
        return None
    found: JSON = orjson.loads(row["permissions"])
    return found


def add_auto_share(store: Store, brand_id: str, display_name: str, survey_id: str) -> None:
    store.run(
        "INSERT OR IGNORE INTO auto_shares (brand_id, display_name, survey_id) VALUES (?, ?, ?)",
        (brand_id, display_name, survey_id),
    )


def apply_auto_shares(store: Store, user: User) -> None:
    """Demo stand-in for a human pressing "Collaborate" (see README)."""
    rows = store.all(
        "SELECT survey_id FROM auto_shares WHERE brand_id = ? AND display_name = ?",
        (user.brand_id, user.display_name),
    )
    for row in rows:
        share(store, row["survey_id"], user.id, ALL_PERMISSIONS)


def can_see(store: Store, user: User, row: sqlite3.Row) -> bool:
    return row["owner_id"] == user.id or collaboration(store, row["id"], user.id) is not None


def has_permission(store: Store, user: User, row: sqlite3.Row, group: str, name: str) -> bool:
    """Owners may do everything; collaborators what their permissions say."""
    if row["owner_id"] == user.id:
        return True
    permissions = collaboration(store, row["id"], user.id)
    if permissions is None:
        return False
    return bool((permissions.get(group) or {}).get(name))


def visible_surveys(store: Store, user: User, offset: int, limit: int) -> list[sqlite3.Row]:
    return store.all(
        "SELECT * FROM surveys WHERE owner_id = ? OR id IN (SELECT survey_id FROM collaborations WHERE user_id = ?)"
        " ORDER BY seq LIMIT ? OFFSET ?",
        (user.id, user.id, limit, offset),
    )


def record_response(
    store: Store,
    row: sqlite3.Row,
    submission: Submission,
    public_url: str,
    moment: datetime | None = None,
    response_id: str | None = None,
    available_in: float = 0.0,
    chooser: Chooser | None = None,
) -> str:
    """Store one response and queue its webhooks, as a real completion would.

    `available_in`: seconds before the response can be read (202 until then) or exported.
    """
    definition = stored_definition(row, public_url)
    response_id = response_id or new_id("R")
    moment = moment or store.now()
    body, extras = build_response(definition, response_id, submission, moment, chooser)
    recorded = submission.recorded_at or moment
    with store.transaction():
        # Times are taken under the store's lock, so an export's snapshot never falls between
        # a response's time and its insert.
        available = store.epoch() + max(0.0, available_in)
        store.run(
            "INSERT INTO responses (id, survey_id, finished, recorded_at, body, available_at, changed_at, extras)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                response_id,
                row["id"],
                int(submission.finished),
                body["values"]["recordedDate"],
                orjson.dumps(body).decode(),
                available,
                available,
                orjson.dumps(extras).decode() if extras else None,
            ),
        )
        enqueue_response_event(store, row["brand_id"], row["id"], response_id, submission.finished, recorded)
    return response_id


def response_row(store: Store, response_id: str) -> sqlite3.Row | None:
    return store.one("SELECT * FROM responses WHERE id = ?", (response_id,))


def get_response(store: Store, survey_id: str, response_id: str) -> JSON | None:
    row = store.one("SELECT body FROM responses WHERE survey_id = ? AND id = ?", (survey_id, response_id))
    if row is None:
        return None
    body: JSON = orjson.loads(row["body"])
    return body


def is_available(store: Store, survey_id: str, response_id: str) -> bool:
    row = store.one("SELECT available_at FROM responses WHERE survey_id = ? AND id = ?", (survey_id, response_id))
    return row is not None and row["available_at"] <= store.epoch()


def save_edit(store: Store, response_id: str, body: JSON, extras: JSON) -> None:
    """Store an edited response; its last-modified time moves to now (sandbox clock)."""
    with store.transaction():
        moment = store.epoch()
        store.run(
            "UPDATE responses SET body = ?, recorded_at = ?, extras = ?, modified_at = ?,"
            " changed_at = max(available_at, ?) WHERE id = ?",
            (
                orjson.dumps(body).decode(),
                body["values"]["recordedDate"],
                orjson.dumps(extras).decode() if extras else None,
                iso_millis(datetime.fromtimestamp(moment, UTC)),
                moment,
                response_id,
            ),
        )


def delete_response(store: Store, survey_id: str, response_id: str) -> bool:
    return store.run("DELETE FROM responses WHERE survey_id = ? AND id = ?", (survey_id, response_id)) == 1


def response_counts(store: Store, survey_id: str) -> JSON:
    row = store.one("SELECT count(*) AS n FROM responses WHERE survey_id = ?", (survey_id,))
    return {"auditable": row["n"] if row else 0, "generated": 0, "deleted": 0}
