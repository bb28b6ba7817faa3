"""The fault suite (issue 14): a trickle of signed school submissions through the public API while
every part of the stack dies in turn, and then nothing acknowledged is lost or doubled.

While a few client threads offer submissions (each retried with its Idempotency-Key, as an office
whose connection broke sends the same bytes again), the run SIGKILLs each consuming service at a
random moment and starts it again, kills the broker and starts it again (its log is on S3, so
topics and offsets survive), cuts the services off object storage for 30 s, and, on PostgreSQL,
off the database for 30 s. Then every acknowledged submission must reach exactly one final state
(the right one: a good one accepted, one whose totals do not add up rejected VALIDATION_FAILED),
no step of its way recorded twice, every district's live figures equal to the sum of its
accepted schools' data (nothing counted twice, nothing missing), one inbox row per submission at
routing with nothing left in flight, and every DLQ empty. The counts are printed as a table.

    make test-faults                    # both databases, the counts at the end
    UISE_FAULTS_SEED=7 .venv/bin/pytest tests/faults -s -k sqlite
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import queue
import random
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

import pytest

from uise_common.pki.cms import sign
from uise_common.testing import read_topic
from uise_contracts.events import FormListApproved
from uise_contracts.topics import topic_for
from uise_stack import client, dlq
from uise_stack.campaign import (
    PARTICIPANTS_TOPIC,
    Campaign,
    approve_forms,
    campaign_form,
    peer_figures,
    small_hierarchy,
)
from uise_stack.config import SERVICES
from uise_stack.outcomes import ONCE_STEPS, details, repeated_steps, single_final_state, wait_final
from uise_stack.replay import wait_quiet

pytestmark = [pytest.mark.faults, pytest.mark.timeout(1800)]

SEED = int(os.environ.get("UISE_FAULTS_SEED", "14"))
DISTRICTS, SCHOOLS, FORMS = 3, 30, 5  # every school submits each form once: 150 submissions a run
BAD_EVERY = 10  # every tenth submission's totals do not add up: it must end rejected, once
WORKERS = 4  # client threads
PACE = 0.5  # seconds between two offers while faults are injected (after them: as fast as served)
SHARE = 15  # submissions released to the offices before each fault
PATIENCE = 300.0  # how long an office keeps sending one submission again
OUTAGE = 30.0  # seconds object storage, and the database, are away
KILLED = ("intake", "signature", "validation", "routing", "deadline", "reporting", "identity")
RETRIED = {401, 429, 500, 502, 503, 504}  # a dying or restarting stack's answers: send again


@dataclass(frozen=True)
class Item:
    school: str
    district: int
    form_code: str
    good: bool

    @property
    def values(self) -> dict:
        values = peer_figures(self.district)
        return values if self.good else {**values, "pupils_total": values["pupils_total"] + 1}


@dataclass
class Sent:
    item: Item
    submission_id: str | None = None
    attempts: int = 0
    refused: str | None = None  # the last answer or error, when it was never acknowledged


class Trickle:
    """`WORKERS` offices offering the items released to them (`release`), one every PACE seconds,
    then, once `finish` releases the rest, as fast as intake answers; each office sends its
    submission again (same bytes, same signature, same Idempotency-Key) through any failure for
    up to PATIENCE seconds. Releasing a share of the items before each fault keeps submissions
    flowing through every fault however slow the machine is."""

    def __init__(self, campaign: Campaign, items: list[Item], period: str) -> None:
        self.campaign, self.period = campaign, period
        self._left = list(items)
        self._queue: queue.Queue[Item | None] = queue.Queue()
        self._paced = True
        self._next = time.monotonic()
        self._lock = threading.Lock()
        self._sent: list[Sent] = []
        self._threads = [threading.Thread(target=self._office, daemon=True) for _ in range(WORKERS)]
        self.acknowledged = 0
        self.phase = "before the faults"  # the fault under way, or the one just past
        self.met: Counter[tuple[str, str]] = Counter()  # (phase, error) → how often an office met it

    def start(self) -> None:
        for t in self._threads:
            t.start()

    def release(self, share: int) -> None:
        """`share` more items to offer (as many as are left, at most)."""
        with self._lock:
            items, self._left = self._left[:share], self._left[share:]
        for item in items:
            self._queue.put(item)

    def finish(self) -> list[Sent]:
        """The rest, unpaced; every office's outcome once all are done."""
        self._paced = False
        self.release(len(self._left))
        for _ in self._threads:
            self._queue.put(None)
        for t in self._threads:
            t.join()
        return self._sent

    def _office(self) -> None:
        while (item := self._queue.get()) is not None:
            with self._lock:
                now = time.monotonic()
                at = max(now, self._next) if self._paced else now
                self._next = at + PACE
            time.sleep(at - now)
            sent = self._offer(item)
            with self._lock:
                self._sent.append(sent)
                self.acknowledged += sent.submission_id is not None

    def _offer(self, item: Item) -> Sent:
        signer = self.campaign.signers[item.school]
        document = json.dumps(item.values).encode()
        signature = sign(document, signer.key, signer.cert)
        key, sent = uuid.uuid4().hex, Sent(item)
        deadline = time.monotonic() + PATIENCE
        while True:
            sent.attempts += 1
            try:
                resp = client.submit(self.campaign.url("intake"), item.school, item.form_code, self.period, document,
                                     signer, signature=signature, idempotency_key=key, wait_reference=30)
                if resp.status_code in (200, 202):
                    sent.submission_id = resp.json()["submission_id"]
                    return sent
                code = resp.json().get("error", {}).get("code") if resp.status_code >= 400 else None
                why, again = f"{resp.status_code} {code}", resp.status_code in RETRIED
            except Exception as exc:  # a connection cut by a kill, a sign-in identity could not answer
                why, again = type(exc).__name__, True
            with self._lock:
                self.met[self.phase, why] += 1
            if not again or time.monotonic() > deadline:
                sent.refused = why
                return sent
            time.sleep(1.0)


@dataclass
class Fault:
    what: str
    seconds: float  # from the fault to everything ready again
    acknowledged_before: int


def inject(faulty, trickle: Trickle, rng: random.Random, say: Callable[[str], None]) -> list[Fault]:
    """Each fault in turn, at a random moment, while the trickle flows; after each, the stack is
    ready again before the next. `faulty`: the conftest's FaultyStack."""
    stack, faults = faulty.stack, []

    def fault(what: str, do: Callable[[], None]) -> None:
        trickle.release(SHARE)
        time.sleep(rng.uniform(1.5, 5.0))  # a random moment: some of the share acknowledged, some on the way
        at, before = time.monotonic(), trickle.acknowledged
        say(f"  {what} ({before} acknowledged so far) …")
        trickle.phase = what
        do()
        for name in SERVICES:
            stack.wait_ready(name, timeout=300)
        faults.append(Fault(what, time.monotonic() - at, before))
        say(f"  {what}: everything ready again after {faults[-1].seconds:.0f} s")

    def kill(name: str) -> None:
        stack.kill_service(name)
        time.sleep(rng.uniform(0.5, 2.0))  # dead for a moment: its partitions and requests wait
        stack.start_service(name, wait=False)

    def broker() -> None:
        stack.kill_service("kafka")
        time.sleep(5.0)
        stack.start_kafka()

    def outage(gate) -> Callable[[], None]:
        def do() -> None:
            gate.shut()
            time.sleep(OUTAGE)
            gate.open()
        return do

    for name in KILLED:
        fault(f"SIGKILL {name}, restarted", lambda name=name: kill(name))
    fault("broker SIGKILLed, restarted after 5 s", broker)
    fault(f"object storage away {OUTAGE:.0f} s", outage(faulty.storage))
    if faulty.database is not None:
        fault(f"database away {OUTAGE:.0f} s", outage(faulty.database))
    return faults


def dead_letters(bootstrap: str) -> dict[str, list[str]]:
    """{DLQ topic: the submission id (or '?') of each message it holds}, for the DLQs not empty."""
    out = {}
    for topic, depth in asyncio.run(dlq.depths(bootstrap)).items():
        if depth:
            records = asyncio.run(read_topic(bootstrap, topic, depth))
            out[topic] = [_submission_of(r.value) for r in records]
    return out


def _submission_of(value: bytes | None) -> str:
    try:
        return json.loads(value or b"").get("submission_id") or "?"
    except (ValueError, AttributeError):
        return "?"


def figures_differing(campaign: Campaign, accepted: dict[tuple[str, str], dict[str, dict]],
                      districts: list[str], forms: list[str], timeout: float = 120.0) -> list[str]:
    """Each district's live figures per form (reporting) against the sum of its accepted schools'
    data, computed here; waits for reporting to catch up, then says which differ and how."""
    deadline = time.monotonic() + timeout
    while True:
        wrong = []
        for code in forms:
            for district in districts:
                data = accepted.get((district, code), {})
                form_campaign = dataclasses.replace(campaign, form=campaign_form(code), data=data)
                resp = client.http.get(f"{campaign.url('reporting')}/v1/nodes/{district}/figures",
                                       params={"form_code": code, "period": campaign.period},
                                       headers=campaign.office(), timeout=30)
                body = resp.json() if resp.status_code == 200 else {"contributors": None, "figures": {}}
                diff = form_campaign.differences({"document": body["figures"]})
                if body["contributors"] != len(data) or diff:
                    wrong.append(f"{district} {code}: {body['contributors']} contributors for {len(data)}, {diff}")
        if not wrong or time.monotonic() > deadline:
            return wrong
        time.sleep(2.0)


def inbox_problems(campaign: Campaign, sent: list[Sent], subs: dict[str, dict]) -> list[str]:
    """Routing's inbox at each district: a school that was accepted has exactly one inbox row,
    its submission's; one that was rejected none and one rejection; nothing is left in flight."""
    problems = []
    by_inbox: dict[tuple[str, str], dict[str, Sent]] = {}
    for s in sent:
        if s.submission_id:
            by_inbox.setdefault((campaign.hierarchy.units[s.item.school].parent_id, s.item.form_code), {})[
                s.item.school] = s
    for (district, code), ours in sorted(by_inbox.items()):
        resp = client.http.get(f"{campaign.url('routing')}/v1/inboxes/{district}",
                               params={"form_code": code, "period": campaign.period},
                               headers=campaign.office(), timeout=30)
        resp.raise_for_status()
        rows = Counter(r["participant_id"] for r in resp.json()["participants"])
        for row in resp.json()["participants"]:
            s = ours.get(row["participant_id"])
            if s is None:
                continue
            filed = [h["submission_id"] for h in row["history"]]
            rejected = [r["submission_id"] for r in row["rejected"]]
            want = ([s.submission_id], []) if subs[s.submission_id]["status"] == "accepted" else ([], [s.submission_id])
            if rows[row["participant_id"]] != 1 or (filed, rejected) != want or row["in_flight_submission_id"]:
                problems.append(f"{district} {code} {row['participant_id']}: filed {filed}, rejected {rejected}, "
                                f"in flight {row['in_flight_submission_id']}")
    return problems


def test_nothing_acknowledged_is_lost_or_doubled_when_any_part_dies(faulty, fault_table):
    began = time.monotonic()
    rng = random.Random(SEED)
    def say(line: str) -> None:
        print(line, flush=True)

    stack = faulty.stack
    period = str(date.today().year)  # the current year: its window is open, no deadline has passed
    hierarchy = small_hierarchy(regions=1, districts=DISTRICTS, schools=SCHOOLS, series=61)
    districts = [u.participant_id for u in hierarchy.at("district")]
    district_no = {d: n for n, d in enumerate(districts)}
    forms = [f"FLT-{n}" for n in range(1, FORMS + 1)]
    campaign = Campaign(stack.config, stack.prepare_pki(), hierarchy, form=campaign_form(forms[0]),
                        year=int(period), workers=4, log=say)
    approve_forms(stack.config.url("registry"), int(period), [campaign_form(c) for c in forms], "faults")
    campaign.seed()
    campaign.caught_up(topic_for(FormListApproved).name, timeout=120)
    campaign.caught_up(PARTICIPANTS_TOPIC, timeout=120)
    schools = [u.participant_id for u in hierarchy.at("organization")]
    items = [Item(school, district_no[hierarchy.units[school].parent_id], code, n % BAD_EVERY != BAD_EVERY - 1)
             for n, (code, school) in enumerate((c, s) for c in forms for s in schools)]
    rng.shuffle(items)
    say(f"{faulty.engine}: {len(items)} submissions from {WORKERS} offices, seed {SEED}; faults:")

    trickle = Trickle(campaign, items, period)
    trickle.start()
    faults = inject(faulty, trickle, rng, say)
    sent = trickle.finish()
    acked = {s.submission_id: s for s in sent if s.submission_id}
    say(f"  all offered; following {len(acked)} acknowledged submissions to their final states …")
    wait_final(campaign.url("intake"), forms, len(acked), period, timeout=PATIENCE, say=say)
    # what comes after a final state (timeliness, aggregation) too: then nothing is still on its way
    try:
        wait_quiet(stack.config, timeout=PATIENCE)
        busy = None
    except TimeoutError as exc:  # something stuck: the counts below say what it cost
        busy = str(exc)
    subs = details(campaign.url("intake"), acked)

    lost = [sid for sid, sub in subs.items() if not sub["final"]]
    doubled = {sid: why for sid, sub in subs.items() if sub["final"] and (why := single_final_state(sub))}
    repeated = {sid: steps for sid, sub in subs.items() if (steps := repeated_steps(sub))}
    wrong = {sid: f"{sub['status']} {sub.get('reason_code')}" for sid, sub in subs.items() if sub["final"] and (
        (sub["status"], sub.get("reason_code")) != (("accepted", None) if acked[sid].item.good
                                                    else ("rejected", "VALIDATION_FAILED")))}
    letters = dead_letters(stack.config.kafka_bootstrap)
    lettered_good = {sid for ids in letters.values() for sid in ids if sid in acked and acked[sid].item.good}
    accepted: dict[tuple[str, str], dict[str, dict]] = {}  # (district, form) → {school: its figures}
    for sid, sub in subs.items():
        if sub["status"] == "accepted":
            item = acked[sid].item
            accepted.setdefault((hierarchy.units[item.school].parent_id, item.form_code), {})[item.school] = item.values
    differing = figures_differing(campaign, accepted, districts, forms)
    inboxes = inbox_problems(campaign, sent, subs)
    statuses = Counter(sub["status"] for sub in subs.values())

    lines = [f"fault suite on {faulty.engine} (seed {SEED}): {len(faults)} faults injected, "
             f"{time.monotonic() - began:.0f} s in all"]
    lines += [f"  {f.what:<48} ready again after {f.seconds:5.0f} s  ({f.acknowledged_before} acknowledged before)"
              for f in faults]
    rows = [("submitted", len(sent), None),
            ("acknowledged", len(acked), len(sent)),
            ("final states", len(acked) - len(lost), len(acked)),
            ("  accepted / rejected", f"{statuses['accepted']} / {statuses['rejected']}", None),
            ("lost (acknowledged, no final state)", len(lost), 0),
            ("duplicated (more than one final state)", len(doubled), 0),
            ("duplicated (a step recorded twice)", len(repeated), 0),
            ("wrong final state", len(wrong), 0),
            ("inbox rows wrong or doubled (routing)", len(inboxes), 0),
            (f"district figures differing (reporting; of {len(districts) * len(forms)})", len(differing), 0),
            ("dead-lettered messages", sum(len(v) for v in letters.values()), 0),
            ("good submissions dead-lettered", len(lettered_good), 0)]
    lines += [f"  {label:<48} {value!s:>9}" + ("" if want is None or value == want else f"   (want {want})")
              for label, value, want in rows]
    steps = Counter(t["step"] for sub in subs.values() for t in sub["timeline"])
    lines.append("  timeline steps read: " + ", ".join(f"{step} {steps[step]}" for step in ONCE_STEPS if steps[step]))
    lines.append("  what the offices met, by fault (each sent its submission again):" + ("" if trickle.met else " nothing"))
    for phase in dict.fromkeys(phase for phase, _ in trickle.met):
        lines.append(f"    {phase}: " + ", ".join(f"{why} {n}" for (p, why), n in trickle.met.most_common() if p == phase))
    if busy:
        lines.append(f"  NOT QUIET after {PATIENCE:.0f} s: {busy}")
    fault_table(lines)
    for line in lines:
        say(line)

    shown = 5
    assert not [s for s in sent if not s.submission_id], [(s.item, s.refused) for s in sent if not s.submission_id][:shown]
    assert not lost, {sid: subs[sid]["status"] for sid in lost[:shown]}
    assert not doubled, list(doubled.items())[:shown]
    assert not repeated, list(repeated.items())[:shown]
    assert not wrong, list(wrong.items())[:shown]
    assert not inboxes, inboxes[:shown]
    assert not differing, differing[:shown]
    assert not letters, {t: ids[:shown] for t, ids in letters.items()}
    assert busy is None, busy
