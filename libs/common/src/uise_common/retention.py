"""Pruning what only deduplication needs: sent outbox rows and processed-event ids.

Both tables grow by a row per event forever otherwise. They are kept for `retention_days`
(UISE_RETENTION_DAYS, default 14), longer than the broker keeps a message (Kafka's default and
ours: 7 days), so any redelivery the broker can still make finds its id and is skipped. Events on
compacted topics (participant.upserted, formlist.approved) live on the broker for good; their
handlers are upserts of the latest state, so one applied again after its id was pruned changes
nothing. Unsent outbox rows are never pruned, whatever their age.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta

from sqlalchemy import Engine, delete, select
from sqlmodel import Session, col

from uise_common.db import one_writer, utcnow
from uise_common.idempotency import ProcessedEvent
from uise_common.outbox import OutboxRow

log = logging.getLogger(__name__)
CHUNK = 5000  # rows a transaction: a prune never holds the writer's lock for long


def _delete_chunk(engine: Engine, table, id_column, when_column, cutoff: datetime) -> int:
    with one_writer(engine), Session(engine) as s:
        ids = s.exec(select(id_column).where(col(when_column) < cutoff).limit(CHUNK)).scalars().all()
        if ids:
            s.exec(delete(table).where(col(id_column).in_(ids)))
            s.commit()
        return len(ids)


def prune(engine: Engine, older_than: datetime) -> dict[str, int]:
    """Delete sent outbox rows sent before `older_than` and processed-event ids recorded before
    it; returns how many of each."""
    counts = {"outbox": 0, "processed_events": 0}
    for name, table, id_column, when in (
        ("outbox", OutboxRow, OutboxRow.id, OutboxRow.sent_at),  # NULL (unsent) is never < cutoff
        ("processed_events", ProcessedEvent, ProcessedEvent.event_id, ProcessedEvent.processed_at),
    ):
        while n := _delete_chunk(engine, table, id_column, when, older_than):
            counts[name] += n
    return counts


async def prune_forever(engine: Engine, days: float, every_seconds: float = 3600.0) -> None:
    """The runtime's background task: prune once an hour (and at start)."""
    while True:
        try:
            counts = await asyncio.to_thread(prune, engine, utcnow() - timedelta(days=days))
            if any(counts.values()):
                log.info("pruned", extra=counts)
        except Exception as exc:  # the database is down: the next round tries again
            log.warning("pruning failed", extra={"error": repr(exc)})
        await asyncio.sleep(every_seconds)
