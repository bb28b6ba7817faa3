"""Information requests at deadline (clause 12): each level's deadline from its members' `due_at`
with timers as for a list's form; expected = exactly the request's members at a level under a
node; `consolidation.due` for a request form (complete, and at the targets' deadline with the
missing); replays change nothing. On SQLite and on PostgreSQL."""

from __future__ import annotations

import os
import uuid
from datetime import datetime, timedelta
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
    Category,
    ConsolidationDue,
    DeadlineChanged,
    FormDefinition,
    FormField,
    InfoRequestIssued,
    Level,
    ParticipantUpserted,
    SubmissionAccepted,
    SubmissionReceived,
)
from uise_contracts.examples import EXAMPLES
from uise_deadline import consolidation, handlers
from uise_deadline.adapters import MIGRATIONS, Deadline, Timer
from uise_deadline.expectations import expected, form_of
from uise_deadline.handlers import Schedule
from uise_deadline.scheduler import Scheduler

ALMATY = ZoneInfo("Asia/Almaty")
POSTGRES_URL = os.environ.get("UISE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
MINISTRY, REGION, DISTRICT, OTHER = "100140011059", "210240000018", "210340000013", "210340000024"
ASKED = ["220440000019", "220440000029"]
NOT_ASKED, FAR = "220440000039", "220440000049"  # a school of the same district, one of the other district
SCHEDULE = Schedule(["P7D", "P1D"], "P1D")
PERIOD = "2031-02-01"
DUE = datetime(2031, 2, 10, 18, tzinfo=ALMATY)
FORM = FormDefinition(code="IR-9", title_kk="Сұрау", title_ru="Запрос", title_en="Request", category=Category.other,
                      period_type="as_of_date", respondent_kinds=["school"],
                      fields=[FormField(code="computers", title="Computers")],
                      deadline_days={Level.organization: 9, Level.district: 12, Level.region: 15})


def member(pid: str, role: str, level: Level, parent: str, days: int) -> InfoRequestIssued:
    return InfoRequestIssued(request_id="ir-9", issued_by="iin:900101300011", form_code=FORM.code,
                             to_participant_id=pid, due_at=DUE + timedelta(days=days), role=role, level=level,
                             parent_id=parent, period=PERIOD, form=FORM, title="Computers")


MEMBERS = [*(member(s, "target", Level.organization, DISTRICT, 0) for s in ASKED),
           member(DISTRICT, "relay", Level.district, REGION, 3), member(REGION, "relay", Level.region, MINISTRY, 6)]


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request, tmp_path):
    service = f"t{uuid.uuid4().hex[:8]}"
    if request.param == "sqlite":
        eng = make_engine(f"sqlite:///{tmp_path / 'unit.db'}", "unit")
    else:
        try:
            eng = make_engine(POSTGRES_URL, service)
        except Exception as exc:
            pytest.fail(f"PostgreSQL is required at {POSTGRES_URL} (or set UISE_TEST_POSTGRES_URL): {exc}")
    migrate(eng, [COMMON_MIGRATION, *MIGRATIONS])
    for pid, level, kind, parent in ((MINISTRY, Level.ministry, "ministry", None),
                                     (REGION, Level.region, "region", MINISTRY),
                                     (DISTRICT, Level.district, "district", REGION),
                                     (OTHER, Level.district, "district", REGION),
                                     *((s, Level.organization, "school", DISTRICT) for s in [*ASKED, NOT_ASKED]),
                                     (FAR, Level.organization, "school", OTHER)):
        run_handler(eng, handlers.on_participant, ParticipantUpserted(
            participant_id=pid, bin=pid, level=level, kind=kind, parent_id=parent, name_kk="x", name_ru="x"))
    yield eng
    if request.param == "postgresql":
        with eng.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "uise_{service}" CASCADE'))
    eng.dispose()


def issue(engine) -> list:
    out = []
    for event in MEMBERS:
        out += run_handler(engine, handlers.make_on_inforequest(SCHEDULE), event)
    return out


def accept(engine, who: str, sid: str, to: str, at: datetime) -> list[ConsolidationDue]:
    base: SubmissionReceived = EXAMPLES[SubmissionReceived]
    run_handler(engine, handlers.on_received, base.model_copy(update={
        "submission_id": sid, "participant_id": who, "form_code": FORM.code, "period": PERIOD, "delivered_at": at}))
    event = SubmissionAccepted(submission_id=sid, participant_id=who, recipient_id=to, form_code=FORM.code,
                               period=PERIOD)
    return [e for e in run_handler(engine, consolidation.on_accepted, event) if isinstance(e, ConsolidationDue)]


class Runtime(SimpleNamespace):
    def __init__(self, engine, at: datetime) -> None:
        super().__init__(engine=engine, clock=Clock(fixed=at), relay=SimpleNamespace(wake=lambda: None))

    def emit(self, session, event) -> None:
        add_event(session, event, "deadline")


def test_each_level_gets_its_members_deadline_and_timers_once(engine):
    changed = issue(engine)
    assert sorted((c.level.value, c.new_deadline_at) for c in changed if isinstance(c, DeadlineChanged)) == [
        ("district", DUE + timedelta(days=3)), ("organization", DUE), ("region", DUE + timedelta(days=6))]
    assert issue(engine) == []  # replayed: nothing new
    with Session(engine) as s:
        row = s.get(Deadline, (FORM.code, PERIOD, "organization"))
        assert handlers.aware(row.deadline_at) == DUE  # exactly the Ministry's time, not 23:59:59
        timers = s.exec(select(Timer).where(Timer.form_code == FORM.code, Timer.level == "organization")).all()
        assert {t.kind for t in timers} == {"reminder", "sweep", "escalation"}
        form = form_of(s, FORM.code, PERIOD)
        assert form.request_id == "ir-9"
        assert sorted(p.participant_id for p in expected(s, form, PERIOD, "organization")) == ASKED
        assert [p.participant_id for p in expected(s, form, PERIOD, "district")] == [DISTRICT]
        assert handlers.deadline_for(s, FORM.code, PERIOD, "district") == DUE + timedelta(days=3)


def test_the_district_consolidates_exactly_the_asked_schools_and_the_region_its_relay(engine):
    issue(engine)
    assert accept(engine, ASKED[0], "a0", DISTRICT, DUE - timedelta(days=1)) == []
    [due] = accept(engine, ASKED[1], "a1", DISTRICT, DUE - timedelta(days=1))
    assert (due.reason, due.node_id, due.included, due.missing) == ("complete", DISTRICT, ASKED, [])
    assert due.deadline_at == DUE + timedelta(days=3)
    [up] = accept(engine, DISTRICT, "d0", REGION, DUE + timedelta(days=1))
    assert (up.reason, up.node_id, up.included) == ("complete", REGION, [DISTRICT])  # not the other district
    [national] = accept(engine, REGION, "r0", MINISTRY, DUE + timedelta(days=2))
    assert (national.node_id, national.included, national.level) == (MINISTRY, [REGION], Level.ministry)


def test_at_the_targets_deadline_the_district_consolidates_with_the_missing_target(engine):
    issue(engine)
    accept(engine, ASKED[0], "a0", DISTRICT, DUE - timedelta(days=1))
    at = DUE + timedelta(seconds=1)
    scheduler = Scheduler(Runtime(engine, at), 1, 30)
    while scheduler.run_due():
        pass
    with Session(engine) as s:
        rows = s.exec(select(OutboxRow).order_by(OutboxRow.id)).all()
    dues = [ConsolidationDue.model_validate_json(r.body) for r in rows if r.topic.startswith("uise.consolidation.due")]
    assert [(d.reason, d.node_id, d.included, d.missing) for d in dues] == [
        ("deadline", DISTRICT, [ASKED[0]], [ASKED[1]])]
    missing = [r for r in rows if r.topic.startswith("uise.deadline.violation")]
    assert len(missing) == 1 and ASKED[1] in missing[0].body  # never the schools not asked
