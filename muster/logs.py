"""One log record, one line: text from a request or from Qualtrics cannot forge log lines.

Log messages carry outside text (a webhook's Topic, a host Qualtrics named, a path), so every
handler formats through `OneLineFormatter`: control characters in the message are written as
escapes, and a traceback's lines are indented, so a line that starts at column 0 is always the
start of a real record.
"""

from __future__ import annotations

import logging

# C0 controls, DEL, and the characters Unicode (and some log viewers) treat as line breaks. Tab
# stays: it cannot start a line.
_ESCAPES = {c: f"\\x{c:02x}" for c in [*range(0x20), 0x7F, 0x85] if c != 0x09}
_ESCAPES |= {0x0A: "\\n", 0x0D: "\\r", 0x2028: "\\u2028", 0x2029: "\\u2029"}


def one_line(text: str) -> str:
    return text.translate(_ESCAPES)


class OneLineFormatter(logging.Formatter):
    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 (logging's name)
        return one_line(super().formatMessage(record))

    def formatException(self, ei: logging._SysExcInfoType) -> str:  # noqa: N802
        return _indented(super().formatException(ei))

    def formatStack(self, stack_info: str) -> str:  # noqa: N802
        return _indented(super().formatStack(stack_info))


def _indented(text: str) -> str:
    return "\n".join("    " + one_line(line) for line in text.splitlines())
