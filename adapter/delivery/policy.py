"""When to retry a delivery and how long to wait.

- Retried (the item goes to ``failed`` and waits): connection errors and timeouts, HTTP 5xx,
  408 Request Timeout, 429 Too Many Requests, and 409 Conflict / 412 Precondition Failed (a
  concurrent update on the server: our entries are idempotent, so sending them again is safe).
- Not retried (the item becomes a dead letter, with the server's OperationOutcome as its last
  error): every other 4xx: the server refuses the content, and sending it again will not help.
- The wait before attempt ``n + 1`` (after ``n`` failed attempts) is exponential backoff with
  full jitter (AWS Architecture Blog, "Exponential Backoff And Jitter", 2015): a uniform random
  time in ``[0, min(max_delay, base * 2**(n-1))]``, but never less than the server's
  ``Retry-After`` (RFC 9110 section 10.2.3: seconds or an HTTP date).
- After ``max_attempts`` failed attempts the item becomes a dead letter too.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

RETRIED_STATUSES = frozenset({408, 409, 412, 429})


def is_retried(status: int) -> bool:
    """Whether an HTTP answer with this status is worth another attempt."""
    return status >= 500 or status in RETRIED_STATUSES


def retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds a ``Retry-After`` header asks to wait (None when absent or unreadable)."""
    if not value:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Backoff with full jitter, bounded; ``max_attempts`` failed attempts make a dead letter."""

    base: float = 1.0
    max_delay: float = 300.0
    max_attempts: int = 10

    def delay(
        self,
        failed_attempts: int,
        server_asks: float | None = None,
        rng: random.Random | None = None,
    ) -> float:
        """Seconds to wait after ``failed_attempts`` (>= 1) failed attempts; at least what the
        server asked for (``Retry-After``), even beyond ``max_delay``."""
        ceiling = min(self.max_delay, self.base * 2 ** max(0, failed_attempts - 1))
        wait = (rng or random).uniform(0.0, ceiling)
        return wait if server_asks is None else max(wait, server_asks)

    def exhausted(self, failed_attempts: int) -> bool:
        return failed_attempts >= self.max_attempts
