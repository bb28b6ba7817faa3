"""Intake's abuse limits (docs/intake.md, "Abuse limits"): what keeps one participant from taking
intake's capacity from the others.

- `InFlightLimiter`: at most N uploads in progress in this process, whoever sends them.
- `ParticipantSlots`: at most M of those per participant.
- `TokenBuckets`: at most R uploads a minute per participant, with a burst.
- `BodyTimeouts`: how slow a body may arrive (no progress for a while, or a low average rate).

Every limit is per process, each replica enforcing its own. The resource they protect is a
process's: its in-flight slots, its event loop, the request bodies it spools. A per-process cap is
exactly what stops one participant from filling a process, whatever the other replicas do.
Sharing the counts through Redis would put a network round trip and a new failure mode (fail open
or closed?) in front of every upload, and a concurrency count kept in Redis leaks when a replica
dies mid-upload unless every slot is a lease that must be renewed. All that would buy is a tighter
cluster-wide number for one participant: with R replicas it may have R x M uploads in progress and
R x the rate, which is still a small share of each replica.

Checks raise `Refused(code, seconds=...)`; the route class turns them into 429s with Retry-After.
Everything here runs on one event loop: no locks."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from uise_intake.reasons import Refused

Clock = Callable[[], float]


class InFlightLimiter:
    """At most `limit` uploads in progress in this process; the next one is refused at once
    (429) rather than queued, so a burst costs the excess callers a retry instead of slowing
    everyone down."""

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError("the limit must be at least 1")
        self.limit = limit
        self.in_flight = 0
        self.shed = 0  # refused so far, for metrics and tests

    def try_acquire(self) -> bool:
        if self.in_flight >= self.limit:
            self.shed += 1
            return False
        self.in_flight += 1
        return True

    def release(self) -> None:
        if self.in_flight <= 0:
            raise RuntimeError("release without acquire")
        self.in_flight -= 1


class ParticipantSlots:
    """At most `limit` uploads in progress per participant in this process."""

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError("the limit per participant must be at least 1")
        self.limit = limit
        self._in_flight: dict[str, int] = {}  # only participants with an upload in progress
        self.refused = 0

    def in_flight(self, participant: str) -> int:
        return self._in_flight.get(participant, 0)

    @property
    def total(self) -> int:
        return sum(self._in_flight.values())

    def try_acquire(self, participant: str) -> bool:
        held = self._in_flight.get(participant, 0)
        if held >= self.limit:
            self.refused += 1
            return False
        self._in_flight[participant] = held + 1
        return True

    def release(self, participant: str) -> None:
        held = self._in_flight.get(participant, 0)
        if held <= 0:
            raise RuntimeError(f"release without acquire for {participant}")
        if held == 1:
            del self._in_flight[participant]  # the map holds only who is uploading now
        else:
            self._in_flight[participant] = held - 1


class TokenBuckets:
    """A token bucket per participant: `burst` uploads at once, refilled at `per_minute` a minute.
    `per_minute=0` turns the limit off. A bucket that has refilled to the brim is the same as no
    bucket, so such buckets are dropped now and then: memory follows the active participants."""

    def __init__(self, per_minute: float, burst: int, clock: Clock = time.monotonic) -> None:
        if per_minute < 0:
            raise ValueError("the rate must not be negative")
        if burst < 1:
            raise ValueError("the burst must be at least 1")
        self.per_minute = per_minute
        self.rate = per_minute / 60.0  # tokens a second
        self.burst = burst
        self.clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # participant -> (tokens, at)
        self._swept = clock()
        self.refused = 0

    @property
    def enabled(self) -> bool:
        return self.rate > 0

    def _level(self, participant: str, now: float) -> float:
        tokens, at = self._buckets.get(participant, (float(self.burst), now))
        return min(float(self.burst), tokens + (now - at) * self.rate)

    def take(self, participant: str) -> float:
        """Take one token: 0.0 when taken, else the seconds until one will be there."""
        if not self.enabled:
            return 0.0
        now = self.clock()
        self._sweep(now)
        tokens = self._level(participant, now)
        if tokens >= 1.0:
            self._buckets[participant] = (tokens - 1.0, now)
            return 0.0
        self._buckets[participant] = (tokens, now)
        self.refused += 1
        return (1.0 - tokens) / self.rate

    def give_back(self, participant: str) -> None:
        """Return a token taken for an upload that was then refused for lack of capacity (not
        the participant's fault): its retry should not cost it twice."""
        if not self.enabled:
            return
        now = self.clock()
        self._buckets[participant] = (min(float(self.burst), self._level(participant, now) + 1.0), now)

    def tokens(self, participant: str) -> float:
        return self._level(participant, self.clock()) if self.enabled else float(self.burst)

    def __len__(self) -> int:
        return len(self._buckets)

    def _sweep(self, now: float) -> None:
        full_after = self.burst / self.rate  # an untouched bucket is full again after this long
        if now - self._swept < full_after:
            return
        self._swept = now
        for participant in [p for p, (_tokens, at) in self._buckets.items() if now - at >= full_after]:
            del self._buckets[participant]


@dataclass(frozen=True)
class BodyTimeouts:
    """How slow a request body may arrive. `idle_seconds`: the longest wait for the next bytes.
    `min_bytes_per_second` (0 = off): the lowest average rate since the body began, enforced once
    `grace_seconds` have passed (a connection starts slowly; a small body never reaches it)."""

    idle_seconds: float
    min_bytes_per_second: float
    grace_seconds: float

    def __post_init__(self) -> None:
        if self.idle_seconds <= 0:
            raise ValueError("the idle timeout must be positive")
        if self.min_bytes_per_second < 0 or self.grace_seconds < 0:
            raise ValueError("the minimum rate and the grace period must not be negative")
        if self.min_bytes_per_second > 0 and self.grace_seconds <= 0:
            raise ValueError("a minimum rate needs a grace period: no upload has bytes at its first instant")

    def too_slow_at(self, started: float, received: int) -> float:
        """When an upload that began at `started` and has `received` bytes so far falls below the
        minimum average rate (never, when that rate is off)."""
        if self.min_bytes_per_second <= 0:
            return math.inf
        return started + max(self.grace_seconds, received / self.min_bytes_per_second)


@dataclass
class UploadLimits:
    """All of an upload's limits, in the order they are checked once its sender is known."""

    in_flight: InFlightLimiter
    participants: ParticipantSlots
    rate: TokenBuckets
    body: BodyTimeouts
    retry_after: int  # seconds, for the refusals whose end nobody can predict

    @classmethod
    def from_settings(cls, settings, in_flight: InFlightLimiter | None = None) -> UploadLimits:
        return cls(
            in_flight=in_flight or InFlightLimiter(settings.intake_max_in_flight),
            participants=ParticipantSlots(settings.intake_participant_max_in_flight),
            rate=TokenBuckets(settings.intake_participant_uploads_per_minute, settings.intake_participant_upload_burst),
            body=BodyTimeouts(settings.intake_body_idle_timeout_seconds,
                              settings.intake_body_min_bytes_per_second, settings.intake_body_grace_seconds),
            retry_after=settings.intake_retry_after_seconds,
        )

    @contextmanager
    def admit(self, participant: str) -> Iterator[None]:
        """Hold a slot of `participant` and one of the process for the block; refuse with
        PARTICIPANT_BUSY, RATE_LIMITED or OVERLOADED (each with `seconds` to wait) instead. The
        participant's own limits come first, so a participant over them never takes (or counts
        against) the capacity everyone shares. Every slot is released however the block ends."""
        if not self.participants.try_acquire(participant):
            raise Refused("PARTICIPANT_BUSY", seconds=self.retry_after, limit=self.participants.limit)
        try:
            wait = self.rate.take(participant)
            if wait > 0:
                raise Refused("RATE_LIMITED", seconds=max(1, math.ceil(wait)), per_minute=f"{self.rate.per_minute:g}")
            if not self.in_flight.try_acquire():
                self.rate.give_back(participant)
                raise Refused("OVERLOADED", seconds=self.retry_after)
            try:
                yield
            finally:
                self.in_flight.release()
        finally:
            self.participants.release(participant)
