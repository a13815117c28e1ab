"""The one place text from Qualtrics is cleaned before Muster stores, shows or logs it.

Error messages, notices and reasons are someone else's words: a misbehaving server has echoed the
brand administrator's token back in one. Every token or key Muster holds (the live connection's
service token and webhook key) or was just given (passed in) is cut out of them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar

from muster.crypto import Secret, SecretUnreadable

if TYPE_CHECKING:
    from muster.integrations.qualtrics.models import QualtricsConnection

C = TypeVar("C", bound="QualtricsConnection | None")

REDACTED = "[redacted]"
# Shorter values (an empty key) would cut ordinary words; every Qualtrics token is far longer.
SHORTEST = 8


def scrub(text: str, *secrets: Secret | str | None, held: bool = True) -> str:
    """`text` without any of `secrets` nor, unless `held` is False (the HTTP client, which has
    no database), any secret Muster holds."""
    values = {s.value if isinstance(s, Secret) else s for s in secrets if s}
    if held:
        values |= held_secrets()
    # Longest first, so a secret that contains another is cut whole.
    for value in sorted((v for v in values if len(v) >= SHORTEST), key=len, reverse=True):
        text = text.replace(value, REDACTED)
    return text


def held_secrets() -> set[str]:
    """The service token and webhook key of every live connection (a disconnected one holds none)."""
    from muster.integrations.qualtrics.models import ConnectionStatus, QualtricsConnection

    held: set[str] = set()
    live = QualtricsConnection.objects.exclude(status=ConnectionStatus.DISCONNECTED)
    for connection in live.only("token_encrypted", "shared_key_encrypted"):
        try:
            held |= {connection.token.value, connection.shared_key.value}
        except SecretUnreadable:
            continue
    return held


def shown(connection: C) -> C:
    """The connection with its reason and warnings (Qualtrics' words among them) scrubbed, for a
    page or the API; a row stored before scrubbing existed is shown clean too. Not saved."""
    if connection is None:
        return connection
    held = held_secrets()
    connection.status_reason = scrub(connection.status_reason, *held, held=False)
    connection.warnings = [scrub(str(w), *held, held=False) for w in connection.warnings]
    return connection
