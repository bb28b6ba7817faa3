"""The failure classes and the retry policy (uise_common.failures): which errors wait, which go
to the DLQ at once, and when waiting ends in the DLQ anyway."""

from __future__ import annotations

import time
from types import SimpleNamespace

import pytest
from aiokafka.errors import KafkaConnectionError
from minio.error import S3Error
from pydantic import BaseModel, ValidationError
from redis.exceptions import ConnectionError as RedisConnectionError
from sqlalchemy import create_engine, text
from sqlalchemy.exc import IntegrityError, OperationalError
from urllib3.exceptions import MaxRetryError

from uise_common.claimcheck import ClaimInvalid
from uise_common.failures import (
    CAPPED,
    DETERMINISTIC,
    Failure,
    FailureHistory,
    Malformed,
    NotYetKnown,
    RetryPolicy,
    classify,
)


class Needs(BaseModel):
    n: int


def validation_error() -> ValidationError:
    try:
        Needs.model_validate({"n": "many"})
    except ValidationError as exc:
        return exc
    raise AssertionError


def database_away() -> OperationalError:
    """What SQLAlchemy raises when PostgreSQL does not answer (a port nothing listens on)."""
    from uise_common.testing import free_port

    engine = create_engine(f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/x",
                           connect_args={"connect_timeout": 2})
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except OperationalError as exc:
        return exc
    finally:
        engine.dispose()
    raise AssertionError


def s3_error(status: int, code: str) -> S3Error:
    return S3Error(SimpleNamespace(status=status), code, code, "bucket/key", "r", "h")


class HandlersOwnRefusal(ValueError):
    pass


@pytest.mark.parametrize("error", [
    Malformed("not JSON"), validation_error(), HandlersOwnRefusal("the form has no such field"),
    IntegrityError("INSERT", {}, Exception("UNIQUE constraint failed")), s3_error(404, "NoSuchKey"),
    ClaimInvalid("claims/sha256/ab/ab…: the object does not hash to the claim"),
], ids=lambda e: type(e).__name__)
def test_what_retrying_cannot_fix_is_deterministic(error):
    assert classify(error) is Failure.DETERMINISTIC


@pytest.mark.parametrize("error", [
    NotYetKnown("participant p1"), database_away(), MaxRetryError(None, "/bucket/key", "connection refused"),
    s3_error(503, "SlowDown"), RedisConnectionError("refused"), KafkaConnectionError("no broker"),
    ConnectionRefusedError(111, "refused"), TimeoutError("read timed out"),
], ids=lambda e: type(e).__name__)
def test_outages_and_lagging_read_models_are_transient(error):
    assert classify(error) is Failure.TRANSIENT


def test_an_error_raised_from_an_outage_is_transient_and_an_unknown_one_waits_too():
    try:
        try:
            raise database_away()
        except OperationalError as exc:
            raise ValueError("could not load the form") from exc
    except ValueError as wrapped:
        assert classify(wrapped) is Failure.TRANSIENT
    # a bug (or a race) of no known class gets the patience of an outage, bounded by the cap
    assert classify(RuntimeError("built concurrently; retrying")) is Failure.TRANSIENT


def test_the_backoff_doubles_up_to_its_ceiling():
    policy = RetryPolicy(backoff_seconds=0.25, max_backoff_seconds=30)
    assert [policy.delay(n) for n in (1, 2, 3, 4, 8, 9, 500)] == [0.25, 0.5, 1, 2, 30, 30, 30]


def test_a_deterministic_failure_is_given_up_at_its_first_attempt():
    history = FailureHistory()
    history.failed(validation_error())
    assert RetryPolicy().verdict(history) == DETERMINISTIC
    assert history.attempts == 1


def test_a_transient_failure_waits_until_the_cap_of_time_or_attempts():
    history = FailureHistory()
    for _ in range(50):  # far beyond the old budget of 8 attempts
        history.failed(NotYetKnown("participant p1"))
    assert RetryPolicy(dlq_after_seconds=60).verdict(history) is None
    assert RetryPolicy(dlq_after_seconds=60, dlq_after_attempts=50).verdict(history) == CAPPED
    time.sleep(0.05)
    assert RetryPolicy(dlq_after_seconds=0.01).verdict(history) == CAPPED


def test_the_history_goes_to_the_dlq_in_headers():
    history = FailureHistory()
    history.failed(database_away())
    history.failed(NotYetKnown("participant p1"))
    history.failed(database_away())
    headers = history.headers(CAPPED)
    assert headers["x-attempts"] == "3" and headers["x-failure"] == "cap"
    assert headers["x-error-type"] == "OperationalError"
    assert headers["x-error-types"] == "OperationalError,NotYetKnown"
    assert headers["x-first-failure-at"] == history.first_failed_at.isoformat()
    assert float(headers["x-waited-seconds"]) >= 0
    assert "OperationalError" in history.describe() and "3 attempts" in history.describe()


def test_the_consumer_may_go_without_polling_past_the_cap():
    policy = RetryPolicy(max_backoff_seconds=30, dlq_after_seconds=1800)
    assert policy.max_poll_interval_ms > (1800 + 30) * 1000
