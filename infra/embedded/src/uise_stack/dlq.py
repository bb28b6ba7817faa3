"""Dead-letter tool: list what a DLQ holds and re-drive it to the topic it came from.

    uise-dlq list uise.submission.received.v1.dlq
    uise-dlq redrive uise.submission.received.v1.dlq
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from uise_common.settings import Settings

DLQ_GROUP = "uise-dlq-redrive"
X_HEADERS = ("x-original-topic", "x-original-partition", "x-original-offset", "x-consumer-group",
             "x-error-type", "x-error-message", "x-attempts")


async def drain(bootstrap: str, dlq_topic: str, redrive: bool, idle_ms: int = 2000) -> list[dict]:
    """Read the DLQ from the re-drive group's position; with `redrive`, republish each message to
    its original topic (without the x- headers) and commit after each publish."""
    consumer = AIOKafkaConsumer(dlq_topic, bootstrap_servers=bootstrap, group_id=DLQ_GROUP if redrive else None,
                                enable_auto_commit=False, auto_offset_reset="earliest")
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all") if redrive else None
    await consumer.start()
    if producer:
        await producer.start()
    seen: list[dict] = []
    try:
        while True:
            batch = await consumer.getmany(timeout_ms=idle_ms)
            if not batch:
                break
            for records in batch.values():
                for r in records:
                    headers = {k: v.decode() for k, v in r.headers}
                    seen.append({"offset": r.offset, **{k: headers.get(k) for k in X_HEADERS}})
                    if producer:
                        original = headers["x-original-topic"]
                        keep = [(k, v.encode()) for k, v in headers.items() if k not in X_HEADERS]
                        await producer.send_and_wait(original, r.value, key=r.key, headers=keep)
                        await consumer.commit()
    finally:
        await consumer.stop()
        if producer:
            await producer.stop()
    return seen


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="uise-dlq", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("command", choices=["list", "redrive"])
    p.add_argument("topic", help="a .dlq topic")
    p.add_argument("--bootstrap", default=Settings().kafka_bootstrap)
    args = p.parse_args(argv)
    if not args.topic.endswith(".dlq"):
        print("the topic must be a dead-letter topic (<topic>.dlq)", file=sys.stderr)
        return 2
    rows = asyncio.run(drain(args.bootstrap, args.topic, args.command == "redrive"))
    for row in rows:
        print(row)
    print(f"{len(rows)} message(s) {'re-driven' if args.command == 'redrive' else 'listed'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
