"""Dead-letter tool: list what a DLQ holds, show one message, re-drive to the topic they came
from all of them or those selected, and discard those that must never be re-driven, with a reason.

    uise-dlq list    uise.submission.received.v1.dlq [--group G] [--error-type T]
                                                     [--older-than 2h] [--newer-than 30m] [--discarded]
    uise-dlq show    uise.submission.received.v1.dlq OFFSET
    uise-dlq redrive uise.submission.received.v1.dlq [--offset N ...] [the list's filters]
    uise-dlq discard uise.submission.received.v1.dlq [OFFSET] --reason TEXT [--offset N ...] [the list's filters]

Without a selection, `redrive` goes on from where the last one stopped (its consumer group's
position) and re-drives everything after it; with one (offsets or filters), it reads the whole
DLQ and re-drives only what is selected, moving no position. Re-driving a message twice is
harmless: consumers skip an event id they processed.

`discard` needs a selection and a reason. It deletes nothing (Kafka cannot delete one record):
it appends to `<dlq>.discarded`, kept for good, one audit record per message saying which one,
why, who (`--by`, default the login name, and the Kafka principal) and when. `list` and
`redrive` leave discarded messages out; `list --discarded` shows only them, with their audit.

On a secured cluster it needs the admin's credentials (it reads every DLQ and republishes to any
topic): the same UISE_KAFKA_* settings as the services, e.g. inside the kafka-init container.

Every consumer of a topic may write that topic's DLQ, so a DLQ record proves nothing by itself.
A re-drive republishes a record only when it is a faithful copy of the record its headers point
to (x-original-topic/-partition/-offset, on the topic this DLQ belongs to: same key, value and
CloudEvents headers). Only the topic's producers can have written that original, so the admin's
re-drive cannot carry a consumer's forgery, say a `submission.accepted`, onto a topic that
consumer may not write. Records that fail the check are listed as refused and left alone (exit
status 1).
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import re
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError
from faststream.kafka.security import parse_security
from faststream.security import BaseSecurity

from uise_common.broker import kafka_security
from uise_common.settings import Settings
from uise_contracts.topics import TOPICS

DLQ_GROUP = "uise-dlq-redrive"
COMMANDS = ("list", "show", "redrive", "discard")
# The dead-lettering's headers a list row shows (uise_common.consumer, uise_common.failures);
# a re-drive strips every x- header.
X_HEADERS = ("x-original-topic", "x-original-partition", "x-original-offset", "x-consumer-group",
             "x-error-type", "x-error-message", "x-attempts", "x-failure", "x-error-types", "x-first-failure-at")


@dataclass(frozen=True)
class Selection:
    """Which DLQ messages a command is about; empty selects all."""

    offsets: frozenset[int] = field(default_factory=frozenset)
    group: str | None = None
    error_type: str | None = None
    older_than: float | None = None  # seconds since dead-lettering
    newer_than: float | None = None

    def __bool__(self) -> bool:
        return bool(self.offsets) or any(v is not None for v in (self.group, self.error_type, self.older_than,
                                                                 self.newer_than))

    def admits(self, record: Any, now_ms: int) -> bool:
        headers = _headers(record)
        age = (now_ms - record.timestamp) / 1000
        return ((not self.offsets or record.offset in self.offsets)
                and (self.group is None or headers.get("x-consumer-group") == self.group)
                and (self.error_type is None or headers.get("x-error-type") == self.error_type)
                and (self.older_than is None or age >= self.older_than)
                and (self.newer_than is None or age <= self.newer_than))


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def seconds(text: str) -> float:
    """`90`, `90s`, `30m`, `2h`, `1d`."""
    found = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*", text)
    if not found:
        raise ValueError(f"{text!r}: a duration such as 90s, 30m, 2h or 1d")
    return float(found[1]) * _UNITS[found[2] or "s"]


def _headers(record: Any) -> dict[str, str]:
    return {k: v.decode("utf-8", "replace") for k, v in (record.headers or ())}


def _envelope(headers: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in headers.items() if k.startswith("ce_")}


def forgery_reason(dlq_topic: str, record: Any, original: Any | None) -> str | None:
    """Why `record` (read from `dlq_topic`) is not a faithful copy of `original`, the record its
    x-original-* headers point to (None when that record could not be read); None when it is."""
    headers = _headers(record)
    source = dlq_topic.removesuffix(".dlq")
    if headers.get("x-original-topic") != source:
        return f"x-original-topic is {headers.get('x-original-topic')!r}, not {source!r}"
    if original is None:
        return "the original record is not on the topic (removed by retention or compaction, or never there)"
    if original.key != record.key or original.value != record.value:
        return "the key or value differs from the original record"
    # The CloudEvents headers say what the event is and dedupe it; others (the trace context)
    # are rewritten on every publish, the dead-lettering one included.
    if _envelope(headers) != _envelope(_headers(original)):
        return "the CloudEvents (ce_*) headers differ from the original record"
    return None


async def _original(lookup: AIOKafkaConsumer, headers: dict[str, str], idle_ms: int) -> Any | None:
    try:
        tp = TopicPartition(headers["x-original-topic"], int(headers["x-original-partition"]))
        offset = int(headers["x-original-offset"])
    except (KeyError, ValueError):
        return None
    lookup.assign([tp])
    lookup.seek(tp, offset)
    batch = await lookup.getmany(tp, timeout_ms=idle_ms, max_records=1)
    return next((r for r in batch.get(tp, []) if r.offset == offset), None)


def _login() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # a container's user with no name
        return "unknown"


def discard_topic(dlq_topic: str) -> str:
    """Where the audit of `dlq_topic`'s discarded messages is kept."""
    return f"{dlq_topic}.discarded"


async def depths(bootstrap: str, security: BaseSecurity | None = None) -> dict[str, int]:
    """{DLQ topic: how many messages it holds} for every contract topic's DLQ, from the
    partitions' offsets alone (no message read, no idle wait): what to `list` first."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, **parse_security(security))
    await consumer.start()
    try:
        partitions = [TopicPartition(t.dlq, 0) for t in TOPICS]  # a DLQ has one partition
        first, end = await consumer.beginning_offsets(partitions), await consumer.end_offsets(partitions)
        return {tp.topic: end[tp] - first[tp] for tp in partitions}
    finally:
        await consumer.stop()


async def discarded(bootstrap: str, dlq_topic: str, security: BaseSecurity | None = None) -> dict[int, dict]:
    """{DLQ offset: its discard's audit record} (the first, if discarded twice); empty when
    nothing was ever discarded. Read to the end offset, so it waits for no idle timeout."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, **parse_security(security))
    await consumer.start()
    try:
        if discard_topic(dlq_topic) not in await consumer.topics():
            return {}
        tp = TopicPartition(discard_topic(dlq_topic), 0)
        consumer.assign([tp])
        await consumer.seek_to_beginning(tp)
        end = (await consumer.end_offsets([tp]))[tp]
        out: dict[int, dict] = {}
        while await consumer.position(tp) < end:
            for records in (await consumer.getmany(tp, timeout_ms=2000)).values():
                for r in records:
                    audit = json.loads(r.value)
                    out.setdefault(int(audit["offset"]), audit)
        return out
    finally:
        await consumer.stop()


async def drain(bootstrap: str, dlq_topic: str, redrive: bool, idle_ms: int = 2000,
                security: BaseSecurity | None = None, select: Selection = Selection(),
                show_discarded: bool = False) -> list[dict]:
    """Read the DLQ (from the re-drive group's position when re-driving everything, else from
    its start) and keep what `select` admits and nobody discarded (with `show_discarded`, only
    what was discarded, each row with its `discarded` audit); with `redrive`, republish each
    faithful copy (see the module's doc) to its original topic without the x- headers
    (committing the group's position after each when there is no selection). Each row says
    what was read, and `refused` why a record was not re-driven."""
    gone = await discarded(bootstrap, dlq_topic, security)
    options = parse_security(security)
    grouped = redrive and not select
    consumer = AIOKafkaConsumer(dlq_topic, bootstrap_servers=bootstrap, group_id=DLQ_GROUP if grouped else None,
                                enable_auto_commit=False, auto_offset_reset="earliest", **options)
    lookup = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                              auto_offset_reset="none", **options) if redrive else None
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", **options) if redrive else None
    await consumer.start()
    if lookup and producer:
        await lookup.start()
        await producer.start()
    seen: list[dict] = []
    try:
        while True:
            batch = await consumer.getmany(timeout_ms=idle_ms)
            if not batch:
                break
            now_ms = int(time.time() * 1000)
            for records in batch.values():
                for r in records:
                    if not select.admits(r, now_ms) or (r.offset in gone) != show_discarded:
                        continue
                    headers = _headers(r)
                    row = {"offset": r.offset, "age_s": round((now_ms - r.timestamp) / 1000),
                           **{k: headers.get(k) for k in X_HEADERS}}
                    if show_discarded:
                        row["discarded"] = {k: gone[r.offset].get(k) for k in ("reason", "by", "principal", "at")}
                    seen.append(row)
                    if not (lookup and producer):
                        continue
                    try:
                        original = await _original(lookup, headers, idle_ms)
                    except KafkaError:  # e.g. the offset is out of range: no longer there
                        original = None
                    reason = forgery_reason(dlq_topic, r, original)
                    if reason:
                        row["refused"] = reason
                        continue
                    keep = [(k, v.encode()) for k, v in headers.items() if not k.startswith("x-")]
                    await producer.send_and_wait(headers["x-original-topic"], r.value, key=r.key, headers=keep)
                    row["redriven"] = True
                    if grouped:
                        await consumer.commit()
    finally:
        await consumer.stop()
        if lookup and producer:
            await lookup.stop()
            await producer.stop()
    return seen


async def discard(bootstrap: str, dlq_topic: str, select: Selection, reason: str, by: str,
                  principal: str | None = None, idle_ms: int = 2000,
                  security: BaseSecurity | None = None) -> list[dict]:
    """Discard what `select` admits of the DLQ (never everything: a selection is required), each
    with an audit record on `<dlq>.discarded`; the rows of the messages discarded now."""
    if not select:
        raise ValueError("discard needs a selection: an offset, or the list's filters")
    if not reason.strip():
        raise ValueError("discard needs a reason")
    rows = await drain(bootstrap, dlq_topic, False, idle_ms, security, select)
    if not rows:
        return []
    options = parse_security(security)
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10_000, **options)
    await admin.start()
    try:  # kept for good: the audit outlives the DLQ's own retention
        await admin.create_topics([NewTopic(discard_topic(dlq_topic), 1, 1,
                                            topic_configs={"cleanup.policy": "delete", "retention.ms": "-1"})])
    except TopicAlreadyExistsError:
        pass
    finally:
        await admin.close()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", **options)
    await producer.start()
    try:
        at = datetime.now(UTC).isoformat()
        for row in rows:
            audit = {"dlq_topic": dlq_topic, "offset": row["offset"], "reason": reason.strip(), "by": by,
                     "principal": principal, "at": at,
                     **{k: row.get(k) for k in ("x-original-topic", "x-original-offset", "x-consumer-group",
                                                "x-error-type")}}
            await producer.send_and_wait(discard_topic(dlq_topic), json.dumps(audit, ensure_ascii=False).encode(),
                                         key=str(row["offset"]).encode(), partition=0)
            row["discarded"] = {k: audit[k] for k in ("reason", "by", "principal", "at")}
    finally:
        await producer.stop()
    return rows


async def show(bootstrap: str, dlq_topic: str, offset: int, idle_ms: int = 2000,
               security: BaseSecurity | None = None) -> dict | None:
    """One DLQ message whole: its headers (the x- ones say where it came from and why) and body."""
    consumer = AIOKafkaConsumer(dlq_topic, bootstrap_servers=bootstrap, enable_auto_commit=False,
                                auto_offset_reset="earliest", **parse_security(security))
    await consumer.start()
    try:
        while batch := await consumer.getmany(timeout_ms=idle_ms):
            for records in batch.values():
                for r in records:
                    if r.offset == offset:
                        return {"offset": r.offset, "partition": r.partition, "timestamp_ms": r.timestamp,
                                "key": (r.key or b"").decode("utf-8", "replace"), "headers": _headers(r),
                                "body": (r.value or b"").decode("utf-8", "replace")}
        return None
    finally:
        await consumer.stop()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="uise-dlq", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("command", choices=COMMANDS)
    p.add_argument("topic", help="a .dlq topic")
    p.add_argument("offset_to_show", nargs="?", type=int, help="show, discard: the message's offset")
    p.add_argument("--offset", type=int, action="append", default=[],
                   help="redrive/list/discard: only this offset (repeat)")
    p.add_argument("--group", help="only messages dead-lettered by this consumer group")
    p.add_argument("--error-type", help="only this x-error-type (e.g. Malformed, NotYetKnown)")
    p.add_argument("--older-than", type=seconds, help="only messages dead-lettered at least this long ago (30m, 2h)")
    p.add_argument("--newer-than", type=seconds, help="only messages dead-lettered at most this long ago")
    p.add_argument("--discarded", action="store_true", help="list: only the discarded messages, with why, who and when")
    p.add_argument("--reason", help="discard: why (required; kept in the audit)")
    p.add_argument("--by", default=_login(), help="discard: who (default: the login name)")
    settings = Settings()
    p.add_argument("--bootstrap", default=settings.kafka_bootstrap)
    args = p.parse_args(argv)
    if not args.topic.endswith(".dlq"):
        print("the topic must be a dead-letter topic (<topic>.dlq)", file=sys.stderr)
        return 2
    security = kafka_security(settings)
    if args.command == "show":
        if args.offset_to_show is None:
            print("show: give the message's offset (from `uise-dlq list`)", file=sys.stderr)
            return 2
        message = asyncio.run(show(args.bootstrap, args.topic, args.offset_to_show, security=security))
        if message is None:
            print(f"no message at offset {args.offset_to_show} on {args.topic}", file=sys.stderr)
            return 1
        print(json.dumps(message, ensure_ascii=False, indent=2))
        return 0
    offsets = {*args.offset, *([args.offset_to_show] if args.offset_to_show is not None else [])}
    select = Selection(frozenset(offsets), args.group, args.error_type, args.older_than, args.newer_than)
    if args.command == "discard":
        if not select or not (args.reason or "").strip():
            print("discard: give what (an offset, or the list's filters) and why (--reason)", file=sys.stderr)
            return 2
        rows = asyncio.run(discard(args.bootstrap, args.topic, select, args.reason, args.by,
                                   settings.kafka_username, security=security))
        for row in rows:
            print(row)
        print(f"{len(rows)} message(s) discarded")
        return 0
    rows = asyncio.run(drain(args.bootstrap, args.topic, args.command == "redrive", security=security,
                             select=select, show_discarded=args.discarded and args.command == "list"))
    for row in rows:
        print(row)
    refused = sum(1 for row in rows if "refused" in row)
    if args.command == "redrive":
        print(f"{len(rows) - refused} message(s) re-driven, {refused} refused")
        return 1 if refused else 0
    print(f"{len(rows)} message(s) listed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
