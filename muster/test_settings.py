"""Settings for the test suite: the real settings with a throwaway data dir and plain static storage."""

from __future__ import annotations

import os
import tempfile

os.environ.setdefault("MUSTER_DATA_DIR", tempfile.mkdtemp(prefix="muster-test-"))
os.environ.setdefault("MUSTER_EMAIL_URL", "console://")

from muster.settings import *  # noqa: E402, F403

STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
# Argon2 on purpose is slow; tests create many users.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # noqa: S105
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # noqa: F405
