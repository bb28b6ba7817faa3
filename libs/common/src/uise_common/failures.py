"""Why a consumer's message failed, and what to do about it (the consumer policy, consumer.py).

Two classes of failure:

- **deterministic**: the same message fails the same way however often it is tried: it cannot
  be read as its contract (`Malformed`, a pydantic `ValidationError`), the handler refused it (a
  `ValueError`, the base of the handlers' own refusals), it broke a database constraint that
  neither a concurrent replay nor a concurrent writer explains (`IntegrityError` met again in a
  fresh transaction, consumer.py; `DataError`), or it names a stored object that is not there
  (S3 404), whose bytes changed, or whose claim check does not hold (`ClaimInvalid`). It goes to
  the DLQ at once, with its reason.
- **transient**: something the handler needs is away or behind: the database, object storage,
  Redis, Kafka, or a read model not caught up (`NotYetKnown`). Retrying fixes it, so the message
  is retried with capped exponential backoff for as long as it takes; its partition waits (the
  offset is not committed past it) and the consumer says so in /readyz and the
  `uise_consumer_waiting_seconds` gauge. An error of no known class (a bug a deploy brought, a
  race such as reporting's `VersionTaken`) is given the same patience: a bug rolled back within
  the cap dead-letters nothing.

A poison message must not hold its partition forever: the cap (`RetryPolicy.dlq_after_seconds`,
and `dlq_after_attempts` when set) sends a message that still fails to the DLQ with its whole
history in headers, in the spirit of getsentry/arroyo's DlqLimit.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum

from aiokafka.errors import KafkaError
from minio.error import S3Error, ServerError
from redis.exceptions import BusyLoadingError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy.exc import (
    DataError,
    DBAPIError,
    DisconnectionError,
    IntegrityError,
    InterfaceError,
    OperationalError,
)
from sqlalchemy.exc import TimeoutError as PoolTimeout
from urllib3.exceptions import HTTPError as Urllib3Error

from uise_common.claimcheck import ClaimInvalid
from uise_common.objectstore import IntegrityError as StoredBytesChanged


class Malformed(Exception):
    """The message cannot be read as its topic's contract."""


class NotYetKnown(Exception):
    """Reference data the handler needs (a participant, a form) has not reached this service's
    read model yet; retrying in place lets the registry's events catch up."""


class Failure(StrEnum):
    DETERMINISTIC = "deterministic"
    TRANSIENT = "transient"


# What is away, by the errors that say so (an HTTP route answers them 503, uise_common.http).
OUTAGES: dict[str, tuple[type[BaseException], ...]] = {
    "database": (OperationalError, InterfaceError, DisconnectionError, PoolTimeout),
    "storage": (Urllib3Error, ServerError),  # object storage (minio speaks through urllib3)
    "redis": (RedisConnectionError, RedisTimeoutError, BusyLoadingError),
    "kafka": (KafkaError,),
}
_TRANSIENT: tuple[type[BaseException], ...] = (
    NotYetKnown,
    *(cls for classes in OUTAGES.values() for cls in classes),
    ConnectionError, TimeoutError,  # sockets
)
_DETERMINISTIC: tuple[type[BaseException], ...] = (
    Malformed, ValueError,  # pydantic's ValidationError and the handlers' refusals are ValueErrors
    IntegrityError, DataError, StoredBytesChanged, ClaimInvalid,
)


def _is_transient(exc: BaseException) -> bool:
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    if isinstance(exc, S3Error):  # a 5xx: SlowDown, InternalError, ServiceUnavailable
        return _status(exc) >= 500
    return isinstance(exc, _TRANSIENT)


def _status(exc: S3Error) -> int:
    return getattr(exc.response, "status", 0)


def classify(exc: BaseException) -> Failure:
    """Transient when `exc`, or an error it was raised from, is an outage or a lag; else
    deterministic when it is one of the kinds retrying cannot fix; else transient (see above)."""
    seen: BaseException | None = exc
    while seen is not None:
        if _is_transient(seen):
            return Failure.TRANSIENT
        seen = seen.__cause__
    # an object named by an event and not in the store (S3 404) will not appear by waiting
    if isinstance(exc, _DETERMINISTIC) or (isinstance(exc, S3Error) and _status(exc) == 404):
        return Failure.DETERMINISTIC
    return Failure.TRANSIENT


@dataclass
class FailureHistory:
    """One message's failed attempts, kept while it is retried and sent along to the DLQ."""

    attempts: int = 0
    first_failed_at: datetime | None = None
    error_types: list[str] = field(default_factory=list)  # each once, in the order first seen
    last: BaseException | None = None
    last_class: Failure = Failure.TRANSIENT
    _started: float = 0.0  # monotonic, for the cap

    def failed(self, exc: BaseException) -> Failure:
        if self.attempts == 0:
            self.first_failed_at = datetime.now(UTC)
            self._started = time.monotonic()
        self.attempts += 1
        self.last, self.last_class = exc, classify(exc)
        if type(exc).__name__ not in self.error_types:
            self.error_types.append(type(exc).__name__)
        return self.last_class

    def waited_seconds(self) -> float:
        return time.monotonic() - self._started if self.attempts else 0.0

    def describe(self) -> str:
        """For logs and /readyz: the last error, how long and how often."""
        return (f"{type(self.last).__name__}: {str(self.last)[:300]} "
                f"(for {self.waited_seconds():.0f} s, {self.attempts} attempts)")

    def headers(self, verdict: str) -> dict[str, str]:
        """The history as DLQ headers; `verdict` is why it was given up (RetryPolicy.verdict)."""
        return {
            "x-error-type": type(self.last).__name__,
            "x-error-message": str(self.last)[:2000],
            "x-attempts": str(self.attempts),
            "x-failure": verdict,
            "x-first-failure-at": (self.first_failed_at or datetime.now(UTC)).isoformat(),
            "x-error-types": ",".join(self.error_types),
            "x-waited-seconds": f"{self.waited_seconds():.1f}",
        }


# Why a message was given up: its failure is deterministic, or it kept failing past the cap.
DETERMINISTIC, CAPPED = "deterministic", "cap"


@dataclass(frozen=True)
class RetryPolicy:
    """How a failing message is retried, and when it goes to the DLQ instead."""

    backoff_seconds: float = 0.25  # the first wait; each next one doubles ...
    max_backoff_seconds: float = 30.0  # ... up to this
    dlq_after_seconds: float = 1800.0  # the cap: a message still failing this long after its first failure
    dlq_after_attempts: int | None = None  # and/or after this many attempts

    @classmethod
    def from_settings(cls, settings) -> RetryPolicy:
        return cls(settings.retry_backoff_seconds, settings.retry_max_backoff_seconds,
                   settings.dlq_after_seconds, settings.dlq_after_attempts)

    def delay(self, attempts: int) -> float:
        """The wait after the `attempts`-th failure."""
        return min(self.backoff_seconds * 2 ** min(max(attempts - 1, 0), 32), self.max_backoff_seconds)

    def verdict(self, history: FailureHistory) -> str | None:
        """DETERMINISTIC or CAPPED when the message goes to the DLQ now; None: retry it."""
        if history.last_class is Failure.DETERMINISTIC:
            return DETERMINISTIC
        if self.dlq_after_attempts is not None and history.attempts >= self.dlq_after_attempts:
            return CAPPED
        if history.waited_seconds() >= self.dlq_after_seconds:
            return CAPPED
        return None

    @property
    def max_poll_interval_ms(self) -> int:
        """How long the consumer may go without polling before Kafka takes it for dead: the
        whole wait up to the cap, the longest sleep, and the 5 minutes Kafka allows one
        attempt by default (signature checks a 20 MB workbook in tens of seconds)."""
        return int((self.dlq_after_seconds + self.max_backoff_seconds + 300) * 1000)
