"""A deadline night rehearsed on the running stack with the clock under control (issue 8).

The data office approves a 2031 list with two forms for a new district of four schools; the
business clock of every service is moved (`uise-stack clock`, a control file) to the eve and the
night of the deadlines: a school delivering at 23:59:59 on the deadline day is on time, one at
00:00:00 the next day is late, one that never delivers is `missing` at the deadline and becomes
late when it finally delivers, and reminders reach exactly the schools that have not delivered.
Then the deadline service is SIGKILLed across the second form's deadline and every `missing`
violation still happens exactly once."""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest
from aiokafka import AIOKafkaConsumer

from uise_common.clock import clear_control, write_control
from uise_contracts.events import Level
from uise_contracts.examples import SCHOOL_FORM
from uise_registry.demo import REGION
from uise_registry.identifiers import make_valid
from uise_stack.client import (
    Signer,
    bearer,
    data_office_token,
    remember_signer,
    submit,
    token_for,
    wait_for_steps,
)
from uise_stack.demo import figures

pytestmark = pytest.mark.e2e
ALMATY = ZoneInfo("Asia/Almaty")
YEAR = 2031
DISTRICT = make_valid("21034000031")
SCHOOLS = [make_valid(f"2204400031{n}") for n in range(4)]
HEADS = [make_valid(f"8101013003{n}") for n in range(4)]
DL7 = SCHOOL_FORM.model_copy(update={"code": "DL-7", "deadline_days": {Level.organization: 10, Level.district: 20}})
DL8 = SCHOOL_FORM.model_copy(update={"code": "DL-8", "deadline_days": {Level.organization: 14, Level.district: 20}})
DEADLINE7 = datetime(2032, 1, 12, 23, 59, 59, tzinfo=ALMATY)  # rule: Sat 2032-01-10 -> Mon 12th, end of day
DEADLINE8 = datetime(2032, 1, 14, 23, 59, 59, tzinfo=ALMATY)  # Wed 2032-01-14, a working day


def read_topic(bootstrap: str, topic: str, until, timeout: float = 60.0) -> list[dict]:
    """Every event on `topic` (from the beginning) until `until(events)` holds or time runs out,
    each once: delivery is at least once (a relay killed between publishing and marking publishes
    again, under the same CloudEvents id), and consumers deduplicate on that id, as this does."""

    async def go() -> list[dict]:
        consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                                    enable_auto_commit=False, group_id=None)
        await consumer.start()
        events: list[dict] = []
        seen: set[str] = set()
        try:
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                batch = await consumer.getmany(timeout_ms=500)
                for records in batch.values():
                    for r in records:
                        ce_id = dict(r.headers or ()).get("ce_id", b"").decode()
                        if ce_id not in seen:
                            seen.add(ce_id)
                            events.append(json.loads(r.value))
                if until(events):
                    break
        finally:
            await consumer.stop()
        return events

    return asyncio.run(go())


def of_form(events: list[dict], form: str) -> list[dict]:
    """The events of one form about this test's district (a form applies to every school of the
    country: the other e2e tests' schools are expected too)."""
    return [e for e in events if e.get("form_code") == form and e.get("participant_id") in SCHOOLS]


def district_dues(events: list[dict], form: str) -> list[dict]:
    """This test's district's `consolidation.due` of one form, in the order of their steps."""
    return sorted((e for e in events if e.get("form_code") == form and e.get("node_id") == DISTRICT),
                  key=lambda e: int(e["due_id"].rsplit(":", 1)[1]))


@pytest.fixture(scope="module")
def campaign(stack, ca):
    """The district, its schools and their heads (certificates good now and in 2032), the 2031
    list; the clock back to real time at the end, whatever happens."""
    registry, deadline = stack.config.url("registry"), stack.config.url("deadline")
    office = bearer(data_office_token())
    with httpx.Client(base_url=registry, headers=office, timeout=30) as http:
        assert http.put(f"/v1/participants/{DISTRICT}", json={
            "bin": DISTRICT, "level": "district", "kind": "district", "parent_id": REGION,
            "name_kk": "Сынақ ауданы", "name_ru": "Пробный район"}).status_code == 200
        for school, head in zip(SCHOOLS, HEADS, strict=True):
            resp = http.put(f"/v1/participants/{school}", json={
                "bin": school, "level": "organization", "kind": "school", "parent_id": DISTRICT,
                "name_kk": f"Мектеп {school[-3:]}", "name_ru": f"Школа {school[-3:]}",
                "head_iin": head, "head_name": f"Басшы {head[-4:]}", "head_from": "2020-09-01"})
            assert resp.status_code == 200, resp.text
            key, cert = ca.issue(iin=head, name=f"Head {school[-3:]}", bin_=school, valid_days=7 * 365)
            remember_signer(school, Signer(key, cert))
        draft = http.post("/v1/formlists", json={"year": YEAR, "forms": [DL7.model_dump(mode="json"),
                                                                         DL8.model_dump(mode="json")]})
        assert draft.status_code == 201, draft.text
        approved = http.post(f"/v1/formlists/{YEAR}/{draft.json()['version']}/approve",
                             json={"order_no": "№ 31", "order_date": "2031-01-15"})
        assert approved.status_code == 200, approved.text
    deadline_seen = None
    for _ in range(120):  # the deadline service has published it
        rows = httpx.get(f"{deadline}/v1/deadlines", params={"form_code": "DL-7", "level": "organization"}).json()
        if rows:
            deadline_seen = rows[0]
            break
        time.sleep(0.5)
    assert deadline_seen and deadline_seen["deadline_at"] == DEADLINE7.isoformat(), deadline_seen
    for school in SCHOOLS:
        token_for(school)  # each head signs in now, on the real clock
    try:
        yield {"signers": {s: None for s in SCHOOLS}}
    finally:
        clear_control(stack.config.clock_file)


def at(stack, moment: datetime) -> None:
    write_control(stack.config.clock_file, fixed=moment)


def deliver(stack, ca, school: str, values: dict, form: str = "DL-7") -> dict:
    head = HEADS[SCHOOLS.index(school)]
    key, cert = ca.issue(iin=head, name="Head", bin_=school, valid_days=7 * 365)
    resp = submit(stack.config.url("intake"), school, form, str(YEAR), json.dumps(values).encode(), Signer(key, cert))
    assert resp.status_code == 202, resp.text
    return wait_for_steps(stack.config.url("intake"), resp.json()["submission_id"], {"timeliness_recorded"})


def timeliness(body: dict) -> dict:
    return next(t for t in body["timeline"] if t["step"] == "timeliness_recorded")["detail"]


def test_a_deadline_night_to_the_second(stack, ca, campaign):
    early, on_the_second, a_second_late, never = SCHOOLS
    bootstrap = stack.config.kafka_bootstrap
    # a week before: one school delivers; the week's reminders then reach the three others only
    at(stack, datetime(2032, 1, 5, 12, 0, tzinfo=ALMATY))
    assert timeliness(deliver(stack, ca, early, figures(100, 101)))["on_time"] is True
    at(stack, datetime(2032, 1, 6, 0, 0, tzinfo=ALMATY))
    reminders = read_topic(bootstrap, "uise.deadline.reminder.v1",
                           lambda ev: len([e for e in of_form(ev, "DL-7") if e["lead"] == "P7D"]) >= 3)
    week = [e for e in of_form(reminders, "DL-7") if e["lead"] == "P7D"]
    assert sorted(e["participant_id"] for e in week) == sorted([on_the_second, a_second_late, never])
    assert all(e["kind"] == "before" and e["recipient_id"] == e["participant_id"] for e in week)

    # the last second of the deadline day is on time; the first second of the next day is late
    at(stack, DEADLINE7)
    last_second = timeliness(deliver(stack, ca, on_the_second, figures(90, 91)))
    assert last_second["on_time"] is True and last_second["deadline_at"] == DEADLINE7.isoformat()
    at(stack, DEADLINE7 + timedelta(seconds=1))
    first_late = timeliness(deliver(stack, ca, a_second_late, figures(80, 81)))
    assert first_late["on_time"] is False and first_late["calendar_days_late"] == 1

    # at the deadline the school that never delivered is missing, and only it
    violations = read_topic(bootstrap, "uise.deadline.violation.v1",
                            lambda ev: any(e["kind"] == "missing" and e["participant_id"] == never
                                           for e in of_form(ev, "DL-7")))
    missing = [e for e in of_form(violations, "DL-7") if e["kind"] == "missing"]
    # the sweep is due at 00:00:00 too: it may come before deadline has read that second's
    # delivery, which then closes its `missing` as late; the on-time schools are never swept
    assert never in {e["participant_id"] for e in missing}
    assert {e["participant_id"] for e in missing} <= {never, a_second_late}
    assert all(e["recipient_id"] == DISTRICT for e in missing)
    # and the district is due to consolidate, listing it as missing
    dues = read_topic(bootstrap, "uise.consolidation.due.v1", lambda ev: bool(district_dues(ev, "DL-7")))
    [first] = district_dues(dues, "DL-7")[:1]
    assert (first["reason"], first["due_id"]) == ("deadline", f"{DISTRICT}:DL-7:{YEAR}:1")
    # (nothing is accepted in this rehearsal: the signature service refuses a signingTime years
    # before the rehearsal's clock, so every school is missing here; the handlers' tests cover
    # the included, late and update cases)
    assert never in first["missing"] and sorted(first["missing"] + first["included"]) == sorted(SCHOOLS)
    assert first["level"] == "district" and datetime.fromisoformat(first["deadline_at"]) == datetime(2032, 1, 20, 23, 59, 59, tzinfo=ALMATY)

    # a day later (before DL-8's deadline, which the next test crosses) it delivers: late
    at(stack, DEADLINE7 + timedelta(days=1))
    assert timeliness(deliver(stack, ca, never, figures(70, 71)))["on_time"] is False
    violations = read_topic(bootstrap, "uise.deadline.violation.v1",
                            lambda ev: {never, a_second_late} <= {e["participant_id"] for e in of_form(ev, "DL-7")
                                                                  if e["kind"] == "late"})
    closed = [e for e in of_form(violations, "DL-7") if e["participant_id"] == never and e["kind"] == "late"]
    assert len(closed) == 1 and closed[0]["replaces_missing"] is True
    kinds = Counter((e["participant_id"], e["kind"]) for e in of_form(violations, "DL-7"))
    assert kinds[(a_second_late, "late")] == 1 and kinds[(never, "late")] == 1  # each late once
    assert not any(p in (early, on_the_second) for p, _k in kinds)

    # the district's live figures
    view = httpx.get(f"{stack.config.url('deadline')}/v1/nodes/{DISTRICT}/timeliness",
                     params={"form_code": "DL-7", "period": str(YEAR)}, headers=bearer(data_office_token())).json()
    assert (view["expected"], view["delivered"], view["on_time"], view["late"]) == (4, 4, 2, 2)
    assert (view["reporting_rate"], view["reporting_rate_on_time"]) == (1.0, 0.5)


def test_killing_the_deadline_service_across_a_deadline_raises_each_violation_once(stack, campaign):
    at(stack, DEADLINE8 - timedelta(hours=1))
    stack.kill_service("deadline")  # SIGKILL: whatever it held in memory is gone
    at(stack, DEADLINE8 + timedelta(hours=1))
    stack.start_service("deadline")
    violations = read_topic(stack.config.kafka_bootstrap, "uise.deadline.violation.v1",
                            lambda ev: len([e for e in of_form(ev, "DL-8") if e["kind"] == "missing"]) >= 4)
    time.sleep(3)  # anything a replay would add arrives in this time
    violations = read_topic(stack.config.kafka_bootstrap, "uise.deadline.violation.v1", lambda ev: False, timeout=5)
    counts = Counter(e["participant_id"] for e in of_form(violations, "DL-8") if e["kind"] == "missing")
    assert counts == {school: 1 for school in SCHOOLS}
    everyone = Counter(e["participant_id"] for e in violations if e["form_code"] == "DL-8" and e["kind"] == "missing")
    assert set(everyone.values()) == {1}, everyone  # the other schools of the country: once each too
    # the district was told once, with all four missing
    dues = district_dues(read_topic(stack.config.kafka_bootstrap, "uise.consolidation.due.v1", lambda ev: False,
                                    timeout=5), "DL-8")
    assert [(e["reason"], sorted(e["missing"])) for e in dues] == [("deadline", sorted(SCHOOLS))], dues
