"""Deadline night on the embedded stack: how many signed submissions the whole pipeline takes to a
final state per second, where the time goes, and how that compares with what the infrastructure
alone does for the same work on the same machine.

    make bench                                   # the defaults: about 10 minutes on 2 cores today
    .venv/bin/python bench/peak.py [--submissions 200] [--schools 200] [--threads 16]
                                   [--doc-kb 100] [--half-seconds 8] [--overload-seconds 8]
                                   [--replica-submissions 60] [--replicas 2]
                                   [--database-url postgresql://user@host/db] [--json FILE] [--keep]

It starts its own embedded stack (free ports, a temporary directory, SQLite; `--database-url`
points the services at that PostgreSQL server instead, in a scratch database made for the run and
dropped after), seeds a hierarchy through the public APIs (uise_stack.campaign: one region,
`--districts` districts, `--schools` schools, each head with a GOST 34.10-2015-512 certificate of
the project's test CA, signed in with the EDS), approves the bench's forms (the campaign form
under several codes: each phase has its own, so every submission is its school's first of its
form), and prepares every submission before it is offered: an XLSX made from the form's
template, filled in with the school's figures and padded to `--doc-kb` by a preview picture as
Excel saves one, signed by the school's head (detached CMS). Then:

  a. burst: all `--submissions` offered from `--threads` client threads, each posting its next
     as soon as intake answers (round-robin over intake's replicas when there are several; a 429
     is honoured and the submission offered again). Intake's acknowledgement latency p50/p95/p99
     and acknowledgements/s; end-to-end submissions/s from the first offer to the last final
     state (the time intake recorded it); where the time goes, from the traces: every consumer's
     handler span (count, mean, and how busy it was over the phase), the time it stood idle
     between two messages while the next was already waiting (the per-message cost outside the
     handler: polling, committing), each consumer process's capacity from those two (the lowest
     bounds the pipeline), the outbox wait (handler's commit → relay's publish), the publish
     itself, and the delivery wait (published → consumer starts on it).
  b. ceiling: the same I/O done by the stack's raw infrastructure alone: S3 puts of the same
     documents and signatures and the gets the services make of them (signature reads both,
     validation the document), at the same concurrency; then Kafka: the same number and size of
     events as the pipeline produced per submission (counted and measured on the stack's own
     topics after the burst), produced pipelined (all in flight at once, as a well-built relay
     would) and consumed by as many consumer groups as each real topic has, committing once per
     batch. Ceiling submissions/s = submissions / (S3 time + Kafka time), and end-to-end / ceiling.
  d. load: open-loop offers (a crowd: each at its time, answered or not) at half the sustainable
     rate (intake's acknowledgements/s in a) for `--half-seconds`, intake p50/p99 (target: p99 <
     3x p50); then twice that rate for `--overload-seconds`: 429s counted, each must carry
     Retry-After; then intake must acknowledge again; then EVERY acknowledged submission of the run
     must reach exactly one final state (final, one terminal step in its timeline).
  c. replicas: a burst of `--replica-submissions` against the stack as it is, then the same after
     starting `--replicas` processes of intake, signature and validation (they join the consumer
     groups; the broker splits the partitions); the ratio of the two end-to-end rates (0 skips).

It prints one table (absolute figures, ratios, the machine) and writes the figures as JSON to
`--json`. Exit 1 when a check of d fails (or any acknowledged submission has no single final
state); speed itself is never judged here.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import math
import os
import platform
import random
import shutil
import signal
import statistics
import sys
import tempfile
import threading
import time
import uuid
import zipfile
from collections import Counter, defaultdict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import httpx
import openpyxl

from uise_common.pki.cms import sign
from uise_common.spreadsheets import set_value
from uise_common.telemetry import SUBMISSION_ATTR
from uise_common.testing import scratch_postgres
from uise_common.workbook import build_template, layout, read_workbook
from uise_contracts.events import FormDefinition
from uise_contracts.topics import BY_NAME
from uise_stack import client
from uise_stack.campaign import (
    Campaign,
    approve_forms,
    campaign_form,
    peer_figures,
    small_hierarchy,
)
from uise_stack.client import bearer
from uise_stack.config import StackConfig
from uise_stack.outcomes import details, final_at, single_final_state, wait_final
from uise_stack.stack import Stack
from uise_stack.traces import load_spans

REPLICATED = ("intake", "signature", "validation")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
SERIES = 41  # the hierarchy's BIN series (uise_stack.campaign.small_hierarchy)


def say(line: str = "") -> None:
    print(line, flush=True)


# --- the machine --------------------------------------------------------------------------------


def machine() -> dict:
    model = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cores": os.cpu_count(), "cpu": model, "python": platform.python_version(),
            "system": f"{platform.system()} {platform.release()}",
            # others' work on the machine skews every figure: say how busy it was
            "load_average_at_start": os.getloadavg()[1]}


# --- the documents ------------------------------------------------------------------------------


_BIN_MARK = "987654321098"  # stands for the school's BIN in the form's filled-in master copy
_VALUE_MARK = 900_000_001  # the n-th cell's value in the master copy is _VALUE_MARK + n
_THUMBNAIL_REL = "http://schemas.openxmlformats.org/package/2006/relationships/metadata/thumbnail"


class Workbooks:
    """Filled-in XLSX documents of one form for many schools, fast: the template is filled once
    with marks, then each school's copy is that master with its BIN and figures in place of the
    marks (a byte replace in the zip's XML parts), plus a preview picture (Excel's
    docProps/thumbnail.jpeg, stored: a JPEG does not deflate) of random bytes up to `size`."""

    def __init__(self, form: FormDefinition, period: str, size: int) -> None:
        self.form = form
        wb = openpyxl.load_workbook(io.BytesIO(build_template(form, participant_bin=_BIN_MARK, period=period)))
        place = layout(form)
        self.cells = [f.code for f in form.fields]
        for n, code in enumerate(self.cells):
            p = place.placement(code)
            set_value(wb[p.sheet][p.coordinate], _VALUE_MARK + n, neutralised=False)
        out = io.BytesIO()
        wb.save(out)
        with zipfile.ZipFile(io.BytesIO(out.getvalue())) as zf:
            self.parts = [(i.filename, zf.read(i)) for i in zf.infolist()]
        if _BIN_MARK.encode() not in b"".join(body for _, body in self.parts):
            raise RuntimeError("the template keeps the BIN somewhere the bench cannot put it")
        self.picture = random.Random(form.code).randbytes(max(0, size - len(out.getvalue()) - 1024))

    def make(self, participant_bin: str, values: dict) -> bytes:
        swaps = [(_BIN_MARK.encode(), participant_bin.encode())] + [
            (f"<v>{_VALUE_MARK + n}</v>".encode(), f"<v>{values[code]}</v>".encode())
            for n, code in enumerate(self.cells)]
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
            for name, body in self.parts:
                for mark, value in swaps:
                    body = body.replace(mark, value)
                if self.picture and name == "_rels/.rels":
                    body = body.replace(b"</Relationships>", (
                        f'<Relationship Id="rIdBenchThumb" Type="{_THUMBNAIL_REL}" '
                        'Target="docProps/thumbnail.jpeg"/></Relationships>').encode())
                elif self.picture and name == "[Content_Types].xml":
                    body = body.replace(b"<Default ", b'<Default Extension="jpeg" ContentType="image/jpeg"/><Default ', 1)
                zf.writestr(name, body)
            if self.picture:
                zf.writestr("docProps/thumbnail.jpeg", b"\xff\xd8\xff\xe0" + self.picture,
                            compress_type=zipfile.ZIP_STORED)
        return out.getvalue()

    def check(self, data: bytes, participant_bin: str, values: dict) -> None:
        """A copy reads back as the school's, with the reader the services use."""
        got = read_workbook(data, self.form)
        read = {k: v.text for k, v in got.values.items() if v}
        if got.participant_bin != participant_bin or read != {k: str(values[k]) for k in self.cells}:
            raise RuntimeError(f"the bench's workbook reads back wrong: {got.participant_bin} {read}")


@dataclass
class Prepared:
    """One submission ready to post: the school, the form, the signed document, its token."""
    school: str
    form_code: str
    document: bytes
    signature: bytes
    token: str


class Preparer:
    """Signed submissions for a phase's forms: school i % S of form i // S (each school at most
    once per form), signed by the school's head."""

    def __init__(self, campaign: Campaign, schools: list[str], tokens: dict[str, str], period: str, size: int):
        self.campaign, self.schools, self.tokens, self.period, self.size = campaign, schools, tokens, period, size
        districts = [u.participant_id for u in campaign.hierarchy.at("district")]
        self.district = {s: districts.index(campaign.hierarchy.units[s].parent_id) for s in schools}

    def __call__(self, forms: list[str], count: int) -> list[Prepared]:
        books = {code: Workbooks(campaign_form(code), self.period, self.size)
                 for code in forms[:math.ceil(count / len(self.schools))]}
        return [self.one(i % len(self.schools), books[forms[i // len(self.schools)]], check=i == 0)
                for i in range(count)]

    def one(self, n: int, book: Workbooks, check: bool = False) -> Prepared:
        """The n-th school's submission of `book`'s form."""
        school = self.schools[n]
        values = peer_figures(self.district[school])
        doc = book.make(school, values)
        if check:
            book.check(doc, school, values)
        signer = self.campaign.signers[school]
        return Prepared(school, book.form.code, doc, sign(doc, signer.key, signer.cert), self.tokens[school])

    def warm_up(self, form_code: str) -> Prepared:
        """The last school's submission of a form of its own: once it is final, every service
        has heard of every school and form (the registry's topics have one partition, so its
        events arrive in the order it sent them) and every consumer group is assigned."""
        return self.one(len(self.schools) - 1, Workbooks(campaign_form(form_code), self.period, self.size), True)


# --- the stack and its seed ---------------------------------------------------------------------


@contextmanager
def scratch_database(server_url: str | None) -> Iterator[str | None]:
    """A fresh PostgreSQL database on `server_url` for the run, dropped after, so a bench never
    meets an earlier run's rows. None: the services' own SQLite files."""
    if not server_url:
        yield None
        return
    with scratch_postgres("uise_bench", server_url) as url:
        yield url


@contextmanager
def bench_stack(database_url: str | None, keep: bool, broker_storage: str = "s3") -> Iterator[Stack]:
    base = Path(tempfile.mkdtemp(prefix="uise-peak-"))
    with scratch_database(database_url) as db:
        config = StackConfig.ephemeral(base, database_url=db, redis_url=None, broker_storage=broker_storage, extra_env={
            # signing in is not what is measured: one token per school lasts the whole run
            "identity": {"UISE_IDENTITY_ACCESS_TOKEN_SECONDS": "7200"}})
        stack = Stack(config)
        say(f"starting the embedded stack in {base} ({'PostgreSQL' if db else 'SQLite'}) …")
        stack.start()
        try:
            yield stack
        finally:
            stack.stop()
            if keep:
                say(f"kept the stack's directory (logs, traces, databases): {base}")
            else:
                shutil.rmtree(base, ignore_errors=True)


class Forms:
    """The bench's forms: the campaign form under the codes PEAK-<phase><n>, in one amendment of
    the year's approved list."""

    def __init__(self, year: int) -> None:
        self.year = year
        self.codes: list[str] = []

    def add(self, phase: str, count: int) -> list[str]:
        codes = [f"PEAK-{phase}{i}" for i in range(1, max(1, count) + 1)]
        self.codes += codes
        return codes

    def approve(self, registry: str) -> None:
        approve_forms(registry, self.year, [campaign_form(c) for c in self.codes], "peak")


# --- offering submissions -----------------------------------------------------------------------


@dataclass
class Offer:
    """One POST: when it left and was answered (epoch seconds), and what came back."""
    item: int
    started: float
    ended: float
    status: int
    retry_after: str | None = None
    submission_id: str | None = None
    code: str | None = None

    @property
    def latency(self) -> float:
        return self.ended - self.started


def _request(p: Prepared, period: str) -> dict:
    return dict(data={"form_code": p.form_code, "period": period}, headers=bearer(p.token),
                files={"document": ("report.xlsx", p.document, XLSX), "signature": ("report.p7s", p.signature)})


def _answer(item: int, started: float, resp: httpx.Response) -> Offer:
    body = resp.json() if resp.headers.get("content-type", "").startswith("application/json") else {}
    return Offer(item, started, time.time(), resp.status_code, resp.headers.get("Retry-After"),
                 body.get("submission_id"), (body.get("error") or {}).get("code"))


def burst(urls: list[str], items: list[Prepared], threads: int, period: str) -> tuple[list[Offer], float]:
    """Every item offered from `threads` threads, each posting its next as soon as intake answers;
    a 429 is honoured (its Retry-After) and the item offered again. Returns every answer and the
    wall-clock start."""
    offers: list[Offer] = []
    lock = threading.Lock()
    t0 = time.time()

    def worker(k: int) -> None:
        with httpx.Client(timeout=120.0) as http:
            for i in range(k, len(items), threads):
                while True:
                    started = time.time()
                    o = _answer(i, started, http.post(f"{urls[i % len(urls)]}/v1/submissions",
                                                      **_request(items[i], period)))
                    with lock:
                        offers.append(o)
                    if o.status == 429:
                        time.sleep(min(float(o.retry_after or 1), 5.0))
                        continue
                    if o.status != 202:
                        raise RuntimeError(f"intake answered {o.status} {o.code} for {items[i].school}")
                    break

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(worker, range(threads)))
    return offers, t0


def open_loop(urls: list[str], items: list[Prepared], rate: float, period: str) -> list[Offer]:
    """Item i offered at t0 + i/rate whether or not earlier ones were answered (a crowd, not a
    queue of polite clients); nothing is retried."""

    async def run() -> list[Offer]:
        offers: list[Offer] = []
        limits = httpx.Limits(max_connections=None, max_keepalive_connections=256)
        async with httpx.AsyncClient(timeout=120.0, limits=limits) as http:
            t0 = time.monotonic()

            async def one(i: int) -> None:
                await asyncio.sleep(max(0.0, t0 + i / rate - time.monotonic()))
                started = time.time()
                try:
                    resp = await http.post(f"{urls[i % len(urls)]}/v1/submissions", **_request(items[i], period))
                except httpx.HTTPError as exc:
                    offers.append(Offer(i, started, time.time(), 0, code=type(exc).__name__))
                    return
                offers.append(_answer(i, started, resp))

            await asyncio.gather(*(one(i) for i in range(len(items))))
        return offers

    return asyncio.run(run())


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = (len(ordered) - 1) * q
    lo, hi = math.floor(k), math.ceil(k)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def acknowledgements(offers: list[Offer]) -> dict:
    acked = [o for o in offers if o.status == 202]
    lat = [o.latency for o in acked]
    span = max(o.ended for o in acked) - min(o.started for o in offers) if acked else float("nan")
    return {"offers": len(offers), "acknowledged": len(acked),
            "p50_s": percentile(lat, 0.5), "p95_s": percentile(lat, 0.95), "p99_s": percentile(lat, 0.99),
            "acknowledged_per_s": len(acked) / span if acked else 0.0,
            "status_429": sum(o.status == 429 for o in offers)}


# --- following submissions to their final state -------------------------------------------------


def wait_idle(trace_dir: Path, quiet: float = 3.0, timeout: float = 600.0) -> float:
    """Wait until no span has been written for `quiet` seconds: the pipeline has finished what
    the last phase left behind (outcomes off the critical path: timeliness, aggregation,
    consolidations), so the next phase measures itself alone. Returns the seconds waited."""
    started = time.monotonic()
    last, since = -1, time.monotonic()
    while time.monotonic() - started < timeout:
        size = sum(f.stat().st_size for f in trace_dir.glob("*.jsonl") if not f.name.endswith(".metrics.jsonl"))
        if size != last:
            last, since = size, time.monotonic()
        elif time.monotonic() - since >= quiet:
            break
        time.sleep(0.5)
    return max(0.0, since - started)


@dataclass
class Phase:
    """A burst's outcome: its answers, its submissions read back, its end-to-end rate."""
    name: str
    offers: list[Offer]
    t0: float
    subs: dict[str, dict]

    @property
    def ids(self) -> set[str]:
        return set(self.subs)

    @property
    def last_final(self) -> float:
        return max((final_at(s) or math.inf) for s in self.subs.values())

    @property
    def end_to_end_per_s(self) -> float:
        return len(self.subs) / (self.last_final - self.t0) if self.subs else 0.0

    def figures(self) -> dict:
        statuses: dict[str, int] = defaultdict(int)
        for s in self.subs.values():
            statuses[s["status"]] += 1
        return {**acknowledgements(self.offers), "end_to_end_per_s": self.end_to_end_per_s,
                "last_final_after_s": self.last_final - self.t0, "statuses": dict(statuses)}


def run_burst(name: str, stack: Stack, items: list[Prepared], threads: int, period: str,
              timeout: float) -> Phase:
    offers, t0 = burst(stack.urls("intake"), items, threads, period)
    ids = [o.submission_id for o in offers if o.status == 202]
    ack = acknowledgements(offers)
    if name != "warm-up":
        say(f"  acknowledged {len(ids)} ({ack['acknowledged_per_s']:.1f}/s, p50 {ack['p50_s']:.2f} s); "
            "following them to their final states …")
    forms = sorted({p.form_code for p in items})
    wait_final(stack.config.url("intake"), forms, len(ids), period, timeout, say)
    return Phase(name, offers, t0, details(stack.config.url("intake"), ids))


# --- where the time goes: the traces ------------------------------------------------------------


def _summary(values: list[float]) -> dict:
    return {"count": len(values), "sum_s": sum(values), "mean_s": statistics.fmean(values) if values else 0.0,
            "p50_s": percentile(values, 0.5), "max_s": max(values, default=0.0)}


def stage_figures(trace_dir: Path, ids: set[str], wall_s: float) -> dict:
    """Where the bench's submissions spent their time, from the spans of their traces.

    - handlers: each service's spans by name (HTTP requests, consumers' `<topic> process`):
      count, mean, sum, and busy = sum / the phase's wall time (near 1 per process: saturated);
    - idle_between: a consumer process's gap from finishing one message to starting the next
      when the next had already been published (it was waiting): the per-message cost outside the
      handler (fetching, committing the offset, the dedupe lookup);
    - outbox_wait: from the end of the span that queued an event (the request or the handler,
      which commit it with their state) to the relay starting to publish it;
    - publish: the relay's publish (broker acknowledgement);
    - delivery_wait: from the publish's end to the consumer starting on the event (the broker,
      the consumer's fetch, and its queue of earlier messages);
    - capacity: what each consumer process can take at most, one message after the other:
      1 / (mean handler span + mean idle between); the lowest one bounds the pipeline."""
    spans = load_spans(trace_dir)
    traces = {s["trace_id"] for s in spans if s["attributes"].get(SUBMISSION_ATTR) in ids}
    ours = [s for s in spans if s["trace_id"] in traces]
    by_id = {s["span_id"]: s for s in ours}
    children: dict[str, list[dict]] = defaultdict(list)
    for s in ours:
        children[s["parent_id"]].append(s)

    def seconds(a: int, b: int) -> float:
        return (b - a) / 1e9

    handlers: dict[str, list[float]] = defaultdict(list)
    outbox: dict[str, list[float]] = defaultdict(list)
    publish: dict[str, list[float]] = defaultdict(list)
    delivery: dict[str, list[float]] = defaultdict(list)
    consumed: dict[tuple[str, str], list[tuple[dict, float | None]]] = defaultdict(list)
    for s in ours:
        # the bench's own reads (GET) come after the phase: not the pipeline's work
        if s["kind"] == "CONSUMER" or (s["kind"] == "SERVER" and not s["name"].startswith("GET ")):
            handlers[f"{s['service']:<10} {s['name']}"].append(seconds(s["start"], s["end"]))
        if s["kind"] != "CONSUMER":
            continue
        create = by_id.get(s["parent_id"])  # FastStream: create (the message) → publish; consumers link to create
        if create is None or create["kind"] != "PRODUCER":
            consumed[(s.get("instance") or s["service"], s["name"])].append((s, None))
            continue
        topic = create["name"].rsplit(" ", 1)[0]
        sent = next((c for c in children[create["span_id"]] if c["kind"] == "PRODUCER"), None)
        published = sent["end"] if sent else create["end"]
        delivery[f"{topic} → {s['service']}"].append(seconds(published, s["start"]))
        consumed[(s.get("instance") or s["service"], s["name"])].append((s, published))
    for create in (s for s in ours if s["kind"] == "PRODUCER" and s["name"].endswith(" create")):
        origin = by_id.get(create["parent_id"])
        topic = create["name"].rsplit(" ", 1)[0]
        if origin is not None:
            outbox[f"{origin['service']} → {topic}"].append(seconds(origin["end"], create["start"]))
        sent = next((c for c in children[create["span_id"]] if c["kind"] == "PRODUCER"), None)
        if sent is not None:
            publish[f"{sent['service']} → {topic}"].append(seconds(sent["start"], sent["end"]))
    idle: dict[str, list[float]] = defaultdict(list)
    capacity: dict[str, dict] = {}
    for (instance, name), got in consumed.items():
        got.sort(key=lambda x: x[0]["start"])
        key = f"{instance:<12} {name}"
        for (before, _), (s, published) in zip(got, got[1:], strict=False):
            if published is not None and published <= before["end"]:
                idle[key].append(max(0.0, seconds(before["end"], s["start"])))
        handler = statistics.fmean(seconds(s["start"], s["end"]) for s, _ in got)
        between = statistics.fmean(idle[key]) if key in idle else 0.0
        if len(got) >= 5:
            capacity[key] = {"per_s": 1 / (handler + between), "handler_s": handler, "idle_s": between}
    out = {"handlers": {k: {**_summary(v), "busy": sum(v) / wall_s} for k, v in handlers.items()},
           "capacity": capacity,
           "idle_between": {k: _summary(v) for k, v in idle.items()},
           "outbox_wait": {k: _summary(v) for k, v in outbox.items()},
           "publish": {k: _summary(v) for k, v in publish.items()},
           "delivery_wait": {k: _summary(v) for k, v in delivery.items()}}
    return out


# --- the ceiling: the raw infrastructure alone --------------------------------------------------


def submission_events(bootstrap: str, ids: set[str]) -> dict[str, dict]:
    """The events the pipeline produced for `ids`, per topic: how many, their mean size (value,
    key and headers), and how many consumer groups read the topic (uise_contracts.topics)."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    async def read() -> dict[str, dict]:
        consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
        await consumer.start()
        try:
            names = [t for t in await consumer.topics() if t.startswith("uise.submission.") and not t.endswith(".dlq")]
            parts = [TopicPartition(t, p) for t in names for p in consumer.partitions_for_topic(t) or ()]
            consumer.assign(parts)
            await consumer.seek_to_beginning(*parts)
            ends = await consumer.end_offsets(parts)
            found: dict[str, list[int]] = defaultdict(list)
            left = {tp for tp, end in ends.items() if end > 0}
            while left:
                batch = await consumer.getmany(timeout_ms=2000, max_records=2000)
                if not batch:
                    break
                for tp, records in batch.items():
                    for r in records:
                        try:
                            sid = json.loads(r.value).get("submission_id")
                        except (ValueError, AttributeError):
                            sid = None
                        if sid in ids:
                            size = len(r.value or b"") + len(r.key or b"") + sum(
                                len(k) + len(v or b"") for k, v in (r.headers or ()))
                            found[tp.topic].append(size)
                        if r.offset + 1 >= ends[tp]:
                            left.discard(tp)
        finally:
            await consumer.stop()
        return {t: {"events": len(sizes), "mean_bytes": statistics.fmean(sizes),
                    "partitions": BY_NAME[t].partitions,
                    "groups": len([c for c in BY_NAME[t].consumers if c not in ("external", "audit")])}
                for t, sizes in found.items()}

    return asyncio.run(read())


def s3_ceiling(config: StackConfig, items: list[Prepared], threads: int) -> dict:
    """The same objects put into the stack's S3 (under a key of their own, so each is written)
    and read back as the services read them (the document twice, the signature once)."""
    from minio import Minio

    creds = config.s3_principals["services"]
    run = uuid.uuid4().hex[:8]
    local = threading.local()

    def s3() -> Minio:
        if not hasattr(local, "client"):
            local.client = Minio(config.s3_endpoint, access_key=creds.access_key, secret_key=creds.secret_key,
                                 secure=False, region="us-east-1")
        return local.client

    def put(i: int) -> None:
        p = items[i]
        for part, data in (("document", p.document), ("signature", p.signature)):
            s3().put_object("uise-documents", f"bench/{run}/{i}/{part}", io.BytesIO(data), len(data))

    def get(i: int) -> None:
        for part in ("document", "signature", "document"):
            resp = s3().get_object("uise-documents", f"bench/{run}/{i}/{part}")
            try:
                resp.read()
            finally:
                resp.close()
                resp.release_conn()

    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(put, range(len(items))))
    puts = time.perf_counter() - started
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(get, range(len(items))))
    total = time.perf_counter() - started
    return {"puts": 2 * len(items), "gets": 3 * len(items), "put_s": puts, "get_s": total - puts, "seconds": total}


def kafka_ceiling(bootstrap: str, events: dict[str, dict], submissions: int, keys: list[str]) -> dict:
    """Topics of their own mirroring the real ones (partitions), the same number of events of the
    same size, keyed by the same schools; every consumer group subscribed and assigned first, then
    timed: all events produced pipelined (acks=all, every send in flight before the first is
    awaited) until every group has consumed and committed all of its topic's."""
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    run = uuid.uuid4().hex[:8]
    mirror = {t: f"bench.{run}.{t.removeprefix('uise.')}" for t in events}

    async def go() -> dict:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        await admin.start()
        try:
            await admin.create_topics([NewTopic(mirror[t], e["partitions"], 1) for t, e in events.items()])
        finally:
            await admin.close()
        consumers: list[tuple[AIOKafkaConsumer, str, int]] = []
        for t, e in events.items():
            for g in range(e["groups"]):
                c = AIOKafkaConsumer(mirror[t], bootstrap_servers=bootstrap, group_id=f"bench.{run}.{t}.{g}",
                                     auto_offset_reset="earliest", enable_auto_commit=False)
                consumers.append((c, t, e["events"]))
        await asyncio.gather(*(c.start() for c, _, _ in consumers))
        try:
            async def assigned(c: AIOKafkaConsumer) -> None:
                while not c.assignment():
                    await c.getmany(timeout_ms=200)  # drives the group join

            await asyncio.wait_for(asyncio.gather(*(assigned(c) for c, _, _ in consumers)), 120)
            producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
            await producer.start()
            try:
                async def consume(c: AIOKafkaConsumer, want: int) -> None:
                    got = 0
                    while got < want:
                        batch = await c.getmany(timeout_ms=500, max_records=500)
                        got += sum(len(r) for r in batch.values())
                        if batch:
                            await c.commit()

                started = time.perf_counter()
                reading = asyncio.gather(*(consume(c, n) for c, _, n in consumers))
                sends = []
                for t, e in events.items():
                    headers = [("ce_id", b"x" * 36), ("ce_type", b"x" * 40), ("traceparent", b"x" * 55)]
                    head = sum(len(k) + len(v) for k, v in headers)
                    body = b"x" * max(1, int(e["mean_bytes"]) - head - 12)
                    for i in range(e["events"]):
                        sends.append(await producer.send(mirror[t], body, key=keys[i % len(keys)].encode(),
                                                          headers=headers))
                await asyncio.gather(*sends)
                produced = time.perf_counter() - started
                await asyncio.wait_for(reading, 300)
                total = time.perf_counter() - started
            finally:
                await producer.stop()
        finally:
            await asyncio.gather(*(c.stop() for c, _, _ in consumers), return_exceptions=True)
        return {"produced": sum(e["events"] for e in events.values()),
                "consumed": sum(e["events"] * e["groups"] for e in events.values()),
                "produce_s": produced, "seconds": total}

    return asyncio.run(go())


def ceiling(stack: Stack, phase: Phase, items: list[Prepared], threads: int) -> dict:
    events = submission_events(stack.config.kafka_bootstrap, phase.ids)
    s3 = s3_ceiling(stack.config, items, threads)
    kafka = kafka_ceiling(stack.config.kafka_bootstrap, events, len(items), [p.school for p in items])
    n = len(phase.ids)
    rate = n / (s3["seconds"] + kafka["seconds"])
    return {"events": events, "events_per_submission": sum(e["events"] for e in events.values()) / n,
            "deliveries_per_submission": sum(e["events"] * e["groups"] for e in events.values()) / n,
            "s3": s3, "kafka": kafka, "submissions_per_s": rate,
            "end_to_end_ratio": phase.end_to_end_per_s / rate}


# --- the report ---------------------------------------------------------------------------------


def table(result: dict) -> str:
    m, a = result["machine"], result["burst"]
    lines = [f"UISE peak bench, {result['date']}: {m['cores']} cores, {m['cpu']}, Python {m['python']} "
             f"(5-minute load average {m['load_average_at_start']:.1f} at the start, "
             f"{m.get('load_average_at_end', float('nan')):.1f} at the end); {result['database']}; "
             f"{result['config']['schools']} schools, {result['config']['doc_kb']} KB XLSX, "
             f"{result['config']['threads']} client threads; the whole run took {result['wall_s'] / 60:.0f} min", ""]

    def row(label: str, value: str, note: str = "") -> None:
        lines.append(f"  {label:<46} {value:>14}  {note}".rstrip())

    lines.append(f"a. burst of {a['offers'] - a['status_429']} submissions")
    row("intake acknowledgement latency p50", f"{a['p50_s'] * 1000:.0f} ms")
    row("intake acknowledgement latency p95", f"{a['p95_s'] * 1000:.0f} ms")
    row("intake acknowledgement latency p99", f"{a['p99_s'] * 1000:.0f} ms")
    row("acknowledged", f"{a['acknowledged_per_s']:.1f} /s")
    row("end-to-end to a final state", f"{a['end_to_end_per_s']:.2f} /s",
        f"last final {a['last_final_after_s']:.0f} s after the first offer; {a['statuses']}")
    row("the pipeline idle again after the last final", f"{a['idle_after_last_final_s']:.0f} s",
        "(outcomes off the critical path: timeliness, aggregation, consolidations)")
    c = result.get("ceiling")
    if c:
        lines.append("b. ceiling: the same I/O on the raw infrastructure")
        row(f"S3: {c['s3']['puts']} puts + {c['s3']['gets']} gets", f"{c['s3']['seconds']:.1f} s",
            f"{a['acknowledged'] / c['s3']['seconds']:.1f} submissions/s")
        row(f"Kafka: {c['kafka']['produced']} produced, {c['kafka']['consumed']} consumed",
            f"{c['kafka']['seconds']:.1f} s", f"{c['events_per_submission']:.0f} events and "
            f"{c['deliveries_per_submission']:.0f} deliveries a submission; "
            f"{a['acknowledged'] / c['kafka']['seconds']:.1f} submissions/s")
        row("ceiling", f"{c['submissions_per_s']:.1f} /s", "submissions / (S3 + Kafka time)")
        row("end-to-end / ceiling", f"{c['end_to_end_ratio']:.3f}", "target >= 0.5")
    d = result.get("load")
    if d:
        h, o = d["half"], d["overload"]
        lines.append(f"d. load (sustainable = {d['sustainable_per_s']:.1f} acknowledgements/s from a)")
        row(f"half rate ({h['rate_per_s']:.1f}/s for {h['seconds']:.0f} s): p50", f"{h['p50_s'] * 1000:.0f} ms")
        row("  p99", f"{h['p99_s'] * 1000:.0f} ms", f"p99/p50 = {h['p99_over_p50']:.2f} (target < 3)")
        times = "twice" if o["factor"] == 2 else "twice, then four times"
        row(f"{times} ({o['rate_per_s']:.1f}/s, {o['seconds']:.0f} s): offered", f"{o['offers']}")
        row("  acknowledged", f"{o['acknowledged']}")
        row("  429 (all with Retry-After)" if o["all_429_retry_after"] else "  429 (SOME WITHOUT Retry-After)",
            f"{o['status_429']}", f"{o['codes_429'] or ''}; other answers: {o['other_statuses'] or 'none'}")
        row("  intake acknowledges again after", f"{d['recovered_after_s']:.1f} s" if d["recovered"] else "NEVER")
        row("acknowledged with exactly one final state", f"{d['single_final']}/{d['acknowledged_total']}",
            "OK" if d["single_final"] == d["acknowledged_total"] else "FAILED")
    r = result.get("replicas")
    if r:
        lines.append(f"c. replicas ({r['submissions']} submissions a burst)")
        row("1 of each: end-to-end", f"{r['one']['end_to_end_per_s']:.2f} /s",
            f"acknowledged {r['one']['acknowledged_per_s']:.1f}/s")
        row(f"{r['replicas']} of {', '.join(REPLICATED)}: end-to-end", f"{r['many']['end_to_end_per_s']:.2f} /s",
            f"acknowledged {r['many']['acknowledged_per_s']:.1f}/s")
        row(f"{r['replicas']} / 1", f"{r['ratio']:.2f}")
    s = result.get("stages")
    if s:
        lines += ["", "where the time goes (burst a; spans of its submissions' traces):",
                  f"  {'handler (service, span)':<62} {'count':>6} {'mean':>9} {'busy':>6}"]
        for k, v in sorted(s["handlers"].items(), key=lambda kv: -kv[1]["sum_s"]):
            lines.append(f"  {k:<62} {v['count']:>6} {v['mean_s'] * 1000:>7.0f}ms {v['busy']:>6.0%}")
        lines.append(f"  {'capacity of a consumer process: 1 / (handler + idle between)':<62} {'per s':>6} "
                     f"{'handler':>9} {'idle':>9}")
        for k, v in sorted(s["capacity"].items(), key=lambda kv: kv[1]["per_s"])[:8]:
            lines.append(f"    {k:<60} {v['per_s']:>6.1f} {v['handler_s'] * 1000:>7.0f}ms {v['idle_s'] * 1000:>7.0f}ms")
        for title, key in (("idle between two messages while the next waited (per process)", "idle_between"),
                           ("outbox wait: committed → relay publishes", "outbox_wait"),
                           ("publish: relay → broker acknowledged", "publish"),
                           ("delivery wait: published → consumer starts on it", "delivery_wait")):
            lines.append(f"  {title:<62} {'count':>6} {'mean':>9} {'p50':>9} {'max':>9}")
            for k, v in sorted(s[key].items(), key=lambda kv: -kv[1]["mean_s"]):
                lines.append(f"    {k:<60} {v['count']:>6} {v['mean_s'] * 1000:>7.0f}ms "
                             f"{v['p50_s'] * 1000:>7.0f}ms {v['max_s'] * 1000:>7.0f}ms")
    return "\n".join(lines)


# --- the run -------------------------------------------------------------------------------------


def load_phase(stack: Stack, prepare: Preparer, forms: dict[str, list[str]], sustainable: float, period: str,
               args: argparse.Namespace) -> tuple[dict, list[str]]:
    """d: half the sustainable rate, then twice it, then intake again; returns the figures and
    the submissions acknowledged on the way.

    Intake sheds load once its uploads in progress pass its limit (UISE_INTAKE_MAX_IN_FLIGHT a
    process): at twice the rate it takes in, the excess fills those slots in slots / rate
    seconds, so the overload lasts at least twice that. Should intake take it all anyway (the
    burst's rate understated it), the overload goes on at four times the rate."""
    from uise_common.settings import Settings

    urls = stack.urls("intake")
    slots = Settings().intake_max_in_flight * len(urls)
    half_rate = sustainable / 2
    half_n = max(2, min(args.overload_max // 4, round(half_rate * args.half_seconds)))
    seconds = max(args.overload_seconds, 2 * slots / sustainable)
    rounds = [(2, min(args.overload_max, max(8, round(2 * sustainable * seconds))))]
    rounds.append((4, min(args.overload_max - rounds[0][1], round(4 * sustainable * seconds))))
    say(f"d. load: {half_n} at {half_rate:.1f}/s, then {rounds[0][1]} at {2 * sustainable:.1f}/s (preparing …)")
    half_items = prepare(forms["H"], half_n)
    over_items = prepare(forms["O"], rounds[0][1] + rounds[1][1])
    probes = prepare(forms["R"], 5)
    half = open_loop(urls, half_items, half_rate, period)
    over: list[Offer] = []
    factor, done = 2, 0
    for times, n in rounds:
        if n <= 0 or any(o.status == 429 for o in over):
            break
        if over:
            say(f"  intake took all of twice the rate without a 429: {n} more at {times * sustainable:.1f}/s")
        over += open_loop(urls, over_items[done:done + n], times * sustainable, period)
        factor, done = times, done + n
    used = sorted({p.form_code for p in [*half_items, *over_items[:done], *probes]})
    over_end = max(o.ended for o in over)
    # intake acknowledges again: probes one at a time, a 429 honoured, until one is taken
    recovered, recovered_after, probe_offers = False, float("nan"), []
    with httpx.Client(timeout=120.0) as http:
        for i, p in enumerate(probes):
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                o = _answer(i, time.time(), http.post(f"{urls[i % len(urls)]}/v1/submissions", **_request(p, period)))
                probe_offers.append(o)
                if o.status == 202:
                    if not recovered:
                        recovered, recovered_after = True, o.ended - over_end
                    break
                time.sleep(min(float(o.retry_after or 1), 5.0))
    h, ov = acknowledgements(half), acknowledgements(over)
    others: dict[str, int] = defaultdict(int)
    for o in over:
        if o.status not in (202, 429):
            others[f"{o.status} {o.code}"] += 1
    acked = [o.submission_id for o in [*half, *over, *probe_offers] if o.status == 202]
    return {"sustainable_per_s": sustainable, "forms": used, "intake_slots": slots,
            "half": {**h, "rate_per_s": half_rate, "seconds": half_n / half_rate,
                     "p99_over_p50": h["p99_s"] / h["p50_s"] if h["acknowledged"] else float("nan")},
            "overload": {**ov, "rate_per_s": factor * sustainable, "factor": factor,
                         "seconds": max(o.started for o in over) - min(o.started for o in over),
                         "all_429_retry_after": all(o.retry_after for o in over if o.status == 429),
                         "codes_429": dict(Counter(o.code for o in over if o.status == 429)),
                         "other_statuses": dict(others)},
            "recovered": recovered, "recovered_after_s": recovered_after}, acked


def run(args: argparse.Namespace) -> int:
    began = time.monotonic()
    year = date.today().year
    period = str(year)  # the current year: its window is open, no deadline has passed
    hierarchy = small_hierarchy(regions=1, districts=args.districts, schools=args.schools, series=SERIES)
    schools = [u.participant_id for u in hierarchy.at("organization")]  # (a BIN or two may coincide)
    schools_n = len(schools)
    forms = Forms(year)
    # a phase's forms (each school submits a form once): W and V warm up, A bursts, H and O load
    # at half and twice the rate, R probes recovery, S and M burst with one and many replicas
    need = {"W": 1, "A": math.ceil(args.submissions / schools_n), "H": math.ceil(args.overload_max / 4 / schools_n),
            "O": math.ceil(args.overload_max / schools_n), "R": 1, "V": 1,
            "S": math.ceil(args.replica_submissions / schools_n), "M": math.ceil(args.replica_submissions / schools_n)}
    codes = {phase: forms.add(phase, n) for phase, n in need.items()}
    result: dict = {"date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"), "machine": machine(),
                    "database": "PostgreSQL" if args.database_url else "SQLite",
                    "config": {**{k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()
                                  if k not in ("database_url",)}, "schools": schools_n}}
    failures: list[str] = []
    with bench_stack(args.database_url, args.keep, args.broker_storage) as stack:
        config = stack.config
        campaign = Campaign(config, stack.prepare_pki(), hierarchy, form=campaign_form(codes["W"][0]), year=year,
                            workers=16, log=say)
        t = time.monotonic()
        forms.approve(config.url("registry"))
        campaign.seed()
        tokens = {s: client.token_for(s) for s in schools}
        say(f"seeded {len(schools)} schools and {len(forms.codes)} forms in {time.monotonic() - t:.0f} s")
        prepare = Preparer(campaign, schools, tokens, period, args.doc_kb * 1024)
        # Every service knows every school and form once the last school's warm-up is final:
        # the registry's topics have one partition, so its events arrive in the order it sent them.
        run_burst("warm-up", stack, [prepare.warm_up(codes["W"][0])], 1, period, args.timeout)
        traces = config.base_dir / "traces"

        say(f"a. burst: preparing {args.submissions} signed submissions …")
        items = prepare(codes["A"], args.submissions)
        wait_idle(traces)
        a = run_burst("burst", stack, items, args.threads, period, args.timeout)
        result["burst"] = a.figures()
        called = time.time()
        idle_at = called + wait_idle(traces)  # when the last span was written
        result["burst"]["idle_after_last_final_s"] = max(0.0, idle_at - a.last_final)
        say(f"  end-to-end {a.end_to_end_per_s:.2f}/s; the pipeline idle "
            f"{result['burst']['idle_after_last_final_s']:.0f} s after the last final state")
        result["stages"] = stage_figures(traces, a.ids, a.last_final - a.t0)
        acked = {**a.subs}

        if not args.no_ceiling:
            say("b. ceiling: S3, then Kafka, alone …")
            result["ceiling"] = ceiling(stack, a, items, args.threads)

        if args.overload_seconds > 0:
            wait_idle(traces)
            load, ids = load_phase(stack, prepare, codes, result["burst"]["acknowledged_per_s"], period, args)
            say(f"  following {len(ids)} acknowledged submissions to their final states …")
            wait_final(config.url("intake"), load.pop("forms"), len(ids), period, args.timeout, say)
            acked.update(details(config.url("intake"), ids))
            result["load"] = load
            if not load["overload"]["all_429_retry_after"]:
                failures.append("a 429 without Retry-After")
            if not load["recovered"]:
                failures.append("intake did not acknowledge again after the overload")

        if args.replica_submissions > 0 and args.replicas > 1:
            say(f"c. replicas: {args.replica_submissions} submissions with one process of each service …")
            wait_idle(traces)
            one = run_burst("one", stack, prepare(codes["S"], args.replica_submissions), args.threads, period,
                            args.timeout)
            say(f"  end-to-end {one.end_to_end_per_s:.2f}/s; starting {args.replicas} of {', '.join(REPLICATED)} …")
            for service in REPLICATED:
                stack.scale(service, args.replicas)
            run_burst("warm-up", stack, [prepare.warm_up(codes["V"][0])], 1, period, args.timeout)
            wait_idle(traces)
            many = run_burst("many", stack, prepare(codes["M"], args.replica_submissions), args.threads, period,
                             args.timeout)
            say(f"  end-to-end {many.end_to_end_per_s:.2f}/s")
            acked.update(one.subs)
            acked.update(many.subs)
            result["replicas"] = {"submissions": args.replica_submissions, "replicas": args.replicas,
                                  "one": one.figures(), "many": many.figures(),
                                  "ratio": many.end_to_end_per_s / one.end_to_end_per_s}

    wrong = {sid: why for sid, s in acked.items() if (why := single_final_state(s))}
    if "load" in result:
        result["load"].update(acknowledged_total=len(acked), single_final=len(acked) - len(wrong))
    if wrong:
        failures.append(f"{len(wrong)} acknowledged submissions without exactly one final state: "
                        + "; ".join(f"{k} {v}" for k, v in list(wrong.items())[:5]))
    result["failures"] = failures
    result["machine"]["load_average_at_end"] = os.getloadavg()[1]
    result["wall_s"] = time.monotonic() - began
    say("")
    say(table(result))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2, default=str) + "\n")
        say(f"\nfigures written to {args.json}")
    for f in failures:
        say(f"FAILED: {f}")
    return 1 if failures else 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--submissions", type=int, default=200, help="the burst's submissions (a; default 200)")
    p.add_argument("--schools", type=int, default=200, help="distinct participants seeded (default 200)")
    p.add_argument("--districts", type=int, default=10, help="districts the schools are spread over (default 10)")
    p.add_argument("--threads", type=int, default=16, help="client threads of the bursts (default 16)")
    p.add_argument("--doc-kb", type=int, default=100, help="size of each XLSX document in KB (default 100)")
    p.add_argument("--half-seconds", type=float, default=8.0, help="d: seconds at half the sustainable rate")
    p.add_argument("--overload-seconds", type=float, default=8.0,
                   help="d: seconds at twice the sustainable rate (0 skips d)")
    p.add_argument("--overload-max", type=int, default=1600, help="d: at most this many offers at twice the rate")
    p.add_argument("--replica-submissions", type=int, default=60, help="c: each burst's submissions (0 skips c)")
    p.add_argument("--replicas", type=int, default=2, help="c: processes of intake, signature and validation")
    p.add_argument("--no-ceiling", action="store_true", help="skip b")
    p.add_argument("--broker-storage", choices=["s3", "memory"], default="s3",
                   help="the broker's log on the embedded S3 (default, as `make run`) or in memory")
    p.add_argument("--database-url", help="a PostgreSQL server for the services (a scratch database is made "
                                          "on it and dropped after); default: SQLite files")
    p.add_argument("--json", type=Path, help="write the figures here as JSON too")
    p.add_argument("--keep", action="store_true", help="keep the stack's directory (logs, traces, databases)")
    p.add_argument("--timeout", type=float, default=900.0, help="seconds to wait for a phase's final states")
    args = p.parse_args(argv)
    if args.submissions < 1 or args.schools < 1:
        p.error("--submissions and --schools must be at least 1")

    def stop(_signum, _frame):  # a SIGTERM stops the stack as Ctrl-C does
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
