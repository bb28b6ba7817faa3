"""Sent outbox rows and processed-event ids are pruned after the retention window; inside it a
redelivery is still deduplicated; unsent rows are never pruned. On SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from sqlmodel import Session, select

from uise_common.consumer import ConsumerRunner, Delivery, RetryPolicy
from uise_common.idempotency import ProcessedEvent, SeenCache
from uise_common.outbox import OutboxRow, add_event
from uise_common.retention import prune
from uise_contracts import make_envelope
from uise_contracts.events import TimelinessRecorded
from uise_contracts.topics import BY_NAME

NOW = datetime.now(UTC)
TOPIC = BY_NAME["uise.submission.timeliness-recorded.v1"]


@pytest.fixture
def engine(outbox_engine):
    return outbox_engine


def event(sid: str) -> TimelinessRecorded:
    return TimelinessRecorded(submission_id=sid, participant_id="p1", form_code="F", period="2026",
                              delivered_at=NOW, deadline_at=None, on_time=None)


def test_pruning_keeps_the_window_and_every_unsent_row(engine):
    with Session(engine) as s:
        for sid, sent_days_ago in (("old-sent", 20), ("recent-sent", 2), ("old-unsent", None)):
            row = add_event(s, event(sid), "test")
            row.created_at = NOW - timedelta(days=20)
            row.sent_at = None if sent_days_ago is None else NOW - timedelta(days=sent_days_ago)
        s.add(ProcessedEvent(event_id="old", topic=TOPIC.name, processed_at=NOW - timedelta(days=20)))
        s.add(ProcessedEvent(event_id="recent", topic=TOPIC.name, processed_at=NOW - timedelta(days=2)))
        s.commit()
    assert prune(engine, NOW - timedelta(days=14)) == {"outbox": 1, "processed_events": 1}
    with Session(engine) as s:
        kept = sorted(json.loads(r.body)["submission_id"] for r in s.exec(select(OutboxRow)))
        assert [p.event_id for p in s.exec(select(ProcessedEvent))] == ["recent"]
    assert kept == ["old-unsent", "recent-sent"]  # an unsent row stays however old it is
    assert prune(engine, NOW - timedelta(days=14)) == {"outbox": 0, "processed_events": 0}


def test_a_redelivery_inside_the_window_is_still_deduplicated_and_one_after_it_is_not(engine):
    applied: list[str] = []

    def handler(ev, session):
        applied.append(ev.submission_id)
        return []

    runner = ConsumerRunner(service="test", topic=TOPIC, handler=handler, engine=engine, broker=None,
                            seen=SeenCache(None, "test"), after_commit=lambda: None, policy=RetryPolicy())

    def delivery(sid: str, env) -> Delivery:
        record = SimpleNamespace(topic=TOPIC.name, partition=0, offset=0, key=b"p1", value=b"", headers=[])
        return Delivery(record, env.headers(), b"", env, event(sid))

    inside, outside = (make_envelope(TOPIC.ce_type, "urn:uise:test", "p1") for _ in range(2))
    assert runner.apply(delivery("a", inside)) and runner.apply(delivery("b", outside))
    with Session(engine) as s:  # age them: one 2 days, one 20
        for env, days in ((inside, 2), (outside, 20)):
            s.get(ProcessedEvent, env.id).processed_at = NOW - timedelta(days=days)
        s.commit()
    prune(engine, NOW - timedelta(days=14))
    assert runner.apply(delivery("a", inside)) is False  # the broker could still redeliver it: skipped
    assert runner.apply(delivery("b", outside)) is True  # past the window (and past the broker's retention)
    assert applied == ["a", "b", "b"]
