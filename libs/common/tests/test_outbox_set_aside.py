"""A row the broker will never take is set aside with its reason and the rows behind it go on:
with a real producer on the tansu broker, and with a broker's refusal coming back on the
acknowledgement. The gauge of set-aside rows rises, `uise-outbox` lists, requeues and discards
them, and an older outbox table gains the columns through the common migration step."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest
from aiokafka.errors import CorruptRecordException, MessageSizeTooLargeError
from fastapi import APIRouter, Depends
from sqlalchemy import inspect, text
from sqlmodel import Session, select

from uise_common import outbox_ops
from uise_common.auth import public
from uise_common.broker import ensure_topics
from uise_common.db import make_engine, migrate
from uise_common.outbox import RECORD_MAX_BYTES, EventTooLarge, OutboxRelay, OutboxRow, add_event
from uise_common.service import ServiceRuntime, ServiceSpec, with_common
from uise_common.settings import Settings
from uise_common.testing import acknowledged, read_topic, serve_without_lifespan
from uise_contracts import make_envelope
from uise_contracts.events import SubmissionRejected
from uise_contracts.topics import Topic

TWO_MB = 2_000_000


def new_topic() -> Topic:
    return Topic("outboxtest", f"e{uuid.uuid4().hex[:8]}", 1, SubmissionRejected, "participant_id",
                 ("test",), ("test",), partitions=2)


def row(topic: Topic, sid: str, key: str, pad: int = 0) -> OutboxRow:
    """A row as an older version wrote it, before add_event capped the size: `pad` characters of
    a school's text in the body (the issue's 2,000,212-byte submission.validated)."""
    env = make_envelope(topic.ce_type, "urn:uise:test", key)
    body = SubmissionRejected(submission_id=sid, participant_id=key, form_code="F", period="2026",
                              stage="validation", reason_code="X", message="ж" * pad).model_dump_json()
    return OutboxRow(event_id=env.id, topic=topic.name, key=key, headers=json.dumps(env.headers()), body=body)


def write(engine, *rows: OutboxRow) -> None:
    with Session(engine) as s:
        s.add_all(rows)
        s.commit()


def outbox(engine) -> dict[str, OutboxRow]:
    with Session(engine) as s:
        return {json.loads(r.body)["submission_id"]: r for r in s.exec(select(OutboxRow))}


async def read(bootstrap: str, topic: str, expect: int, timeout: float = 30) -> list[tuple[str, str]]:
    """(key, submission_id) of what the topic holds, in each partition's order."""
    return [(r.key.decode(), json.loads(r.value)["submission_id"])
            for r in await read_topic(bootstrap, topic, expect, timeout)]


def runtime(tmp_path, bootstrap: str, **settings) -> ServiceRuntime:
    rt = ServiceRuntime(ServiceSpec(name="outboxtest", migrations=[]),
                        Settings(data_dir=tmp_path, kafka_bootstrap=bootstrap, **settings))
    migrate(rt.engine, with_common([]))
    return rt


async def gauge(rt: ServiceRuntime, name: str) -> float:
    """The value /metrics serves."""
    for line in (await rt.metrics.render()).decode().splitlines():
        if line.startswith(f'{name}{{service="outboxtest"}}'):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{name} not served")


@pytest.mark.integration
@pytest.mark.parametrize("relay_limit, reason", [
    (RECORD_MAX_BYTES, "TOO_LARGE: "),  # the relay's own check: never handed to the producer
    (16 * 1024 * 1024, "BROKER_REFUSED: MessageSizeTooLargeError"),  # a limit set above the broker's
])
async def test_a_2_mb_row_is_set_aside_and_the_rows_behind_it_go_out_with_a_real_producer(
        tmp_path, kafka_bootstrap, relay_limit, reason):
    topic = new_topic()
    await ensure_topics(kafka_bootstrap, (topic,))
    rt = runtime(tmp_path, kafka_bootstrap, outbox_max_record_bytes=relay_limit)
    write(rt.engine, row(topic, "a1", "A"), row(topic, "big", "A", pad=TWO_MB // 2),  # 2 bytes a character
          row(topic, "a2", "A"), row(topic, "b1", "B"))
    await rt.broker.start()
    rt.relay.poll_seconds = 0.05
    rt.relay.start()
    try:
        published = await read(kafka_bootstrap, topic.name, expect=3)
        assert [sid for key, sid in published if key == "A"] == ["a1", "a2"]  # A's order, without the big one
        assert [sid for key, sid in published if key == "B"] == ["b1"]
        write(rt.engine, row(topic, "b2", "B"))  # the relay keeps going: later rows go out too
        rt.relay.wake()
        assert len(await read(kafka_bootstrap, topic.name, expect=4)) == 4
    finally:
        await rt.relay.stop()
        await rt.broker.stop()
    rows = outbox(rt.engine)
    assert rows["big"].sent_at is None and rows["big"].set_aside_at is not None
    assert rows["big"].set_aside_reason.startswith(reason)
    assert all(rows[sid].sent_at is not None for sid in ("a1", "a2", "b1", "b2"))
    assert await gauge(rt, "uise_outbox_set_aside") == 1
    assert await gauge(rt, "uise_outbox_backlog") == 0


async def test_a_refusal_on_the_acknowledgement_is_set_aside_and_an_outage_keeps_its_row(outbox_engine):
    """The broker's answers as aiokafka reports them: a record too large or corrupt is refused for
    good (set aside), a lost leader is not (kept for the next try, and the flush raises)."""
    topic = new_topic()
    write(outbox_engine, *(row(topic, f"s{n}", "A" if n % 2 else "B") for n in range(6)))
    answers = {"s1": MessageSizeTooLargeError(), "s3": CorruptRecordException(), "s4": ConnectionError("leader lost")}
    handed: list[str] = []

    async def broker(body: bytes, topic: str, key: bytes, headers: dict):
        sid = json.loads(body)["submission_id"]
        handed.append(sid)
        return acknowledged(answers.get(sid))

    relay = OutboxRelay(outbox_engine, broker)
    with pytest.raises(ConnectionError):
        await relay.flush()
    rows = outbox(outbox_engine)
    assert handed == ["s0", "s1", "s2", "s3", "s4", "s5"]
    assert {sid for sid, r in rows.items() if r.sent_at} == {"s0", "s2", "s5"}
    assert rows["s1"].set_aside_reason.startswith("BROKER_REFUSED: MessageSizeTooLargeError")
    assert rows["s3"].set_aside_reason.startswith("BROKER_REFUSED: CorruptRecordException")
    assert rows["s4"].set_aside_at is None and rows["s4"].sent_at is None
    answers.clear()
    assert await relay.flush() == 1  # s4 only: set-aside rows are not tried again
    assert handed[-1] == "s4"


async def test_a_row_that_cannot_be_made_into_a_record_is_set_aside(outbox_engine):
    topic = new_topic()
    broken = row(topic, "broken", "A")
    broken.headers = "{not json"
    write(outbox_engine, broken, row(topic, "after", "A"))
    handed: list[str] = []

    async def broker(body: bytes, topic: str, key: bytes, headers: dict):
        handed.append(json.loads(body)["submission_id"])
        return acknowledged()

    assert await OutboxRelay(outbox_engine, broker).flush() == 1
    assert handed == ["after"]
    assert outbox(outbox_engine)["broken"].set_aside_reason.startswith("UNREADABLE: JSONDecodeError")


def test_add_event_refuses_an_event_over_the_limit_and_writes_nothing(outbox_engine):
    big = SubmissionRejected(submission_id="big", participant_id="A", form_code="F", period="2026",
                             stage="validation", reason_code="X", message="x" * RECORD_MAX_BYTES)
    with Session(outbox_engine) as s, pytest.raises(EventTooLarge) as refused:
        add_event(s, big, "test")
    assert refused.value.topic == "uise.submission.rejected.v1" and refused.value.size > RECORD_MAX_BYTES
    assert outbox(outbox_engine) == {}


def test_a_route_whose_event_would_be_too_large_answers_422_and_writes_nothing(tmp_path):
    def router(rt: ServiceRuntime) -> APIRouter:
        api = APIRouter()

        @api.post("/things", dependencies=[Depends(public("a test route"))])
        async def make(size: int) -> dict:
            event = SubmissionRejected(submission_id="t", participant_id="A", form_code="F", period="2026",
                                       stage="validation", reason_code="X", message="x" * size)
            await rt.in_transaction(lambda s: rt.emit(s, event))
            return {"ok": True}

        return api

    rt = ServiceRuntime(ServiceSpec(name="outboxtest", migrations=[], router=router),
                        Settings(data_dir=tmp_path, kafka_bootstrap="127.0.0.1:1"))
    migrate(rt.engine, with_common([]))
    with serve_without_lifespan(rt.app()) as client:
        answer = client.post("/things", params={"size": TWO_MB})
    assert answer.status_code == 422
    assert answer.json()["error"]["code"] == "EVENT_TOO_LARGE"
    assert outbox(rt.engine) == {}


def test_ops_list_requeue_and_discard_set_aside_rows(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("UISE_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("UISE_DATABASE_URL", raising=False)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    engine = make_engine(f"sqlite:///{tmp_path / 'outboxtest.db'}", "outboxtest")
    migrate(engine, with_common([]))
    topic = new_topic()
    rows = [row(topic, sid, "A") for sid in ("kept", "again", "gone")]
    for r in rows:
        r.set_aside_at, r.set_aside_reason = datetime.now(UTC), "TOO_LARGE: 2,000,212 bytes"
    write(engine, *rows, row(topic, "sent", "A"))
    ids = {json.loads(r.body)["submission_id"]: r.id for r in outbox(engine).values()}

    assert outbox_ops.main(["list", "outboxtest"]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert [int(line.split("\t")[0]) for line in listed] == [ids["kept"], ids["again"], ids["gone"]]
    assert all(line.endswith("TOO_LARGE: 2,000,212 bytes") for line in listed)

    assert outbox_ops.main(["requeue", "outboxtest", str(ids["again"])]) == 0
    assert outbox_ops.main(["discard", "outboxtest", str(ids["gone"]), str(ids["sent"]), "--reason", "test"]) == 1
    after = outbox(engine)
    assert after["again"].set_aside_at is None and after["again"].sent_at is None  # the relay takes it again
    assert "gone" not in after and "sent" in after  # only a set-aside row is discarded
    assert [r.id for r in outbox_ops.set_aside(engine)] == [ids["kept"]]


def test_the_common_step_adds_the_set_aside_columns_to_an_older_outbox(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}", "old")
    with engine.begin() as conn:  # the outbox and version table as version 0 made them before
        conn.execute(text("CREATE TABLE uise_outbox (id INTEGER PRIMARY KEY, event_id VARCHAR NOT NULL UNIQUE, "
                          "topic VARCHAR NOT NULL, key VARCHAR NOT NULL, headers VARCHAR NOT NULL, "
                          "body VARCHAR NOT NULL, created_at DATETIME NOT NULL, sent_at DATETIME)"))
        conn.execute(text("CREATE TABLE uise_processed_event (event_id VARCHAR PRIMARY KEY, topic VARCHAR NOT NULL, "
                          "processed_at DATETIME NOT NULL)"))
        conn.execute(text("CREATE TABLE uise_schema_migration (version INTEGER PRIMARY KEY, name VARCHAR NOT NULL, "
                          "applied_at DATETIME NOT NULL)"))
        conn.execute(text("INSERT INTO uise_schema_migration VALUES (0, 'outbox and processed events', '2026-01-01')"))
    assert migrate(engine, with_common([])) == [1_000_001, 1_000_002]
    assert {"set_aside_at", "set_aside_reason"} <= {c["name"] for c in inspect(engine).get_columns("uise_outbox")}
    assert migrate(engine, with_common([])) == []
