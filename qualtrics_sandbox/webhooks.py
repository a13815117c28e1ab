"""Event subscriptions: topic matching, signing, and the delivery worker.

Delivery is a plain background thread that claims due rows with a conditional
UPDATE, so a flush from the control API and the worker never send the same
attempt twice.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

import httpx

from .clock import iso_seconds, now, webhook_date
from .faults import Faults
from .store import Store

COMPLETED = "surveyengine.completedResponse"
PARTIAL = "surveyengine.partialResponse"


def sign(msg: str, shared_key: str) -> str:
    """hex(HMAC-SHA512(key=sharedKey, message=raw MSG)), as Qualtrics signs webhooks."""
    return hmac.new(shared_key.encode(), msg.encode(), hashlib.sha512).hexdigest()


def topic_patterns(topics: str) -> list[str]:
    """A subscription's `topics` may list several topics, comma-separated (our choice)."""
    return [t.strip() for t in topics.split(",") if t.strip()]


def topic_matches(pattern: str, topic: str) -> bool:
    """`topic` has no brand prefix, e.g. `surveyengine.completedResponse.SV_x`."""
    if pattern in ("*", topic):
        return True
    if pattern.endswith(".*"):
        return topic.startswith(pattern[:-1])
    return False


def response_message(status: str, survey_id: str, response_id: str, moment: datetime, brand_id: str) -> str:
    # Same keys and order as the recorded webhook, compact like Qualtrics sends it.
    body = {
        "Status": status,
        "SurveyID": survey_id,
        "ResponseID": response_id,
        "CompletedDate": webhook_date(moment),
        "BrandID": brand_id,
    }
    return json.dumps(body, separators=(",", ":"))


@dataclass
class WebhookSettings:
    retry_seconds: float = 2.0
    max_attempts: int = 8
    timeout_seconds: float = 5.0
    # Hosts deliveries may go to; "*" allows any. Loopback only unless widened.
    allowed_hosts: frozenset[str] = frozenset({"127.0.0.1", "localhost", "::1"})


def enqueue_response_event(
    store: Store, brand_id: str, survey_id: str, response_id: str, finished: bool, moment: datetime
) -> int:
    """Queue one delivery per matching subscription; returns how many were queued."""
    event = f"{COMPLETED if finished else PARTIAL}.{survey_id}"
    status = "Complete" if finished else "Partial"
    msg = response_message(status, survey_id, response_id, moment, brand_id)
    queued = 0
    for sub in store.all("SELECT * FROM subscriptions WHERE brand_id = ? ORDER BY seq", (brand_id,)):
        if not any(topic_matches(p, event) for p in topic_patterns(sub["topics"])):
            continue
        signature = sign(msg, sub["shared_key"]) if sub["shared_key"] else None
        store.run(
            "INSERT INTO deliveries (subscription_id, url, topic, msg, hmac, state, next_attempt_at,"
            " created_at) VALUES (?, ?, ?, ?, ?, 'pending', ?, ?)",
            (
                sub["id"],
                sub["publication_url"],
                f"{brand_id}.{event}",
                msg,
                signature,
                time.time(),
                iso_seconds(moment),
            ),
        )
        queued += 1
    return queued


class WebhookWorker:
    def __init__(self, store: Store, settings: WebhookSettings, faults: Faults | None = None) -> None:
        self.store = store
        self.settings = settings
        self.faults = faults or Faults()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._client = httpx.Client(timeout=settings.timeout_seconds, trust_env=False)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="webhook-worker", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._client.close()

    def wake(self) -> None:
        self._wake.set()

    def _loop(self) -> None:
        while not self._stop.is_set():
            worked = self.deliver_due()
            if not worked:
                self._wake.wait(timeout=min(0.5, self.settings.retry_seconds))
                self._wake.clear()

    def deliver_due(self, force: bool = False) -> int:
        """Attempt every due delivery once (all pending ones when `force`); returns the count."""
        self._apply_faults()
        moment = time.time()
        due_before = float("inf") if force else moment
        rows = self.store.all(
            "SELECT id FROM deliveries WHERE state = 'pending' AND next_attempt_at <= ?"
            " AND faulted = 1 AND claimed_until < ? ORDER BY id",
            (due_before, moment),
        )
        if self.faults.webhooks["reorder"]:
            rows.reverse()
        done = 0
        for row in rows:
            if self._stop.is_set() and not force:
                break
            claim_until = time.time() + self.settings.timeout_seconds + 5
            claimed = self.store.run(
                "UPDATE deliveries SET claimed_until = ? WHERE id = ? AND state = 'pending' AND claimed_until < ?",
                (claim_until, row["id"], time.time()),
            )
            if claimed != 1:
                # Nothing updated: the worker or a flush got there first.
                continue
            self._attempt(row["id"])
            done += 1
        if force:
            self._wait_for_claims()
        return done

    def _apply_faults(self) -> None:
        """Decide each new delivery's fate once: dropped, duplicated, delayed or held for reordering."""
        rules = self.faults.webhooks
        fresh = self.store.all("SELECT * FROM deliveries WHERE state = 'pending' AND faulted = 0 ORDER BY id")
        for row in fresh:
            hold = rules["delayMs"] / 1000 + (rules["reorderWindowMs"] / 1000 if rules["reorder"] else 0)
            if self.faults.chance(rules["drop"]):
                self.store.run(
                    "UPDATE deliveries SET state = 'dropped', faulted = 1, finished_at = ? WHERE id = ?",
                    (iso_seconds(now()), row["id"]),
                )
                continue
            window = self._open_reorder_window(hold) if rules["reorder"] else None
            if window is not None:
                # Joins the window already open, so the deliveries it holds are released together
                # and go out newest first, however the worker's polls fall.
                self.store.run(
                    "UPDATE deliveries SET faulted = 1, next_attempt_at = ? WHERE id = ?", (window, row["id"])
                )
            else:
                self.store.run(
                    "UPDATE deliveries SET faulted = 1, next_attempt_at = next_attempt_at + ? WHERE id = ?",
                    (hold, row["id"]),
                )
            if self.faults.chance(rules["duplicate"]):
                self.store.run(
                    "INSERT INTO deliveries (subscription_id, url, topic, msg, hmac, state, next_attempt_at,"
                    " created_at, faulted) SELECT subscription_id, url, topic, msg, hmac, 'pending',"
                    " next_attempt_at, created_at, 1 FROM deliveries WHERE id = ?",
                    (row["id"],),
                )

    def _open_reorder_window(self, hold: float) -> float | None:
        """When held deliveries are released, if a reorder window is open now; else None."""
        moment = time.time()
        found = self.store.one(
            "SELECT MAX(next_attempt_at) AS release FROM deliveries WHERE state = 'pending' AND faulted = 1"
            " AND next_attempt_at > ? AND next_attempt_at <= ?",
            (moment, moment + hold),
        )
        return None if found is None or found["release"] is None else float(found["release"])

    def _wait_for_claims(self) -> None:
        """Let attempts the worker has in flight finish, so a flush reports them."""
        deadline = time.time() + self.settings.timeout_seconds + 1
        while time.time() < deadline:
            busy = self.store.one(
                "SELECT 1 FROM deliveries WHERE state = 'pending' AND claimed_until > ?", (time.time(),)
            )
            if busy is None:
                return
            time.sleep(0.01)

    def _attempt(self, delivery_id: int) -> None:
        delivery = self.store.one("SELECT * FROM deliveries WHERE id = ?", (delivery_id,))
        if delivery is None:
            return
        status_code: int | None = None
        error: str | None = None
        host = urlsplit(delivery["url"]).hostname or ""
        if "*" not in self.settings.allowed_hosts and host not in self.settings.allowed_hosts:
            error = f"host {host!r} is not allowed by the sandbox (see --webhook-allow-host)"
        else:
            form = {"Topic": delivery["topic"], "MSG": delivery["msg"]}
            if delivery["hmac"]:
                form["HMAC"] = delivery["hmac"]
            try:
                reply = self._client.post(delivery["url"], data=form)
                status_code = reply.status_code
                if not 200 <= status_code < 300:
                    error = f"HTTP {status_code}"
            except httpx.HTTPError as exc:
                error = f"{type(exc).__name__}: {exc}"
        attempts = delivery["attempts"] + 1
        stamp = iso_seconds(now())
        with self.store.transaction():
            self.store.run(
                "INSERT INTO delivery_attempts (delivery_id, at, status_code, error) VALUES (?, ?, ?, ?)",
                (delivery_id, stamp, status_code, error),
            )
            if error is None:
                self.store.run(
                    "UPDATE deliveries SET state = 'delivered', attempts = ?, claimed_until = 0,"
                    " finished_at = ? WHERE id = ?",
                    (attempts, stamp, delivery_id),
                )
                self.store.run(
                    "UPDATE subscriptions SET successful_calls = successful_calls + 1 WHERE id = ?",
                    (delivery["subscription_id"],),
                )
            elif attempts >= self.settings.max_attempts:
                self.store.run(
                    "UPDATE deliveries SET state = 'failed', attempts = ?, claimed_until = 0,"
                    " finished_at = ? WHERE id = ?",
                    (attempts, stamp, delivery_id),
                )
            else:
                backoff = self.settings.retry_seconds * 2 ** (attempts - 1)
                self.store.run(
                    "UPDATE deliveries SET attempts = ?, claimed_until = 0, next_attempt_at = ? WHERE id = ?",
                    (attempts, time.time() + min(backoff, 300.0), delivery_id),
                )


def delivery_log(store: Store) -> list[dict[str, object]]:
    rows = store.all("SELECT * FROM deliveries ORDER BY id")
    attempts: dict[int, list[dict[str, object]]] = {}
    for a in store.all("SELECT * FROM delivery_attempts ORDER BY id"):
        attempts.setdefault(a["delivery_id"], []).append(
            {"at": a["at"], "statusCode": a["status_code"], "error": a["error"]}
        )
    return [
        {
            "id": r["id"],
            "subscriptionId": r["subscription_id"],
            "url": r["url"],
            "topic": r["topic"],
            "msg": r["msg"],
            "hmac": r["hmac"],
            "status": r["state"],
            "attempts": r["attempts"],
            "time": r["created_at"],
            "finishedAt": r["finished_at"],
            "attemptLog": attempts.get(r["id"], []),
        }
        for r in rows
    ]
