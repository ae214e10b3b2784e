import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

from atlassian.retry import RetryPolicy, parse_reset, parse_retry_after


def test_it_backs_off_from_two_seconds_doubling_to_a_thirty_second_cap():
    policy = RetryPolicy(jitter=(1.0, 1.0))
    assert [policy.backoff(n) for n in range(1, 7)] == [2, 4, 8, 16, 30, 30]


def test_it_keeps_jitter_within_seventy_to_one_hundred_thirty_percent():
    policy = RetryPolicy(rng=random.Random(1))
    for attempt in range(1, 6):
        raw = min(30.0, 2.0 * 2 ** (attempt - 1))
        for _ in range(200):
            assert 0.7 * raw <= policy.backoff(attempt) <= 1.3 * raw


def test_it_never_waits_less_than_retry_after():
    policy = RetryPolicy(base=0.001, rng=random.Random(2))
    waits = [policy.wait_for(1, 7.0) for _ in range(200)]
    assert min(waits) >= 7.0
    assert max(waits) <= 7.0 * 1.1


def test_it_scales_the_backoff_base_for_fast_tests():
    policy = RetryPolicy(base=0.01, cap=0.05, jitter=(1.0, 1.0))
    assert [policy.backoff(n) for n in (1, 2, 3, 4)] == [0.01, 0.02, 0.04, 0.05]


def test_it_reads_retry_after_as_seconds_or_an_http_date():
    assert parse_retry_after("5") == 5.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    when = datetime(2030, 1, 1, 12, 0, 30, tzinfo=UTC)
    now = (when - timedelta(seconds=30)).timestamp()
    assert parse_retry_after(format_datetime(when, usegmt=True), now=now) == 30.0


def test_it_reads_the_iso_reset_time():
    assert parse_reset("2030-01-01T13:00:00Z") == datetime(2030, 1, 1, 13, tzinfo=UTC).timestamp()
    assert parse_reset("garbage") is None
