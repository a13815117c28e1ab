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
from .clock import now
from .ids import new_id
from .responses import Compiled, Question, Submission, build_response, compile_survey
from .store import Store
from .surveys import stored_definition
from .webhooks import enqueue_response_event

JSON = dict[str, Any]
BATCH = 1000
WORDS = "apple basket candle delivery evening fresh grocery habit kitchen lemon market order price quick".split()  # noqa: SIM905


def _words(rng: random.Random, count: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(count)).capitalize()


def _split(rng: random.Random, total: int, parts: int) -> list[int]:
    cuts = sorted(rng.randint(0, total) for _ in range(parts - 1))
    edges = [0, *cuts, total]
    return [b - a for a, b in itertools.pairwise(edges)]


def random_answer(q: Question, rng: random.Random, out: JSON) -> None:
    """Add a random valid answer to `q` to `out`, in the respond input form."""
    qid, ids = q.qid, [cid for cid, _ in q.choices]
    if q.kind in ("mc_single", "nps") and ids:
        cid = rng.choice(ids)
        out[qid] = d.as_number(q.recodes[cid])
        if cid in q.text_entry:
            out[f"{qid}_{cid}_TEXT"] = _words(rng, 2)
    elif q.kind == "mc_multi" and ids:
        picked = rng.sample(ids, rng.randint(1, len(ids)))
        out[qid] = picked
        for cid in picked:
            if cid in q.text_entry:
                out[f"{qid}_{cid}_TEXT"] = _words(rng, 2)
    elif q.kind == "text":
        out[f"{qid}_TEXT"] = _words(rng, rng.randint(1, 8))
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


def random_values(survey: Compiled, rng: random.Random) -> JSON:
    values: JSON = {}
    for question in survey.questions:
        random_answer(question, rng, values)
    return values


def _embedded_for(template: JSON, n: int) -> JSON:
    # "P{n}" gives each simulated respondent its own value (1-based).
    return {k: str(v).replace("{n}", str(n)) for k, v in template.items()}


def _bodies(
    survey: Compiled, count: int, template: JSON, finished: bool, moment: datetime, rng: random.Random
) -> Iterator[JSON]:
    # Ids come from fresh randomness even when answers are seeded: ids must never repeat.
    ids = random.Random()
    for n in range(1, count + 1):
        submission = Submission(
            values=random_values(survey, rng),
            embedded_data=_embedded_for(template, n),
            finished=finished,
            duration=rng.randint(20, 600),
        )
        yield build_response(survey, new_id("R", ids), submission, moment)


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
) -> tuple[int, list[str]]:
    """Store `count` random valid responses in batches; returns (count, the first `keep_ids` ids).

    Webhooks are queued only when asked: 100,000 deliveries would bury a receiver.
    """
    survey = compile_survey(stored_definition(row, public_url))
    rng = random.Random(seed)
    moment = now()
    ids: list[str] = []
    batch: list[tuple[str, str, int, str, bytes]] = []
    stored = 0

    def flush() -> None:
        with store.transaction():
            store.many(
                "INSERT INTO responses (id, survey_id, finished, recorded_at, body) VALUES (?, ?, ?, ?, ?)",
                [(rid, sid, fin, rec, body.decode()) for rid, sid, fin, rec, body in batch],
            )
            if webhooks:
                for rid, *_ in batch:
                    enqueue_response_event(store, row["brand_id"], row["id"], rid, finished, moment)
        batch.clear()

    for body in _bodies(survey, count, embedded, finished, moment, rng):
        rid = body["responseId"]
        if len(ids) < keep_ids:
            ids.append(rid)
        batch.append((rid, row["id"], int(finished), body["values"]["recordedDate"], orjson.dumps(body)))
        stored += 1
        if len(batch) >= BATCH:
            flush()
    if batch:
        flush()
    return stored, ids
