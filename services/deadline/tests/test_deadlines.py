"""Effective deadlines, timeliness, `missing` sweeps, reminders and the operator's calendar, on a
real SQLite database with the handlers and the timer loop as the service runs them."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import Session, select

from uise_common.clock import Clock
from uise_common.outbox import OutboxRow, add_event
from uise_common.testing import migrated_sqlite, run_handler
from uise_contracts.events import (
    DeadlineChanged,
    DeadlineReminder,
    DeadlineViolation,
    FormDefinition,
    FormListApproved,
    Level,
    ParticipantUpserted,
    SubmissionReceived,
)
from uise_contracts.examples import EXAMPLES, SCHOOL_FORM
from uise_deadline import handlers, views
from uise_deadline.adapters import MIGRATIONS, Deadline, Timer, Violation
from uise_deadline.handlers import Refused, Schedule
from uise_deadline.scheduler import Scheduler

ALMATY = ZoneInfo("Asia/Almaty")
DISTRICT, REGION = "210340000013", "210240000018"
SCHOOLS = ["220440000019", "220440000029", "220440000039", "220440000049"]
SCHEDULE = Schedule(["P7D", "P1D", "PT3H"], "P1D")
# SCH-1 (annual) for 2031: schools have 10 days after the year's end: Sat 2032-01-10, so the
# effective deadline is Mon 2032-01-12 23:59:59 Almaty (Sunday the 11th is a day off too).
YEAR = 2031
DEADLINE = datetime(2032, 1, 12, 23, 59, 59, tzinfo=ALMATY)
FORM = SCHOOL_FORM.model_copy(update={"deadline_days": {Level.organization: 10, Level.district: 20}})


def the_list(order_date: date = date(2031, 1, 15), forms: list[FormDefinition] | None = None) -> FormListApproved:
    return FormListApproved(year=YEAR, version=1, order_no="1", order_date=order_date, forms=forms or [FORM])


def participant(pid: str, level: Level, kind: str, parent: str | None) -> ParticipantUpserted:
    return ParticipantUpserted(participant_id=pid, bin=pid, level=level, kind=kind, parent_id=parent,
                               name_kk="x", name_ru="x")


@pytest.fixture
def engine(tmp_path):
    engine = migrated_sqlite(tmp_path, MIGRATIONS)
    run_handler(engine, handlers.on_participant, participant(REGION, Level.region, "region", "100140011059"))
    run_handler(engine, handlers.on_participant, participant(DISTRICT, Level.district, "district", REGION))
    for school in SCHOOLS:
        run_handler(engine, handlers.on_participant, participant(school, Level.organization, "school", DISTRICT))
    return engine


def approve(engine, **kw) -> list:
    return run_handler(engine, handlers.make_on_formlist(SCHEDULE), the_list(**kw))


def deliver(engine, school: str, at: datetime, sid: str, supersedes: str | None = None) -> list:
    base: SubmissionReceived = EXAMPLES[SubmissionReceived]
    return run_handler(engine, handlers.on_received, base.model_copy(update={
        "submission_id": sid, "participant_id": school, "period": str(YEAR), "delivered_at": at,
        "supersedes": supersedes}))


class Runtime(SimpleNamespace):
    """What the timer loop uses of a service runtime: its database, clock and outbox."""

    def __init__(self, engine, at: datetime) -> None:
        super().__init__(engine=engine, clock=Clock(fixed=at), relay=SimpleNamespace(wake=lambda: None))

    def emit(self, session, event) -> None:
        add_event(session, event, "deadline")


def emitted(engine, model) -> list:
    with Session(engine) as s:
        rows = s.exec(select(OutboxRow).order_by(OutboxRow.id)).all()
    return [model.model_validate_json(r.body) for r in rows if r.topic.startswith(
        {DeadlineViolation: "uise.deadline.violation", DeadlineReminder: "uise.deadline.reminder"}[model])]


def test_an_approved_list_publishes_every_deadline_with_its_timers(engine):
    events = approve(engine)
    published = {(e.period, e.level.value): e for e in events if isinstance(e, DeadlineChanged)}
    assert published[(str(YEAR), "organization")].new_deadline_at == DEADLINE
    assert published[(str(YEAR), "organization")].rule_date == date(2032, 1, 10)
    assert published[(str(YEAR), "organization")].reason == "published"
    # districts: 20 days after, Tue 2032-01-20: a working day, kept
    assert published[(str(YEAR), "district")].new_deadline_at == datetime(2032, 1, 20, 23, 59, 59, tzinfo=ALMATY)
    with Session(engine) as s:
        timers = s.exec(select(Timer).where(Timer.level == "organization")).all()
    assert {(t.kind, t.lead) for t in timers} == {("reminder", "P7D"), ("reminder", "P1D"), ("reminder", "PT3H"),
                                                  ("sweep", "PT0S"), ("escalation", "P1D")}
    sweep = next(t for t in timers if t.kind == "sweep")
    assert handlers.aware(sweep.due_at) == DEADLINE + timedelta(seconds=1)
    assert approve(engine) == []  # the same list again: nothing new to announce


def test_deadlines_that_passed_before_the_list_was_approved_get_no_timers(engine):
    approve(engine, order_date=date(2032, 2, 1))
    with Session(engine) as s:
        assert s.exec(select(Deadline)).all() and s.exec(select(Timer)).all() == []


def test_on_time_to_the_second_late_after_it_with_days(engine):
    approve(engine)
    [on_time] = deliver(engine, SCHOOLS[0], DEADLINE, "a")
    assert on_time.on_time is True and on_time.calendar_days_late == 0 and on_time.working_days_late == 0
    record, violation = deliver(engine, SCHOOLS[1], DEADLINE + timedelta(seconds=1), "b")
    assert record.on_time is False and record.calendar_days_late == 1 and record.working_days_late == 1
    assert (violation.kind, violation.submission_id, violation.replaces_missing) == ("late", "b", False)
    assert violation.recipient_id == DISTRICT
    # a correction after the deadline is late only if the first version was
    [fixed] = deliver(engine, SCHOOLS[0], DEADLINE + timedelta(days=3), "a2", supersedes="a")
    assert fixed.on_time is True and fixed.judged_by_submission_id == "a"
    [again] = deliver(engine, SCHOOLS[1], DEADLINE + timedelta(days=3), "b2", supersedes="b")
    assert again.on_time is False  # and no second violation
    assert deliver(engine, SCHOOLS[1], DEADLINE, "b") == []  # a replay changes nothing


def test_the_sweep_raises_missing_once_and_a_late_delivery_closes_it(engine):
    approve(engine)
    deliver(engine, SCHOOLS[0], DEADLINE - timedelta(days=2), "a")
    rt = Runtime(engine, DEADLINE + timedelta(seconds=1))
    scheduler = Scheduler(rt, 1, 30)
    assert scheduler.run_due() >= 1
    missing = [v for v in emitted(engine, DeadlineViolation) if v.kind == "missing"]
    assert sorted(v.participant_id for v in missing) == SCHOOLS[1:]
    assert all(v.recipient_id == DISTRICT and v.deadline_at == DEADLINE for v in missing)
    assert scheduler.run_due() == 0 and Scheduler(rt, 1, 30).run_due() == 0  # fired once, whoever asks
    record, closing = deliver(engine, SCHOOLS[3], DEADLINE + timedelta(days=4), "d")
    assert (closing.kind, closing.replaces_missing, closing.calendar_days_late) == ("late", True, 4)
    with Session(engine) as s:
        row = s.get(Violation, (SCHOOLS[3], SCH(), str(YEAR)))
        assert (row.kind, row.submission_id) == ("late", "d") and row.closed_at is not None


def SCH() -> str:  # noqa: N802 - the form's code
    return FORM.code


def test_reminders_reach_exactly_those_who_have_not_delivered_and_escalate_after(engine):
    approve(engine)
    deliver(engine, SCHOOLS[0], DEADLINE - timedelta(days=3), "a")
    Scheduler(Runtime(engine, DEADLINE - timedelta(days=1)), 1, 30).run_due()  # P7D and P1D are due
    before = emitted(engine, DeadlineReminder)
    assert {(r.participant_id, r.lead) for r in before} == {(s, lead) for s in SCHOOLS[1:] for lead in ("P7D", "P1D")}
    assert all(r.kind == "before" and r.recipient_id == r.participant_id for r in before)
    deliver(engine, SCHOOLS[1], DEADLINE - timedelta(hours=5), "b")
    Scheduler(Runtime(engine, DEADLINE - timedelta(hours=2)), 1, 30).run_due()  # PT3H
    assert {r.participant_id for r in emitted(engine, DeadlineReminder) if r.lead == "PT3H"} == set(SCHOOLS[2:])
    Scheduler(Runtime(engine, DEADLINE + timedelta(days=1, seconds=1)), 1, 30).run_due()  # sweep, escalation
    escalated = [r for r in emitted(engine, DeadlineReminder) if r.kind == "escalation"]
    assert {r.participant_id for r in escalated} == set(SCHOOLS[2:])
    assert {r.recipient_id for r in escalated} == {DISTRICT}


def test_a_claim_keeps_a_second_replica_off_until_its_lease_runs_out(engine):
    approve(engine)
    at = DEADLINE + timedelta(seconds=1)
    first, second = Scheduler(Runtime(engine, at), 1, 30), Scheduler(Runtime(engine, at), 1, 30)
    from uise_deadline.scheduler import claim, due

    with Session(engine) as s:
        [sweep_id] = [t.id for t in s.exec(select(Timer).where(Timer.kind == "sweep", Timer.level == "organization"))]
        assert claim(s, sweep_id, first.owner, datetime.now(UTC), timedelta(seconds=30))
        s.commit()
    with Session(engine) as s:
        assert sweep_id not in due(s, at, datetime.now(UTC), 100)  # claimed: the second replica passes it by
        assert not claim(s, sweep_id, second.owner, datetime.now(UTC), timedelta(seconds=30))
        # the first replica dies; once its lease has run out by the real clock the second takes over
        assert sweep_id in due(s, at, datetime.now(UTC) + timedelta(seconds=31), 100)
        assert claim(s, sweep_id, second.owner, datetime.now(UTC) + timedelta(seconds=31), timedelta(seconds=30))
        s.commit()
    assert second.fire_one(sweep_id, at)
    assert not first.fire_one(sweep_id, at)  # its claim is gone
    assert len([v for v in emitted(engine, DeadlineViolation) if v.kind == "missing"]) == len(SCHOOLS)


def test_an_operators_day_off_moves_a_deadline_later_and_an_earlier_one_is_refused(engine):
    friday = FORM.model_copy(update={"code": "FRI-1", "deadline_days": {Level.organization: 9}})  # Fri 2032-01-09
    approve(engine, forms=[FORM, friday])
    with Session(engine) as s:
        entry, events = handlers.add_calendar_entry(s, date(2032, 1, 9), "day_off", "Decree No. 7 of 2031-12-20",
                                                    None, "data office", SCHEDULE)
        entry_id = entry.id
        s.commit()
    [moved] = [e for e in events if e.form_code == "FRI-1"]
    assert (moved.old_deadline_at, moved.new_deadline_at) == (datetime(2032, 1, 9, 23, 59, 59, tzinfo=ALMATY), DEADLINE)
    assert (moved.reason, moved.decree) == ("calendar", "Decree No. 7 of 2031-12-20")
    with Session(engine) as s:
        sweep = s.exec(select(Timer).where(Timer.form_code == "FRI-1", Timer.kind == "sweep",
                                           Timer.level == "organization")).one()
        assert handlers.aware(sweep.due_at) == DEADLINE + timedelta(seconds=1)  # the timers moved too
    # withdrawing it would bring FRI-1 back to the Friday: refused, and nothing changes
    with Session(engine) as s, pytest.raises(Refused) as refused:
        handlers.withdraw_calendar_entry(s, entry_id, "data office", SCHEDULE)
    assert refused.value.code == "DEADLINE_WOULD_SHORTEN"
    # a Saturday made a working day would bring SCH-1 earlier (Sat 2032-01-10 instead of Monday)
    with Session(engine) as s, pytest.raises(Refused) as refused:
        handlers.add_calendar_entry(s, date(2032, 1, 10), "working_day", "Decree No. 8", None, "data office", SCHEDULE)
    assert refused.value.code == "DEADLINE_WOULD_SHORTEN" and refused.value.detail["form_code"] == FORM.code


def test_a_node_sees_expected_delivered_on_time_late_missing_and_the_rates(engine):
    approve(engine)
    deliver(engine, SCHOOLS[0], DEADLINE - timedelta(days=1), "a")
    deliver(engine, SCHOOLS[1], DEADLINE + timedelta(hours=1), "b")
    Scheduler(Runtime(engine, DEADLINE + timedelta(seconds=1)), 1, 30).run_due()
    with Session(engine) as s:
        view = views.node_timeliness(s, DISTRICT, FORM.code, str(YEAR))
    assert (view["expected"], view["delivered"], view["on_time"], view["late"], view["missing"]) == (4, 2, 1, 1, 2)
    assert (view["reporting_rate"], view["reporting_rate_on_time"]) == (0.5, 0.25)
    assert view["not_yet_delivered"] == SCHOOLS[2:]
    assert json.dumps(view)  # the API's answer
