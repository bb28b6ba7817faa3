"""An event id is processed once per service.

The database is the authority: the id is recorded in the same transaction as the handler's
state and outbox rows, so a replay either finds it or redoes everything. Redis is only a fast
path in front of it, so replays after a rebalance skip without opening a transaction; losing
Redis loses nothing but that speed.
"""

from __future__ import annotations

import logging
from datetime import datetime

from redis.asyncio import Redis
from sqlmodel import Field, Session, SQLModel

from uise_common.db import utcnow

log = logging.getLogger(__name__)
SEEN_TTL_SECONDS = 7 * 24 * 3600


class ProcessedEvent(SQLModel, table=True):
    __tablename__ = "uise_processed_event"
    event_id: str = Field(primary_key=True)
    topic: str
    processed_at: datetime = Field(default_factory=utcnow)


def already_processed(session: Session, event_id: str) -> bool:
    return session.get(ProcessedEvent, event_id) is not None


def record_processed(session: Session, event_id: str, topic: str) -> None:
    session.add(ProcessedEvent(event_id=event_id, topic=topic))


class SeenCache:
    def __init__(self, redis: Redis | None, service: str) -> None:
        self.redis = redis
        self.prefix = f"uise:{service}:seen:"

    async def seen_many(self, event_ids: list[str]) -> set[str]:
        """Those of `event_ids` marked seen, in one round trip."""
        if self.redis is None or not event_ids:
            return set()
        try:
            found = await self.redis.mget([self.prefix + i for i in event_ids])
        except Exception as exc:  # Redis is an optimisation: fall through to the database
            log.warning("redis unavailable for seen-check", extra={"error": repr(exc)})
            return set()
        return {i for i, v in zip(event_ids, found, strict=True) if v is not None}

    async def mark_many(self, event_ids: list[str]) -> None:
        if self.redis is None or not event_ids:
            return
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                for i in event_ids:
                    pipe.set(self.prefix + i, b"1", ex=SEEN_TTL_SECONDS)
                await pipe.execute()
        except Exception as exc:
            log.warning("redis unavailable for seen-mark", extra={"error": repr(exc)})
