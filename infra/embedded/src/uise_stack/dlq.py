"""Dead-letter tool: list what a DLQ holds and re-drive it to the topic it came from.

    uise-dlq list uise.submission.received.v1.dlq
    uise-dlq redrive uise.submission.received.v1.dlq

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
import sys
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import KafkaError
from faststream.kafka.security import parse_security
from faststream.security import BaseSecurity

from uise_common.broker import kafka_security
from uise_common.settings import Settings

DLQ_GROUP = "uise-dlq-redrive"
X_HEADERS = ("x-original-topic", "x-original-partition", "x-original-offset", "x-consumer-group",
             "x-error-type", "x-error-message", "x-attempts")


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


async def drain(bootstrap: str, dlq_topic: str, redrive: bool, idle_ms: int = 2000,
                security: BaseSecurity | None = None) -> list[dict]:
    """Read the DLQ from the re-drive group's position; with `redrive`, republish each faithful
    copy (see the module's doc) to its original topic without the x- headers and commit after
    each publish. Each row says what was read, and `refused` why a record was not re-driven."""
    options = parse_security(security)
    consumer = AIOKafkaConsumer(dlq_topic, bootstrap_servers=bootstrap, group_id=DLQ_GROUP if redrive else None,
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
            for records in batch.values():
                for r in records:
                    headers = _headers(r)
                    row = {"offset": r.offset, **{k: headers.get(k) for k in X_HEADERS}}
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
                    keep = [(k, v.encode()) for k, v in headers.items() if k not in X_HEADERS]
                    await producer.send_and_wait(headers["x-original-topic"], r.value, key=r.key, headers=keep)
                    await consumer.commit()
    finally:
        await consumer.stop()
        if lookup and producer:
            await lookup.stop()
            await producer.stop()
    return seen


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="uise-dlq", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("command", choices=["list", "redrive"])
    p.add_argument("topic", help="a .dlq topic")
    settings = Settings()
    p.add_argument("--bootstrap", default=settings.kafka_bootstrap)
    args = p.parse_args(argv)
    if not args.topic.endswith(".dlq"):
        print("the topic must be a dead-letter topic (<topic>.dlq)", file=sys.stderr)
        return 2
    rows = asyncio.run(drain(args.bootstrap, args.topic, args.command == "redrive",
                             security=kafka_security(settings)))
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
