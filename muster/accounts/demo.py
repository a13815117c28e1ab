from __future__ import annotations

import secrets
from pathlib import Path

from django.conf import settings

from muster.accounts.models import User
from muster.accounts.roles import Role

DEMO_ADMIN_EMAIL = "admin@demo.muster.test"


def demo_admin_password_file() -> Path:
    return Path(settings.DATA_DIR) / "demo_admin_password"


def load() -> str:
    """Creates the demo Admin once, with a random password kept in the data dir (0600)."""
    path = demo_admin_password_file()
    if not User.objects.filter(email=DEMO_ADMIN_EMAIL).exists():
        password = secrets.token_urlsafe(12)
        User.objects.create_user(DEMO_ADMIN_EMAIL, password, name="Demo Admin", role=Role.ADMIN)
        path.write_text(password + "\n")
        path.chmod(0o600)
    return path.read_text().strip() if path.exists() else "(unknown: the password file was removed)"
