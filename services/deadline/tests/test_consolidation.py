"""`consolidation.due`: a node's due when complete or at its subordinates' deadline, updates and
corrections after it, returns, replays and replicas, and the hierarchy in force for a period; on
SQLite and on PostgreSQL, with the handlers and the timer loop as the service runs them."""

from __future__ import annotations

import os
import threading
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text
from sqlmodel import Session, select

from uise_common.clock import Clock
from uise_common.db import make_engine, migrate
from uise_common.outbox import OutboxRow, add_event
from uise_common.service import COMMON_MIGRATION
from uise_common.testing import run_handler
from uise_contracts.events import (
    ConsolidationDue,
    DeadlineViolation,
    FormListApproved,
    Level,
    ParentTerm,
    ParticipantUpserted,
    SubmissionAccepted,
    SubmissionReceived,
    SubmissionReturned,
)
from uise_contracts.examples import EXAMPLES, SCHOOL_FORM
from uise_deadline import consolidation, handlers, views
from uise_deadline.adapters import MIGRATIONS
from uise_deadline.expectations import form_of
from uise_deadline.handlers import Schedule
from uise_deadline.scheduler import Scheduler

ALMATY = ZoneInfo("Asia/Almaty")
POSTGRES_URL = os.environ.get("UISE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
MINISTRY, REGION, DISTRICT, OTHER = "100140011059", "210240000018", "210340000013", "210340000024"
SCHOOLS = ["220440000019", "220440000029", "220440000039", "220440000049"]
MOVED = "220440000059"
SCHEDULE = Schedule(["P7D", "P1D", "PT3H"], "P1D")
YEAR, PERIOD = 2031, "2031"
# SCH-1 for 2031: schools by Mon 2032-01-12, districts by Tue 2032-01-20, regions by Fri 2032-01-30
# (23:59:59 Almaty); the Ministry has no deadline of its own.
DEADLINE = datetime(2032, 1, 12, 23, 59, 59, tzinfo=ALMATY)
DISTRICT_DEADLINE = datetime(2032, 1, 20, 23, 59, 59, tzinfo=ALMATY)
FORM = SCHOOL_FORM.model_copy(update={"deadline_days": {Level.organization: 10, Level.district: 20,
                                                          Level.region: 30}})
QUARTERLY = SCHOOL_FORM.model_copy(update={"code": "SCH-Q", "period_type": "quarterly",
                                           "deadline_days": {Level.organization: 10}})


def participant(pid: str, level: Level, kind: str, parent: str | None, parents=()) -> ParticipantUpserted:
    return ParticipantUpserted(participant_id=pid, bin=pid, level=level, kind=kind, parent_id=parent,
                               name_kk="x", name_ru="x", parents=list(parents))


def world(kind: str, tmp_path):
    """A ministry, a region, a district with four schools and the 2031 list, on `kind`."""
    service = f"t{uuid.uuid4().hex[:8]}"
    if kind == "sqlite":
        eng = make_engine(f"sqlite:///{tmp_path / 'unit.db'}", "unit")
    else:
        try:
            eng = make_engine(POSTGRES_URL, service)
        except Exception as exc:
            pytest.fail(f"PostgreSQL is required at {POSTGRES_URL} (or set UISE_TEST_POSTGRES_URL): {exc}")
    migrate(eng, [COMMON_MIGRATION, *MIGRATIONS])
    for event in (participant(MINISTRY, Level.ministry, "ministry", None),
                  participant(REGION, Level.region, "region", MINISTRY),
                  participant(DISTRICT, Level.district, "district", REGION),
                  *(participant(s, Level.organization, "school", DISTRICT) for s in SCHOOLS)):
        run_handler(eng, handlers.on_participant, event)
    run_handler(eng, handlers.make_on_formlist(SCHEDULE), FormListApproved(
        year=YEAR, version=1, order_no="1", order_date=date(2031, 1, 15), forms=[FORM, QUARTERLY]))
    yield eng
    if kind == "postgresql":
        with eng.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "uise_{service}" CASCADE'))
    eng.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request, tmp_path):
    yield from world(request.param, tmp_path)


@pytest.fixture
def pg_engine(tmp_path):
    yield from world("postgresql", tmp_path)


def deliver(engine, who: str, at: datetime, sid: str, supersedes: str | None = None, form: str = FORM.code,
            period: str = PERIOD) -> list:
    base: SubmissionReceived = EXAMPLES[SubmissionReceived]
    return run_handler(engine, handlers.on_received, base.model_copy(update={
        "submission_id": sid, "participant_id": who, "form_code": form, "period": period, "delivered_at": at,
        "supersedes": supersedes}))


def accept(engine, who: str, sid: str, supersedes: str | None = None, to: str = DISTRICT, form: str = FORM.code,
           period: str = PERIOD) -> list[ConsolidationDue]:
    event = SubmissionAccepted(submission_id=sid, participant_id=who, recipient_id=to, form_code=form,
                               period=period, supersedes=supersedes)
    return [e for e in run_handler(engine, consolidation.on_accepted, event) if isinstance(e, ConsolidationDue)]


def deliver_and_accept(engine, who: str, at: datetime, sid: str, supersedes: str | None = None,
                       **kw) -> list[ConsolidationDue]:
    deliver(engine, who, at, sid, supersedes, **{k: v for k, v in kw.items() if k != "to"})
    return accept(engine, who, sid, supersedes, **kw)


def give_back(engine, who: str, sid: str) -> list[ConsolidationDue]:
    return run_handler(engine, consolidation.on_returned, SubmissionReturned(
        submission_id=sid, participant_id=who, recipient_id=DISTRICT, form_code=FORM.code, period=PERIOD,
        comment="classes do not match", returned_by="iin:870303400044", returned_at=datetime.now(UTC)))


class Runtime(SimpleNamespace):
    def __init__(self, engine, at: datetime) -> None:
        super().__init__(engine=engine, clock=Clock(fixed=at), relay=SimpleNamespace(wake=lambda: None))

    def emit(self, session, event) -> None:
        add_event(session, event, "deadline")


def outbox(engine, model, prefix: str) -> list:
    with Session(engine) as s:
        rows = s.exec(select(OutboxRow).order_by(OutboxRow.id)).all()
    return [model.model_validate_json(r.body) for r in rows if r.topic.startswith(prefix)]


def swept_dues(engine, form: str = FORM.code) -> list[ConsolidationDue]:
    return [d for d in outbox(engine, ConsolidationDue, "uise.consolidation.due") if d.form_code == form]


def run_timers(engine, at: datetime) -> int:
    """Every timer due by `at` (the loop reads them in batches), as the service's ticks would."""
    fired, scheduler = 0, Scheduler(Runtime(engine, at), 1, 30)
    while n := scheduler.run_due():
        fired += n
    return fired


def test_a_district_is_due_once_every_expected_school_is_accepted(engine):
    early = DEADLINE - timedelta(days=2)
    for i, school in enumerate(SCHOOLS[:-1]):
        assert deliver_and_accept(engine, school, early, f"s{i}") == []  # not complete yet: nothing
    [due] = deliver_and_accept(engine, SCHOOLS[-1], early, "s3")
    assert (due.reason, due.node_id, due.level, due.due_id) == ("complete", DISTRICT, Level.district,
                                                               f"{DISTRICT}:SCH-1:2031:1")
    assert due.included == SCHOOLS and due.missing == due.late == due.returned == []
    assert due.included_submissions == {s: f"s{i}" for i, s in enumerate(SCHOOLS)}
    assert (due.expected, due.received, due.deadline_at, due.submission_id) == (4, 4, DISTRICT_DEADLINE, None)
    # the schools' deadline changes nothing for a district already told with the same state
    assert run_timers(engine, DEADLINE + timedelta(seconds=1)) > 0
    assert swept_dues(engine) == []


def test_at_the_schools_deadline_the_district_is_due_with_the_missing_and_a_late_one_is_an_update(engine):
    for i, school in enumerate(SCHOOLS[:-1]):
        deliver_and_accept(engine, school, DEADLINE - timedelta(days=1), f"s{i}")
    rt = Runtime(engine, DEADLINE + timedelta(seconds=1))
    run_timers(engine, DEADLINE + timedelta(seconds=1))
    [due] = swept_dues(engine)
    assert (due.reason, due.due_id, due.missing, due.included) == (
        "deadline", f"{DISTRICT}:SCH-1:2031:1", [SCHOOLS[-1]], SCHOOLS[:-1])
    assert (due.expected, due.received) == (4, 3)
    assert Scheduler(rt, 1, 30).run_due() == 0 and len(swept_dues(engine)) == 1  # once, whoever asks
    [update] = deliver_and_accept(engine, SCHOOLS[-1], DEADLINE + timedelta(days=2), "s3")
    assert (update.reason, update.due_id, update.late, update.missing) == (
        "update", f"{DISTRICT}:SCH-1:2031:2", [SCHOOLS[-1]], [])
    assert update.included == SCHOOLS and update.submission_id is None
    with Session(engine) as s:
        view = views.node_consolidation(s, DISTRICT, FORM.code, PERIOD)
    assert (view["seq"], view["last_reason"], view["late"], view["complete"]) == (2, "update", [SCHOOLS[-1]], True)


def test_after_the_district_delivered_a_change_below_is_a_correction_of_its_submission(engine):
    for i, school in enumerate(SCHOOLS):
        deliver_and_accept(engine, school, DEADLINE - timedelta(days=1), f"s{i}")
    deliver(engine, DISTRICT, DEADLINE + timedelta(days=2), "d1")
    [fix] = deliver_and_accept(engine, SCHOOLS[0], DEADLINE + timedelta(days=3), "s0b", supersedes="s0")
    assert (fix.reason, fix.submission_id, fix.due_id) == ("correction", "d1", f"{DISTRICT}:SCH-1:2031:2")
    assert fix.included_submissions[SCHOOLS[0]] == "s0b" and fix.late == []  # judged by its first version
    # the district corrects its own submission; a later return below names that version
    deliver(engine, DISTRICT, DEADLINE + timedelta(days=4), "d2", supersedes="d1")
    [back] = give_back(engine, SCHOOLS[1], "s1")
    assert (back.reason, back.submission_id, back.returned, back.missing) == ("correction", "d2", [SCHOOLS[1]], [])


def test_a_returned_submission_leaves_the_consolidation_until_its_correction_is_accepted(engine):
    for i, school in enumerate(SCHOOLS):
        deliver_and_accept(engine, school, DEADLINE - timedelta(days=1), f"s{i}")
    [back] = give_back(engine, SCHOOLS[2], "s2")
    assert (back.reason, back.returned, back.missing) == ("update", [SCHOOLS[2]], [])
    assert SCHOOLS[2] not in back.included and SCHOOLS[2] not in back.included_submissions
    # the correction arrives (after the deadline: still on time, by its first version)
    [again] = deliver_and_accept(engine, SCHOOLS[2], DEADLINE + timedelta(days=1), "s2b", supersedes="s2")
    assert (again.reason, again.returned, again.included_submissions[SCHOOLS[2]], again.late) == (
        "update", [], "s2b", [])
    # a return read before the acceptance it follows (two topics, any order) waits for it
    deliver(engine, SCHOOLS[3], DEADLINE, "s3b", supersedes="s3")
    assert give_back(engine, SCHOOLS[3], "s3b") == []  # s3b is not accepted yet: s3 still counts
    [late_read] = accept(engine, SCHOOLS[3], "s3b", supersedes="s3")
    assert (late_read.returned, late_read.due_id) == ([SCHOOLS[3]], f"{DISTRICT}:SCH-1:2031:4")


def test_replays_emit_nothing_twice(engine):
    for i, school in enumerate(SCHOOLS):
        deliver_and_accept(engine, school, DEADLINE - timedelta(days=1), f"s{i}")
    assert accept(engine, SCHOOLS[0], "s0") == []  # the same acceptance again
    assert len(give_back(engine, SCHOOLS[0], "s0")) == 1
    assert give_back(engine, SCHOOLS[0], "s0") == []
    form = FORM.code
    with Session(engine) as s:  # the state has not changed: evaluating it again emits nothing
        assert consolidation.evaluate(s, form_of(s, form, PERIOD), PERIOD, "organization", DISTRICT) == []
        assert consolidation.evaluate(s, form_of(s, form, PERIOD), PERIOD, "organization", DISTRICT,
                                      deadline_passed=True) == []
    with Session(engine) as s:
        assert views.node_consolidation(s, DISTRICT, form, PERIOD)["seq"] == 2


def test_a_school_moved_to_another_district_counts_where_it_answered_for_the_period(engine):
    run_handler(engine, handlers.on_participant, participant(OTHER, Level.district, "district", REGION))
    run_handler(engine, handlers.on_participant, participant(
        MOVED, Level.organization, "school", OTHER,
        [ParentTerm(parent_id=DISTRICT, valid_from=date(2020, 1, 1), valid_to=date(2031, 6, 30)),
         ParentTerm(parent_id=OTHER, valid_from=date(2031, 7, 1))]))
    with Session(engine) as s:
        q2 = views.node_consolidation(s, DISTRICT, QUARTERLY.code, "2031-Q2")
        q3 = views.node_consolidation(s, DISTRICT, QUARTERLY.code, "2031-Q3")
        assert MOVED in q2["expected"] and MOVED not in q3["expected"]
        assert views.node_consolidation(s, OTHER, QUARTERLY.code, "2031-Q2") is None  # nobody to expect
        assert views.node_consolidation(s, OTHER, QUARTERLY.code, "2031-Q3")["expected"] == [MOVED]
    # Q3: the new district is complete with its one school; the old one is not touched
    [due] = deliver_and_accept(engine, MOVED, datetime(2031, 10, 5, tzinfo=ALMATY), "m3", to=OTHER,
                               form=QUARTERLY.code, period="2031-Q3")
    assert (due.node_id, due.reason, due.included) == (OTHER, "complete", [MOVED])
    # Q2's deadline (Mon 2031-07-10 + the calendar): the old district lists it as missing
    run_timers(engine, datetime(2031, 7, 20, tzinfo=ALMATY))
    q2_dues = [d for d in swept_dues(engine, QUARTERLY.code) if d.period == "2031-Q2"]
    assert [(d.node_id, d.reason) for d in q2_dues] == [(DISTRICT, "deadline")]
    assert q2_dues[0].missing == sorted([*SCHOOLS, MOVED])
    [violation] = [v for v in outbox(engine, DeadlineViolation, "uise.deadline.violation")
                   if v.participant_id == MOVED and v.period == "2031-Q2"]
    assert violation.recipient_id == DISTRICT  # its superior for that period, not today's


def test_a_region_consolidates_its_districts_and_the_ministry_its_regions_at_their_deadline(engine):
    for i, school in enumerate(SCHOOLS):
        deliver_and_accept(engine, school, DEADLINE - timedelta(days=1), f"s{i}")
    [due] = deliver_and_accept(engine, DISTRICT, DISTRICT_DEADLINE - timedelta(days=1), "d1", to=REGION)
    assert (due.node_id, due.level, due.reason, due.included) == (REGION, Level.region, "complete", [DISTRICT])
    assert due.deadline_at == datetime(2032, 1, 30, 23, 59, 59, tzinfo=ALMATY)
    run_timers(engine, datetime(2032, 2, 15, tzinfo=ALMATY))
    [ministry] = swept_dues(engine)  # the districts' sweep tells the region nothing new
    assert (ministry.node_id, ministry.level, ministry.reason, ministry.missing) == (
        MINISTRY, Level.ministry, "deadline", [REGION])
    assert ministry.deadline_at is None  # the list gives the Ministry no deadline of its own


def test_two_replicas_cannot_emit_the_same_step(pg_engine):
    """PostgreSQL, READ COMMITTED: the node's row is locked before its state is read, so the
    second replica waits, then sees the first one's work and has nothing to add."""
    engine = pg_engine
    for i, school in enumerate(SCHOOLS):
        deliver(engine, school, DEADLINE - timedelta(days=1), f"s{i}")
        if i < 3:
            accept(engine, school, f"s{i}")
    first = Session(engine)
    [due] = consolidation.on_accepted(SubmissionAccepted(
        submission_id="s3", participant_id=SCHOOLS[3], recipient_id=DISTRICT, form_code=FORM.code, period=PERIOD),
        first)[-1:]
    assert due.reason == "complete"
    second_result: list = []

    def second() -> None:
        with Session(engine) as s:
            second_result.extend(consolidation.evaluate(s, form_of(s, FORM.code, PERIOD), PERIOD, "organization",
                                                        DISTRICT, deadline_passed=True))
            s.commit()

    thread = threading.Thread(target=second)
    thread.start()
    time.sleep(0.5)
    assert thread.is_alive()  # waiting on the node's row
    first.commit()
    first.close()
    thread.join(10)
    assert second_result == []
