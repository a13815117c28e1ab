from __future__ import annotations

import os

# Live-server tests drive a browser from this (synchronous) test thread.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
