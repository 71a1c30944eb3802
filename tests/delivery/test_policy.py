"""The retry policy: what is retried, backoff with full jitter within its bounds, Retry-After."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest

from adapter.delivery.policy import RetryPolicy, is_retried, retry_after

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("status", "retried"),
    [
        (500, True),
        (503, True),
        (429, True),
        (408, True),
        (409, True),
        (412, True),
        (400, False),
        (401, False),
        (403, False),
        (404, False),
        (422, False),
    ],
)
def test_which_answers_are_retried(status: int, retried: bool) -> None:
    assert is_retried(status) is retried


def test_backoff_grows_within_bounds_with_jitter() -> None:
    policy = RetryPolicy(base=1.0, max_delay=30.0, max_attempts=5)
    rng = random.Random(7)
    for attempt, ceiling in [(1, 1.0), (2, 2.0), (3, 4.0), (5, 16.0), (9, 30.0)]:
        waits = [policy.delay(attempt, rng=rng) for _ in range(200)]
        assert min(waits) >= 0.0
        assert max(waits) <= ceiling
        assert max(waits) > ceiling * 0.8  # spread over the whole range: full jitter
        assert len(set(waits)) > 150


def test_retry_after_is_a_floor_even_beyond_the_maximum() -> None:
    policy = RetryPolicy(base=1.0, max_delay=10.0)
    assert policy.delay(1, server_asks=5.0) >= 5.0
    assert policy.delay(1, server_asks=120.0) == 120.0


def test_retry_after_in_seconds_or_as_a_date() -> None:
    assert retry_after("7", NOW) == 7.0
    assert retry_after("Thu, 01 Jan 2026 12:00:30 GMT", NOW) == 30.0
    assert retry_after("Thu, 01 Jan 2026 11:00:00 GMT", NOW) == 0.0
    assert retry_after("soon", NOW) is None
    assert retry_after(None, NOW) is None


def test_attempts_run_out() -> None:
    policy = RetryPolicy(max_attempts=3)
    assert not policy.exhausted(2)
    assert policy.exhausted(3)
