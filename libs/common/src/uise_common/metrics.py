"""Prometheus metrics of a UISE process, served at its `/metrics`.

The names in `CATALOGUE` are a contract: the alert rules and dashboard in infra/monitoring and the
autoscalers in infra/ query them, and tests/deploy/test_monitoring.py fails when anything under
infra/ names a `uise_…` metric that is not defined here.

Two kinds of figures:
- counted as things happen, through small hooks: a consumer's messages by outcome and its
  processing time (`consuming`, `consumed` in consumer.py), the outbox relay's publishes
  (`published` in outbox.py), HTTP requests by route template and status (`HttpMetrics`);
- measured at each scrape: consumer lag (from the aiokafka consumers FastStream holds), the outbox
  backlog (one query), and the gauges a service counts from its own tables (`ServiceSpec.gauges`,
  e.g. intake's submissions by state).

Each runtime has its own CollectorRegistry: several live in one process when the OpenAPI
generator builds every service's app, and each must show only its own figures. The hooks find a
runner's or relay's registry through `attach`; an object never attached (a unit test's runner)
counts nothing.
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from fastapi.responses import Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import Engine, func, select
from sqlmodel import Session

log = logging.getLogger(__name__)

# `<name>_created` series double every counter and histogram and nothing here reads them.
disable_created_metrics()


@dataclass(frozen=True)
class MetricName:
    name: str
    kind: str  # counter | gauge | histogram
    labels: tuple[str, ...]
    help: str


CONSUMER_MESSAGES = MetricName(
    "uise_consumer_messages_total", "counter", ("service", "topic", "outcome"),
    "Messages a consumer handled, by outcome: received, processed, duplicate (seen before), "
    "failed (an attempt that raised; retried), dead_lettered")
CONSUMER_SECONDS = MetricName(
    "uise_consumer_processing_seconds", "histogram", ("service", "topic"),
    "Time from a message's arrival at its handler to its last outcome, retries included (a "
    "batch's time shared among its messages)")
CONSUMER_LAG = MetricName(
    "uise_consumer_lag", "gauge", ("service", "topic"),
    "Messages behind the high watermark, summed over the partitions this process is assigned")
CONSUMER_WAITING = MetricName(
    "uise_consumer_waiting_seconds", "gauge", ("service", "topic"),
    "How long the message a consumer retries on a transient failure (an outage, a read model "
    "behind) has been failing; its partition waits meanwhile. 0 when it waits on nothing")
OUTBOX_BACKLOG = MetricName(
    "uise_outbox_backlog", "gauge", ("service",), "Outbox rows waiting to be published (set-aside rows not included)")
OUTBOX_OLDEST = MetricName(
    "uise_outbox_oldest_unsent_seconds", "gauge", ("service",),
    "Age of the oldest outbox row waiting to be published (0 when none)")
OUTBOX_SET_ASIDE = MetricName(
    "uise_outbox_set_aside", "gauge", ("service",),
    "Outbox rows the broker refused for good (size, corrupt record), set aside until ops requeue or "
    "discard them (uise-outbox)")
OUTBOX_PUBLISHED = MetricName(
    "uise_outbox_published_total", "counter", ("service", "topic"),
    "Outbox rows the relay published (acknowledged by Kafka)")
HTTP_REQUESTS = MetricName(
    "uise_http_requests_total", "counter", ("service", "method", "route", "status"),
    "HTTP requests answered, by route template (never the raw path) and status")
HTTP_SECONDS = MetricName(
    "uise_http_request_duration_seconds", "histogram", ("service", "method", "route"),
    "Time to answer an HTTP request, by route template")
SUBMISSIONS = MetricName(
    "uise_submissions", "gauge", ("state",), "Intake's submissions by state, counted at scrape")
VIOLATIONS = MetricName(
    "uise_violations", "gauge", ("kind",), "The deadline service's violations by kind, counted at scrape")

CATALOGUE: dict[str, MetricName] = {m.name: m for m in (
    CONSUMER_MESSAGES, CONSUMER_SECONDS, CONSUMER_LAG, CONSUMER_WAITING, OUTBOX_BACKLOG, OUTBOX_OLDEST,
    OUTBOX_SET_ASIDE, OUTBOX_PUBLISHED,
    HTTP_REQUESTS, HTTP_SECONDS, SUBMISSIONS, VIOLATIONS)}
OUTCOMES = ("received", "processed", "duplicate", "failed", "dead_lettered")
HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")

# Seconds; signature's full check of a 20 MB workbook takes tens of seconds.
_PROCESSING_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)
_HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.5, 5.0, 10.0, 30.0)
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# Probes and scrapes come every few seconds from every orchestrator: counting them would drown
# the request rate intake scales on.
OPS_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})

# A service's own gauges: {metric: count(session) -> {label value: value}} (ServiceSpec.gauges).
CountedGauges = dict[MetricName, Callable[[Session], dict[str, float]]]


def _counter(m: MetricName, registry: CollectorRegistry) -> Counter:
    return Counter(m.name.removesuffix("_total"), m.help, m.labels, registry=registry)


class ServiceMetrics:
    """The metrics of one runtime (one service in one process) and its registry."""

    def __init__(self, service: str, *, engine: Engine | None = None, broker: Any = None,
                 gauges: CountedGauges | None = None) -> None:
        self.service = service
        self.engine = engine
        self.broker = broker
        self.gauges = dict(gauges or {})
        for m in self.gauges:
            if CATALOGUE.get(m.name) != m or m.kind != "gauge" or len(m.labels) != 1:
                raise ValueError(f"{m.name}: counted gauges are catalogued gauges with one label")
        self.registry = CollectorRegistry(auto_describe=False)
        self.messages = _counter(CONSUMER_MESSAGES, self.registry)
        self.processing = Histogram(CONSUMER_SECONDS.name, CONSUMER_SECONDS.help, CONSUMER_SECONDS.labels,
                                    buckets=_PROCESSING_BUCKETS, registry=self.registry)
        self.published = _counter(OUTBOX_PUBLISHED, self.registry)
        self.requests = _counter(HTTP_REQUESTS, self.registry)
        self.request_seconds = Histogram(HTTP_SECONDS.name, HTTP_SECONDS.help, HTTP_SECONDS.labels,
                                         buckets=_HTTP_BUCKETS, registry=self.registry)
        self.lag: dict[str, int] = {}  # topic -> messages behind, as of the last refresh
        self.runners: list[Any] = []  # the consumer runners attached, asked at scrape how long they wait
        self.registry.register(_AtScrape(self))

    # --- measured at scrape ------------------------------------------------------------------

    async def render(self) -> bytes:
        """The exposition text: lag is read from the consumers on the event loop (where they
        live), the database figures in a worker thread."""
        await self.refresh_lag()
        return await asyncio.to_thread(generate_latest, self.registry)

    async def refresh_lag(self) -> None:
        if self.broker is None:
            return
        lag: dict[str, int] = {}
        for subscriber in list(getattr(self.broker, "subscribers", ())):
            for topic in getattr(subscriber, "topic_names_for_subscribe", ()) or ():
                lag.setdefault(topic, 0)  # nothing assigned here: this process is 0 behind
            for consumer in _kafka_consumers(subscriber):
                for tp, behind in (await _behind(consumer)).items():
                    lag[tp.topic] = lag.get(tp.topic, 0) + behind
        self.lag = lag

    def outbox_figures(self, session: Session) -> tuple[int, float, int]:
        """Rows waiting, the age of the oldest of them, and rows set aside: one query."""
        from uise_common.outbox import OutboxRow  # outbox.py imports this module

        waiting = OutboxRow.set_aside_at.is_(None)
        count, oldest, aside = session.execute(
            select(func.count().filter(waiting), func.min(OutboxRow.created_at).filter(waiting),
                   func.count().filter(OutboxRow.set_aside_at.is_not(None)))
            .where(OutboxRow.sent_at.is_(None))
        ).one()
        if oldest is None:
            return int(count), 0.0, int(aside)
        if oldest.tzinfo is None:  # SQLite hands back what was stored (UTC) without its zone
            oldest = oldest.replace(tzinfo=UTC)
        return int(count), max((datetime.now(UTC) - oldest).total_seconds(), 0.0), int(aside)


async def _behind(consumer: Any) -> dict[Any, int]:
    """highwater - position per assigned partition whose highwater is known (it comes with fetch
    responses, so not before the first). Position is the next offset handed to the handler."""
    out = {}
    try:
        assigned = list(consumer.assignment())
    except Exception:  # not started, or stopping
        return out
    for tp in assigned:
        high = consumer.highwater(tp)
        if high is None:
            continue
        try:
            position = await asyncio.wait_for(consumer.position(tp), 1.0)
        except Exception:  # being rebalanced away, or no position yet
            continue
        out[tp] = max(high - position, 0)
    return out


def _kafka_consumers(subscriber: Any) -> list[Any]:
    """The aiokafka consumers behind a FastStream subscriber (one, or a concurrent subgroup)."""
    group = getattr(subscriber, "consumer_subgroup", None)
    if group:
        return list(group)
    consumer = getattr(subscriber, "consumer", None)
    return [consumer] if consumer is not None else []


class _AtScrape(Collector):
    def __init__(self, metrics: ServiceMetrics) -> None:
        self.m = metrics

    def collect(self) -> Iterator[GaugeMetricFamily]:
        m = self.m
        if m.broker is not None:
            lag = GaugeMetricFamily(CONSUMER_LAG.name, CONSUMER_LAG.help, labels=CONSUMER_LAG.labels)
            for topic, behind in sorted(m.lag.items()):
                lag.add_metric([m.service, topic], behind)
            yield lag
        if m.runners:
            waiting = GaugeMetricFamily(CONSUMER_WAITING.name, CONSUMER_WAITING.help, labels=CONSUMER_WAITING.labels)
            for runner in m.runners:
                waiting.add_metric([m.service, runner.topic.name], runner.waiting_seconds())
            yield waiting
        if m.engine is None:
            return
        try:
            with Session(m.engine) as session:
                backlog, oldest, aside = m.outbox_figures(session)
                counted = {g: count(session) for g, count in m.gauges.items()}
        except Exception as exc:  # the database is down: /readyz says so; serve the rest
            log.warning("metrics: the database did not answer", extra={"error": repr(exc)})
            return
        for spec, value in ((OUTBOX_BACKLOG, backlog), (OUTBOX_OLDEST, oldest), (OUTBOX_SET_ASIDE, aside)):
            family = GaugeMetricFamily(spec.name, spec.help, labels=spec.labels)
            family.add_metric([m.service], value)
            yield family
        for spec, values in counted.items():
            family = GaugeMetricFamily(spec.name, spec.help, labels=spec.labels)
            for label, value in sorted(values.items()):
                family.add_metric([label], value)
            yield family


# --- hooks for the consumer runner and the outbox relay ---------------------------------------

class _Owner:
    """A runner's or relay's series, looked up once (a label lookup takes a lock and a hash)."""

    def __init__(self, metrics: ServiceMetrics, topic: str | None) -> None:
        self.m = metrics
        self.topic = topic
        if topic is not None:
            self.outcomes = {o: metrics.messages.labels(metrics.service, topic, o) for o in OUTCOMES}
            self.processing = metrics.processing.labels(metrics.service, topic)
        self.published: dict[str, Any] = {}


_OWNERS: weakref.WeakKeyDictionary[Any, _Owner] = weakref.WeakKeyDictionary()


def attach(owner: Any, metrics: ServiceMetrics, topic: str | None = None) -> None:
    """Count what `owner` (a consumer runner of `topic`, an outbox relay) reports in `metrics`."""
    _OWNERS[owner] = _Owner(metrics, topic)
    if topic is not None:
        metrics.runners.append(owner)


@contextmanager
def consuming(runner: Any, n: int = 1) -> Iterator[None]:
    """Around a runner's call with `n` messages (a poll's batch): received, and the processing
    time, the call's shared equally among them."""
    found = _OWNERS.get(runner)
    if found is None:
        yield
        return
    found.outcomes["received"].inc(n)
    started = time.perf_counter()
    try:
        yield
    finally:
        each = (time.perf_counter() - started) / max(n, 1)
        for _ in range(n):
            found.processing.observe(each)


def consumed(runner: Any, outcome: str, n: int = 1) -> None:
    """A runner's message ended in `outcome` (processed, duplicate, dead_lettered) or an attempt
    at it failed (failed)."""
    found = _OWNERS.get(runner)
    if found is not None:
        found.outcomes[outcome].inc(n)


def published(relay: Any, topics: Iterable[str]) -> None:
    """The relay published a row to each of `topics` (acknowledged by Kafka)."""
    found = _OWNERS.get(relay)
    if found is None:
        return
    for topic in topics:
        series = found.published.get(topic)
        if series is None:
            series = found.published[topic] = found.m.published.labels(found.m.service, topic)
        series.inc()


# --- HTTP -------------------------------------------------------------------------------------

class HttpMetrics:
    """ASGI middleware: requests by method, route template and status, and their duration. The
    template (`/v1/submissions/{submission_id}`) keeps identifiers, an IIN among them, out of the
    labels and the series count bounded; a path no route matched is `unmatched`."""

    def __init__(self, app: Any, metrics: ServiceMetrics) -> None:
        self.app = app
        self.m = metrics

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] in OPS_PATHS:
            await self.app(scope, receive, send)
            return
        status = 500  # what the server answers when the app raises

        async def send_and_note(message: dict) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        started = time.perf_counter()
        try:
            await self.app(scope, receive, send_and_note)
        finally:
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            method = scope["method"] if scope["method"] in _METHODS else "other"
            m = self.m
            m.requests.labels(m.service, method, route, str(status)).inc()
            m.request_seconds.labels(m.service, method, route).observe(time.perf_counter() - started)


def install(app: Any, metrics: ServiceMetrics, **route: Any) -> None:
    """The middleware and `GET /metrics` on a FastAPI app; `route` goes to the route (tags, the
    access policy's dependency, include_in_schema)."""
    app.add_middleware(HttpMetrics, metrics=metrics)

    @app.get("/metrics", response_class=Response, summary="Prometheus metrics",
             responses={200: {"description": "Prometheus's text format", "content": {"text/plain": {}}}},
             **route)
    async def prometheus_metrics() -> Response:
        return Response(await metrics.render(), media_type=CONTENT_TYPE_LATEST)
