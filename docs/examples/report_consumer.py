#!/usr/bin/env python3
"""An example consumer of UISE's `report.published` events, for another ministry's system.

It is deliberately not UISE code: only confluent-kafka (librdkafka) and the standard library. It
subscribes to `uise.report.published.v1` in its own consumer group, reads the CloudEvents
binary-mode headers, fetches each document of each report version by its signed link (asking for
fresh links when they have expired, given a token), checks every document's SHA-256 and size
against the event, and prints one line per report. Offsets are committed only after a report has
been handled, so a crash re-delivers it (handle reports idempotently: by report_id and version).

    pip install confluent-kafka
    python report_consumer.py --bootstrap kafka.uise.example:9092 --group minfin-reports \\
        --username minfin --password '…' --security-protocol SASL_SSL

See docs/integrators.md for the contract, the signature check and replaying from the beginning.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field

from confluent_kafka import Consumer, KafkaError, KafkaException

TOPIC = "uise.report.published.v1"
CE_TYPE = "kz.edu.uise.report.published.v1"


def consumer_config(bootstrap: str, group: str, *, username: str | None = None, password: str | None = None,
                    security_protocol: str | None = None, mechanism: str = "SCRAM-SHA-512",
                    ca_location: str | None = None, from_beginning: bool = True) -> dict:
    """librdkafka settings: your own group; SCRAM credentials when the broker asks for them."""
    config = {
        "bootstrap.servers": bootstrap,
        "group.id": group,
        # A new group starts at the oldest event still retained (replay); an existing group
        # resumes where it committed.
        "auto.offset.reset": "earliest" if from_beginning else "latest",
        "enable.auto.commit": False,  # commit after handling: at-least-once
        "isolation.level": "read_committed",
    }
    if username:
        config.update({"security.protocol": security_protocol or "SASL_SSL", "sasl.mechanism": mechanism,
                       "sasl.username": username, "sasl.password": password or ""})
        if ca_location:
            config["ssl.ca.location"] = ca_location
    elif security_protocol:
        config["security.protocol"] = security_protocol
    return config


def cloud_event(headers: list[tuple[str, bytes | None]] | None) -> dict[str, str]:
    """The CloudEvents attributes of a binary-mode Kafka message: `ce_id` -> `id`, …; `traceparent`
    and `content-type` as they are."""
    out: dict[str, str] = {}
    for name, value in headers or []:
        text = value.decode("utf-8") if value is not None else ""
        if name.startswith("ce_"):
            out[name[3:]] = text
        elif name in ("traceparent", "tracestate", "content-type"):
            out[name] = text
    return out


class DocumentError(Exception):
    """A document that could not be fetched, or whose bytes are not the ones the event announced."""


@dataclass
class Fetcher:
    """Downloads a document by its signed link; on 410 (the link expired, e.g. when replaying old
    events) asks the reporting API for fresh links, which needs a bearer token of an integrator."""

    token: str | None = None
    timeout: float = 30.0
    refreshed: dict[str, dict] = field(default_factory=dict)

    def get(self, url: str) -> bytes:
        with urllib.request.urlopen(urllib.request.Request(url), timeout=self.timeout) as resp:  # noqa: S310
            return resp.read()

    def fresh_links(self, url: str) -> dict:
        # …/v1/reports/{report_id}/{version}/document.{fmt}?… -> …/v1/reports/{report_id}/{version}/links
        base = url.split("?", 1)[0].rsplit("/", 1)[0] + "/links"
        if base not in self.refreshed:
            req = urllib.request.Request(base, method="POST", data=b"",
                                         headers={"Authorization": f"Bearer {self.token}"})
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:  # noqa: S310
                self.refreshed[base] = json.load(resp)["documents"]
        return self.refreshed[base]

    def document(self, fmt: str, doc: dict) -> bytes:
        try:
            return self.get(doc["url"])
        except urllib.error.HTTPError as exc:
            if exc.code != 410 or not self.token:
                raise DocumentError(f"{fmt}: HTTP {exc.code} {exc.read()[:200]!r}") from exc
        return self.get(self.fresh_links(doc["url"])[fmt]["url"])


def verified(fmt: str, doc: dict, data: bytes) -> bytes:
    digest = hashlib.sha256(data).hexdigest()
    if digest != doc["sha256"] or len(data) != doc["size"]:
        raise DocumentError(f"{fmt}: sha256 {digest} / {len(data)} bytes, the event says {doc['sha256']} / {doc['size']}")
    return data


@dataclass
class Report:
    """What this example keeps of one report version."""

    event: dict[str, str]  # CloudEvents attributes
    body: dict
    documents: dict[str, bytes]

    def line(self) -> str:
        b = self.body
        docs = " ".join(f"{fmt}={len(data)}B:sha256-ok" for fmt, data in sorted(self.documents.items()))
        return (f"{b['report_id']} v{b.get('version')} {b.get('status') or '-'} level={b.get('level') or '-'} "
                f"node={b['node_id']} form={b['form_code']} period={b['period']} {docs} (event {self.event.get('id')})")


def handle(headers, value: bytes, fetcher: Fetcher) -> Report | None:
    """One Kafka message -> a checked report, or None for an event of another type."""
    event = cloud_event(headers)
    if event.get("type") != CE_TYPE:
        return None  # a topic carries one type today; ignore what you do not know
    body = json.loads(value)
    docs = {fmt: verified(fmt, doc, fetcher.document(fmt, doc)) for fmt, doc in sorted(body.get("documents", {}).items())}
    return Report(event=event, body=body, documents=docs)


def run(consumer: Consumer, fetcher: Fetcher, on_report: Callable[[Report], None], *,
        max_reports: int | None = None, idle_seconds: float | None = None) -> int:
    """Poll until `max_reports` reports were handled, or no message came for `idle_seconds`
    (None: forever). Returns how many reports were handled."""
    handled, idle = 0, 0.0
    consumer.subscribe([TOPIC])
    while max_reports is None or handled < max_reports:
        msg = consumer.poll(1.0)
        if msg is None:
            idle += 1.0
            if idle_seconds is not None and idle >= idle_seconds:
                break
            continue
        idle = 0.0
        if msg.error():
            if msg.error().code() == KafkaError._PARTITION_EOF:
                continue
            raise KafkaException(msg.error())
        try:
            report = handle(msg.headers(), msg.value(), fetcher)
        except (DocumentError, ValueError, KeyError, OSError) as exc:
            # A real system would retry, then park the event for a person; here: say so and go on.
            print(f"offset {msg.offset()}: not handled: {exc}", file=sys.stderr)
            report = None
        if report is not None:
            on_report(report)
            handled += 1
        consumer.commit(message=msg, asynchronous=False)
    return handled


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--bootstrap", default=os.environ.get("KAFKA_BOOTSTRAP", "127.0.0.1:9092"))
    p.add_argument("--group", default=os.environ.get("KAFKA_GROUP", "example-report-consumer"))
    p.add_argument("--username", default=os.environ.get("KAFKA_USERNAME"))
    p.add_argument("--password", default=os.environ.get("KAFKA_PASSWORD"))
    p.add_argument("--security-protocol", default=os.environ.get("KAFKA_SECURITY_PROTOCOL"))
    p.add_argument("--ca-location", default=os.environ.get("KAFKA_CA_LOCATION"))
    p.add_argument("--token", default=os.environ.get("UISE_TOKEN"), help="bearer token, for fresh links")
    p.add_argument("--max-reports", type=int)
    p.add_argument("--idle-seconds", type=float)
    a = p.parse_args(argv)
    consumer = Consumer(consumer_config(a.bootstrap, a.group, username=a.username, password=a.password,
                                        security_protocol=a.security_protocol, ca_location=a.ca_location))
    try:
        run(consumer, Fetcher(token=a.token), lambda r: print(r.line(), flush=True),
            max_reports=a.max_reports, idle_seconds=a.idle_seconds)
    except KeyboardInterrupt:
        pass
    finally:
        consumer.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
