"""Simulated respondents: random valid answers, stored in bulk.

Answers are drawn in the `respond` input form and keyed by the same code as a
single `respond`, so a simulated response is indistinguishable from a typed one.
"""

from __future__ import annotations

import itertools
import random
import sqlite3
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import orjson

from . import definitions as d
from .ids import new_id
from .logic import Chooser, Walk
from .responses import Compiled, Question, Submission, build_response, compile_survey
from .store import Store
from .surveys import stored_definition
from .webhooks import enqueue_response_event

JSON = dict[str, Any]
BATCH = 1000
WORDS = "apple basket candle delivery evening fresh grocery habit kitchen lemon market order price quick".split()  # noqa: SIM905


class Dice(random.Random):
    """random.Random with choice and randint drawn from one random() each: a 100,000-respondent run draws
    tens of millions of them, and the stock versions (rejection sampling) take most of its time."""

    def choice(self, seq: Any) -> Any:
        return seq[int(self.random() * len(seq))]

    def randint(self, a: int, b: int) -> int:
        return a + int(self.random() * (b - a + 1))


def _words(rng: random.Random, count: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(count)).capitalize()


def _split(rng: random.Random, total: int, parts: int) -> list[int]:
    cuts = sorted(rng.randint(0, total) for _ in range(parts - 1))
    edges = [0, *cuts, total]
    return [b - a for a, b in itertools.pairwise(edges)]


# Optional questions a simulated respondent leaves blank (forced ones are always answered).
SKIP_OPTIONAL = 0.1


def _text_answer(q: Question, rng: random.Random) -> str:
    """Free text that passes the question's content validation."""
    settings = d.validation_settings(q.data)
    content = settings.get("ContentType") if settings.get("Type") == "ContentType" else None
    if content == "ValidEmailAddress":
        return f"{rng.choice(WORDS)}.{rng.randint(1, 9999)}@example.org"
    if content == "ValidZip":
        return f"{rng.randint(10000, 99999)}"
    if content == "ValidNumber":
        bounds = settings.get("ValidNumber") or {}
        low = int(float(bounds.get("Min") or 0))
        high = int(float(bounds.get("Max") or low + 100))
        return str(rng.randint(low, max(low, high)))
    return _words(rng, rng.randint(1, 8))


def random_answer(q: Question, rng: random.Random, out: JSON, offered: list[str] | None = None) -> None:
    """Add a random valid answer to `q` to `out`, in the respond input form."""
    qid, ids = q.qid, [cid for cid, _ in q.choices]
    offered = ids if offered is None else offered
    if q.kind in ("mc_single", "nps") and offered:
        cid = rng.choice(offered)
        out[qid] = d.as_number(q.recodes[cid])
        if cid in q.text_entry:
            out[f"{qid}_{cid}_TEXT"] = _words(rng, 2)
    elif q.kind == "mc_multi" and offered:
        picked = rng.sample(offered, rng.randint(1, len(offered)))
        lone = [cid for cid in picked if cid in q.exclusive]
        if lone and len(picked) > 1:
            # "None of these" stands alone: a real respondent either picks it or the others.
            picked = (
                lone[:1] if rng.random() < 0.5 or len(lone) == len(picked) else [c for c in picked if c not in lone]
            )
        out[qid] = picked
        for cid in picked:
            if cid in q.text_entry:
                out[f"{qid}_{cid}_TEXT"] = _words(rng, 2)
    elif q.kind == "text":
        out[f"{qid}_TEXT"] = _text_answer(q, rng)
    elif q.kind == "form":
        for cid in ids:
            out[f"{qid}_{cid}"] = _words(rng, 1)
    elif q.kind == "slider":
        for cid in ids:
            out[f"{qid}_{cid}"] = rng.randint(int(q.low), int(q.high))
    elif q.kind == "constant_sum" and ids:
        for cid, amount in zip(ids, _split(rng, int(q.high), len(ids)), strict=True):
            out[f"{qid}_{cid}"] = amount
    elif q.kind == "rank":
        for cid, rank in zip(ids, rng.sample(range(1, len(ids) + 1), len(ids)), strict=True):
            out[f"{qid}_{cid}"] = rank
    elif q.kind == "matrix_single" and q.answers:
        codes = list(q.answer_recodes.values())
        for cid in ids:
            out[f"{qid}_{cid}"] = d.as_number(rng.choice(codes))
    elif q.kind == "matrix_multi" and q.answers:
        for cid in ids:
            out[f"{qid}_{cid}_{rng.choice(q.answers)[0]}"] = 1
    elif q.kind == "drill_down":
        # Walk down from a random top-level item until a leaf or the last level.
        parent: str | None = None
        for cid in ids:
            below = q.children(parent)
            if not below:
                break
            parent = rng.choice(below)
            out[f"{qid}_{cid}"] = d.as_number(q.answer_recodes[parent])
    if q.kind not in ("mc_single", "mc_multi", "nps"):
        for cid in q.text_entry:
            out[f"{qid}_{cid}_TEXT"] = _words(rng, 2)


def random_respondent(survey: Compiled, rng: random.Random) -> tuple[JSON, Walk]:
    """Walk the survey as one respondent would, answering each page before the next is worked out."""
    answers: JSON = {}
    walk = Walk(survey, answers, Chooser(rng))
    for page in walk.pages():
        for item in page:
            q = item.question
            if q is None or (not q.forced and rng.random() < SKIP_OPTIONAL):
                continue
            random_answer(q, rng, answers, q.offered(answers))
    return answers, walk


def random_values(survey: Compiled, rng: random.Random) -> JSON:
    return random_respondent(survey, rng)[0]


def _embedded_for(template: JSON, n: int) -> JSON:
    # "P{n}" gives each simulated respondent its own value (1-based).
    return {k: str(v).replace("{n}", str(n)) for k, v in template.items()}


def _bodies(
    survey: Compiled,
    count: int,
    template: JSON,
    finished: bool,
    moment: datetime,
    rng: random.Random,
    types: list[tuple[str, float]],
) -> Iterator[tuple[JSON, JSON]]:
    # Ids come from fresh randomness even when answers are seeded: ids must never repeat.
    ids = random.Random()
    names, weights = [t for t, _ in types], [w for _, w in types]
    for n in range(1, count + 1):
        answers, walk = random_respondent(survey, rng)
        kind = names[0] if len(names) == 1 else rng.choices(names, weights)[0]
        recipient: JSON = {}
        if kind == "email":
            recipient = {
                "recipientFirstName": "Pat",
                "recipientLastName": f"Tester{n}",
                "recipientEmail": f"pat.tester{n}@example.org",
                "externalDataReference": f"EXT{n}",
            }
        submission = Submission(
            values=answers,
            embedded_data=_embedded_for(template, n),
            finished=finished,
            duration=rng.randint(20, 600),
            response_type=kind,
            recipient=recipient,
        )
        # The walk that produced the answers is the one recorded (no second walk).
        yield build_response(survey, new_id("R", ids), submission, moment, walked=walk)


def simulate(
    store: Store,
    row: sqlite3.Row,
    public_url: str,
    count: int,
    embedded: JSON,
    *,
    finished: bool = True,
    webhooks: bool = False,
    seed: int | None = None,
    keep_ids: int = 1000,
    response_types: list[tuple[str, float]] | None = None,
    available_in: float = 0.0,
) -> tuple[int, list[str]]:
    """Store `count` random valid responses in batches; returns (count, the first `keep_ids` ids).

    Webhooks are queued only when asked: 100,000 deliveries would bury a receiver.
    """
    survey = compile_survey(stored_definition(row, public_url))
    rng = Dice(seed)
    moment = store.now()
    ids: list[str] = []
    batch: list[tuple[str, str, int, str, bytes, bytes | None]] = []
    stored = 0

    def flush() -> None:
        with store.transaction():
            available = store.epoch() + max(0.0, available_in)
            store.many(
                "INSERT INTO responses (id, survey_id, finished, recorded_at, body, available_at, changed_at, extras)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (rid, sid, fin, rec, body.decode(), available, available, extra.decode() if extra else None)
                    for rid, sid, fin, rec, body, extra in batch
                ],
            )
            if webhooks:
                for rid, *_ in batch:
                    enqueue_response_event(store, row["brand_id"], row["id"], rid, finished, moment)
        batch.clear()

    types = response_types or [("anonymous", 1.0)]
    for body, extras in _bodies(survey, count, embedded, finished, moment, rng, types):
        rid = body["responseId"]
        if len(ids) < keep_ids:
            ids.append(rid)
        extra = orjson.dumps(extras) if extras else None
        batch.append((rid, row["id"], int(finished), body["values"]["recordedDate"], orjson.dumps(body), extra))
        stored += 1
        if len(batch) >= BATCH:
            flush()
    if batch:
        flush()
    return stored, ids
