"""A per-token rate limit, off by default (`--calls-per-minute`, `--max-concurrent`).

Qualtrics' own numbers are unconfirmed (REFERENCE §2, §11.2); one vendor describes a leaky
bucket answering 429. Here each token has a bucket of `calls_per_minute` calls that drains at
that rate, and at most `max_concurrent` of its calls run at once.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field


@dataclass
class Bucket:
    level: float = 0.0
    at: float = 0.0
    running: int = 0


@dataclass
class RateLimiter:
    buckets: dict[str, Bucket] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def acquire(self, token: str, calls_per_minute: int | None, max_concurrent: int | None) -> int | None:
        """Count one call; None when it may run, else the seconds for Retry-After."""
        moment = time.monotonic()
        with self.lock:
            bucket = self.buckets.setdefault(token, Bucket(at=moment))
            if calls_per_minute:
                rate = calls_per_minute / 60.0
                bucket.level = max(0.0, bucket.level - (moment - bucket.at) * rate)
                bucket.at = moment
                if bucket.level + 1 > calls_per_minute:
                    return max(1, math.ceil((bucket.level + 1 - calls_per_minute) / rate))
            if max_concurrent and bucket.running >= max_concurrent:
                return 1
            if calls_per_minute:
                bucket.level += 1
            bucket.running += 1
            return None

    def release(self, token: str) -> None:
        with self.lock:
            bucket = self.buckets.get(token)
            if bucket is not None and bucket.running > 0:
                bucket.running -= 1
