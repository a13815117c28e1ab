"""Timestamps in the formats Qualtrics uses."""

from __future__ import annotations

from datetime import UTC, datetime


def now() -> datetime:
    return datetime.now(UTC)


def iso_seconds(moment: datetime) -> str:
    """`2020-02-20T00:35:40Z`, as in survey lists and definitions."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def iso_millis(moment: datetime) -> str:
    """`2021-06-24T01:50:13.957Z`, as in a response's recordedDate."""
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def webhook_date(moment: datetime) -> str:
    """`2019-06-26 13:28:11`, as in a webhook MSG's CompletedDate."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def parse_iso(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)
