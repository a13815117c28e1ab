from __future__ import annotations

import logging
import sys

from muster.logs import OneLineFormatter


def record(message: str, *args: object, exc: bool = False) -> logging.LogRecord:
    info = sys.exc_info() if exc else None
    return logging.LogRecord("muster", logging.WARNING, __file__, 1, message, args, info)


FORMAT = "%(levelname)s %(name)s %(message)s"


def test_control_characters_in_a_message_are_escaped() -> None:
    line = OneLineFormatter(FORMAT).format(record("topic %s", "a\nWARNING muster forged\r\x1b[2J\u2028b\tc"))
    assert line == "WARNING muster topic a\\nWARNING muster forged\\r\\x1b[2J\\u2028b\tc"


def test_a_traceback_never_starts_a_line() -> None:
    try:
        raise ValueError("bad value\nWARNING muster forged")
    except ValueError:
        text = OneLineFormatter(FORMAT).format(record("it failed", exc=True))
    first, *rest = text.splitlines()
    assert first == "WARNING muster it failed"
    assert rest, "the traceback is kept"
    assert all(line.startswith("    ") for line in rest), rest
    assert "    WARNING muster forged" in rest
