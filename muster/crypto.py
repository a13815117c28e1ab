"""Secrets at rest: MultiFernet over MUSTER_ENCRYPTION_KEYS (the first key encrypts, all decrypt)."""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings


class SecretUnreadable(Exception):
    """None of the configured keys decrypts this value (a key was removed too early)."""


def _fernet() -> MultiFernet:
    return MultiFernet([Fernet(key) for key in settings.MUSTER_ENCRYPTION_KEYS])


def encrypt(plain: str) -> str:
    return _fernet().encrypt(plain.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken:
        raise SecretUnreadable("No configured encryption key decrypts this secret.") from None


def rotate(token: str) -> str:
    """Re-encrypts under the first key."""
    try:
        return _fernet().rotate(token.encode()).decode()
    except InvalidToken:
        raise SecretUnreadable("No configured encryption key decrypts this secret.") from None


class Secret:
    """A token held in memory: its repr and str never show it; `.value` must be asked for."""

    __slots__ = ("value",)

    def __init__(self, value: str) -> None:
        self.value = value

    def __repr__(self) -> str:
        return "Secret('********')"

    def __str__(self) -> str:
        return "********"

    def __bool__(self) -> bool:
        return bool(self.value)
