"""Settings from the environment, read through small strict helpers (DESIGN §5.1).

A bad value stops start-up with a message naming the variable.
"""

from __future__ import annotations

import os
import secrets
import tempfile
from pathlib import Path
from urllib.parse import unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured


def env(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def envbool(name: str, default: str) -> bool:
    value = os.environ.get(name, default)
    if value not in ("True", "False"):
        raise ImproperlyConfigured(f"Unexpected value {name}={value!r}: use 'True' or 'False'.")
    return value == "True"


def envint(name: str, default: str, minimum: int = 0) -> int:
    value = os.environ.get(name, default)
    try:
        number = int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, not {value!r}.") from None
    if number < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, not {number}.")
    return number


def envsecret(name: str) -> str:
    """Reads NAME_FILE when set (container secrets), else NAME; fails loudly on a bad file."""
    path = os.environ.get(f"{name}_FILE")
    if path:
        try:
            return Path(path).read_text().strip()
        except OSError as e:
            raise ImproperlyConfigured(f"{name}_FILE={path!r} cannot be read: {e.strerror}.") from None
    return os.environ.get(name, "")


def envurl(name: str, default: str) -> str:
    value = os.environ.get(name, default).rstrip("/")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ImproperlyConfigured(f"{name} must be an http:// or https:// address, not {value!r}.")
    return value


def read_or_create(path: Path, generate: str) -> str:
    """Returns the key stored at path, creating it first if there is none.

    The key is written to a temporary file and linked into place: the link fails when another
    process got there first, and then its complete key is read instead. Web, worker and scheduler
    starting together therefore always agree on one key.
    """
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(generate + "\n")
        os.chmod(tmp, 0o600)
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
    finally:
        os.unlink(tmp)
    return path.read_text().strip()


def new_secret_key() -> str:
    return secrets.token_urlsafe(50)


def new_fernet_key() -> str:
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode()


def encryption_keys(value: str) -> list[str]:
    from cryptography.fernet import Fernet

    keys = [k.strip() for k in value.split(",") if k.strip()]
    if not keys:
        raise ImproperlyConfigured("MUSTER_ENCRYPTION_KEYS must hold at least one Fernet key.")
    for key in keys:
        try:
            Fernet(key)
        except (ValueError, TypeError):
            raise ImproperlyConfigured(
                "MUSTER_ENCRYPTION_KEYS holds a value that is not a Fernet key (32 url-safe base64-encoded bytes)."
            ) from None
    return keys


def email_settings(url: str, data_dir: Path) -> dict[str, object]:
    """Turns MUSTER_EMAIL_URL into Django's EMAIL_* settings."""
    if not url:
        url = f"file://{data_dir / 'mail'}"
    parts = urlsplit(url)
    if parts.scheme == "console":
        return {"EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend"}
    if parts.scheme == "file":
        return {
            "EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
            "EMAIL_FILE_PATH": unquote(parts.netloc + parts.path),
        }
    if parts.scheme in ("smtp", "smtp+tls", "smtps"):
        if not parts.hostname:
            raise ImproperlyConfigured("MUSTER_EMAIL_URL needs a host: smtp://user:pass@host:port.")
        try:
            port = parts.port
        except ValueError:
            raise ImproperlyConfigured("MUSTER_EMAIL_URL has a port that is not a number.") from None
        return {
            "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "EMAIL_HOST": parts.hostname,
            "EMAIL_PORT": port or (465 if parts.scheme == "smtps" else 587 if parts.scheme == "smtp+tls" else 25),
            "EMAIL_HOST_USER": unquote(parts.username or ""),
            "EMAIL_HOST_PASSWORD": unquote(parts.password or ""),
            "EMAIL_USE_TLS": parts.scheme == "smtp+tls",
            "EMAIL_USE_SSL": parts.scheme == "smtps",
            "EMAIL_TIMEOUT": 10,
        }
    raise ImproperlyConfigured(
        "MUSTER_EMAIL_URL must start with smtp://, smtp+tls://, smtps://, console:// or file://."
    )


def host_patterns(value: str, name: str) -> list[str]:
    hosts = [h.strip().lower() for h in value.split(",") if h.strip()]
    if not hosts:
        raise ImproperlyConfigured(f"{name} must name at least one host.")
    for host in hosts:
        if "/" in host or " " in host or (host.count("*") > 1) or ("*" in host and not host.startswith("*.")):
            raise ImproperlyConfigured(f"{name} holds {host!r}: give host names (optionally with :port), or *.domain.")
    return hosts
