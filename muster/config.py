"""Settings from the environment, read through small strict helpers (DESIGN §5.1).

A bad value stops start-up with a message naming the variable.
"""

from __future__ import annotations

import ipaddress
import os
import re
import secrets
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import dj_database_url
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.core.validators import validate_email


def env(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def is_set(name: str) -> bool:
    """Whether NAME (or, for a secret, NAME_FILE) is set at all, even to an empty value."""
    return name in os.environ or f"{name}_FILE" in os.environ


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


# A host name (labels of letters, digits, hyphens and underscores) or an IPv4 address.
_HOST = re.compile(r"(?!-)[a-z0-9_-]{1,63}(?<!-)(\.(?!-)[a-z0-9_-]{1,63}(?<!-))*")


def _is_ipv6_literal(host: str) -> bool:
    try:
        return host.startswith("[") and host.endswith("]") and bool(ipaddress.IPv6Address(host[1:-1]))
    except ValueError:
        return False


def _port(text: str) -> int | None:
    """A port as written after a colon: 1-65535, or None when not one."""
    return int(text) if text.isascii() and text.isdigit() and 1 <= int(text) <= 65535 else None


def envurl(name: str, default: str) -> str:
    """An address Muster is served at: scheme://host[:port], nothing else (Muster serves at its root)."""
    given = os.environ.get(name, default)
    value = given.rstrip("/")
    parts = urlsplit(value)
    host, _, port = parts.netloc.rpartition(":") if ":" in parts.netloc else (parts.netloc, "", "")
    problem = ""
    if parts.scheme not in ("http", "https") or not parts.netloc:
        problem = "must be an http:// or https:// address"
    elif "@" in parts.netloc:
        # Not echoed: the part before @ may be a password.
        raise ImproperlyConfigured(f"{name} must be scheme://host[:port], without credentials.")
    elif any(c.isspace() for c in given):
        problem = "must be scheme://host[:port], without spaces"
    elif not (_HOST.fullmatch(host.lower()) or _is_ipv6_literal(host)):
        problem = "has a host that is not a host name or an IP address"
    elif (port and _port(port) is None) or parts.netloc.endswith(":"):
        problem = "has a port that is not a number from 1 to 65535"
    elif parts.path or parts.query or parts.fragment:
        problem = "must be scheme://host[:port] with no path, query or fragment: Muster is served at the root"
    if problem:
        raise ImproperlyConfigured(f"{name} {problem}, not {given!r}.")
    return value


def data_dir(name: str, default: str) -> Path:
    """The data directory, created if missing and checked to be writable: keys, the SQLite file
    and uploads go there, and a failure later would be far from its cause."""
    given = os.environ.get(name, default)
    if not given.strip():
        raise ImproperlyConfigured(f"{name} is set but empty: name a directory, or unset it for the default.")
    path = Path(given).resolve()
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as e:
        raise ImproperlyConfigured(f"{name}={given!r} is not a directory Muster can write to: {e.strerror}.") from None
    return path


def secret_key(value: str) -> str:
    key = value.strip()
    if len(key) < 32:
        raise ImproperlyConfigured(
            "MUSTER_SECRET_KEY must be at least 32 characters (unset it and Muster generates one)."
        )
    return key


def from_email(value: str) -> str:
    """MUSTER_FROM_EMAIL: an address, or `Name <address>`, on one line."""
    found = _FROM.fullmatch(value.strip())
    address = (found["bracketed"] or found["bare"]) if found else ""
    try:
        validate_email(address)
    except ValidationError:
        raise ImproperlyConfigured(
            f"MUSTER_FROM_EMAIL must be an email address, or Name <address>, not {value!r}."
        ) from None
    return value.strip()


_FROM = re.compile(r'(?:[^<>"\x00-\x1f]*?\s*<(?P<bracketed>[^<>\s]+)>|(?P<bare>[^<>\s]+))')


def database(value: str, default_sqlite: Path) -> dict[str, Any]:
    """DATABASE_URL as Django's DATABASES entry. The URL is never echoed: it holds a password."""
    name = "DATABASE_URL"
    url = value or f"sqlite:///{default_sqlite}"
    try:
        db: dict[str, Any] = dict(dj_database_url.parse(url, conn_max_age=60))
    except ValueError:
        raise ImproperlyConfigured(
            f"{name} is not an address Muster can read: use postgres://user:password@host:port/name "
            "or sqlite:////absolute/path/to/muster.sqlite3 (quote special characters in the password)."
        ) from None
    if db["ENGINE"] == "django.db.backends.sqlite3":
        path = str(db.get("NAME") or "")
        if path in ("", ":memory:") or path.startswith("file::memory:"):
            raise ImproperlyConfigured(
                f"{name} names an in-memory SQLite database: web, worker and scheduler would each have their "
                "own, empty one. Name a file: sqlite:////absolute/path/to/muster.sqlite3."
            )
        if not Path(path).is_absolute():
            raise ImproperlyConfigured(
                f"{name} names a SQLite file by a relative path, which each process would find from where it "
                "started: use sqlite:////absolute/path/to/muster.sqlite3 (four slashes)."
            )
        if not Path(path).parent.is_dir():
            raise ImproperlyConfigured(f"{name} names a SQLite file in a directory that does not exist.")
    elif db["ENGINE"] == "django.db.backends.postgresql":
        if not db.get("NAME"):
            raise ImproperlyConfigured(f"{name} names no database: postgres://user:password@host:port/name.")
        # dj-database-url reads port 0 as "no port" (the default, 5432): refuse it instead.
        if re.search(r":0+(/|$)", urlsplit(url).netloc + "/"):
            raise ImproperlyConfigured(f"{name} has a port that is not a number from 1 to 65535.")
    else:
        raise ImproperlyConfigured(f"{name} must be a sqlite:// or postgres:// address.")
    return db


def redis_url(value: str) -> str:
    name = "MUSTER_REDIS_URL"
    parts = urlsplit(value)
    if parts.scheme not in ("redis", "rediss"):
        raise ImproperlyConfigured(f"{name} must start with redis:// or rediss://.")
    try:
        port = parts.port
    except ValueError:
        port = 0
    if not parts.hostname or port == 0:
        raise ImproperlyConfigured(f"{name} must be redis://host[:port][/db], with a port from 1 to 65535.")
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
        if not unquote(parts.netloc + parts.path):
            raise ImproperlyConfigured("MUSTER_EMAIL_URL=file:// needs a directory: file:///path/to/mail.")
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
            port = 0
        if port == 0:
            raise ImproperlyConfigured("MUSTER_EMAIL_URL has a port that is not a number from 1 to 65535.")
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
    """Host names or IPv4 addresses, each optionally with :port, or *.domain for https subdomains."""
    hosts = [h.strip().lower() for h in value.split(",") if h.strip()]
    if not hosts:
        raise ImproperlyConfigured(f"{name} must name at least one host.")
    for entry in hosts:
        host, colon, port = entry.rpartition(":") if ":" in entry else (entry, "", "")
        if entry.startswith("*."):
            # *.com would let a token go to any .com host: a wildcard keeps at least two labels.
            if colon or not _HOST.fullmatch(entry[2:]) or entry.count(".") < 2:
                raise ImproperlyConfigured(
                    f"{name} holds {entry!r}: a wildcard is *. and a domain of at least two labels "
                    "(*.qualtrics.com), with no port (it covers https subdomains)."
                )
        elif not _HOST.fullmatch(host) or (colon and _port(port) is None):
            raise ImproperlyConfigured(
                f"{name} holds {entry!r}: give host names or IPv4 addresses (optionally with a :port from 1 "
                "to 65535), or *.domain."
            )
    return hosts
