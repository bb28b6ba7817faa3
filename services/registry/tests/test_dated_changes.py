"""Changes that take effect on a date (issue 10): a participant closed with a later date stays
active until that day has passed and is published again, inactive, the day after; closing twice
is refused; a move to another parent from a date keeps the history as `parents` and is
published again on its day. On a real database (SQLite, and PostgreSQL for two replicas racing),
with the business clock moved through its control file as a rehearsal moves it."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlmodel import Session, select

from uise_common import clock as business_clock
from uise_common.auth import DATA_OFFICE, HEAD, OFFICER
from uise_common.clock import Clock, write_control
from uise_common.db import make_engine, migrate
from uise_common.outbox import OutboxRow
from uise_common.service import COMMON_MIGRATION, ServiceRuntime
from uise_common.settings import Settings
from uise_common.testing import TokenIssuer, migrated_sqlite
from uise_contracts.events import ParentTerm, ParticipantUpserted
from uise_registry import access, handlers, importing
from uise_registry.adapters import MIGRATIONS, AuditEntry, Participant
from uise_registry.demo import DISTRICT, MINISTRY, REGION, SCHOOLS, demo_participants
from uise_registry.domain import FIRST_KNOWN, RegistryError
from uise_registry.entrypoint import SPEC, publish_due
from uise_registry.identifiers import make_valid

SCHOOL, SIBLING = list(SCHOOLS)
OTHER_DISTRICT = "210340000023"  # a second district of the same region
OTHER_REGION, FAR_DISTRICT = make_valid("21024000002"), make_valid("21034000004")
T = date(2026, 11, 2)  # "today" in these tests


def code_of(fn) -> str:
    with pytest.raises(RegistryError) as exc:
        fn()
    return exc.value.code


def body(pid: str, level: str, kind: str, parent: str | None, **kw) -> dict:
    return dict(bin=pid, level=level, kind=kind, parent_id=parent, name_kk=f"kk {pid}", name_ru=f"ru {pid}", **kw)


def hierarchy() -> list[dict]:
    rows = [{k: v for k, v in p.items() if k != "participant_id"} for p in demo_participants()]
    rows[3:3] = [body(OTHER_DISTRICT, "district", "district", REGION),
                 body(OTHER_REGION, "region", "region", MINISTRY),
                 body(FAR_DISTRICT, "district", "district", OTHER_REGION)]
    return rows


@pytest.fixture
def session(tmp_path):
    with Session(migrated_sqlite(tmp_path, MIGRATIONS)) as s:
        for p in hierarchy():
            handlers.upsert_participant(s, p["bin"], handlers.ParticipantCommand(**p), "test", today=T)
        s.flush()
        yield s


def event_of(s: Session, pid: str, day: date) -> ParticipantUpserted:
    return handlers.participant_event(s, s.get(Participant, pid), day)


# --- closing with a date ----------------------------------------------------------------------


def test_a_future_close_keeps_the_participant_active_until_the_day_has_passed(session):
    event = handlers.close_participant(session, SCHOOL, T + timedelta(days=10), "t", today=T)
    assert (event.active, event.active_to) == (True, T + timedelta(days=10))
    assert session.get(Participant, SCHOOL).due_on == T + timedelta(days=11)
    assert event_of(session, SCHOOL, T + timedelta(days=10)).active is True  # its last day
    # nothing is due before the day after; then it goes out once, inactive
    assert handlers.due_participants(session, T + timedelta(days=10)) == []
    assert handlers.take_effect(session, SCHOOL, T + timedelta(days=10), "sys") is None
    assert handlers.due_participants(session, T + timedelta(days=11)) == [SCHOOL]
    later = handlers.take_effect(session, SCHOOL, T + timedelta(days=11), "sys")
    assert later is not None and later.active is False and later.active_to == T + timedelta(days=10)
    assert handlers.take_effect(session, SCHOOL, T + timedelta(days=12), "sys") is None  # done: idempotent
    assert session.get(Participant, SCHOOL).due_on is None
    last = session.exec(select(AuditEntry).where(AuditEntry.entity_id == SCHOOL)
                        .order_by(AuditEntry.id.desc())).first()
    assert (last.actor, last.action) == ("sys", "in-force")


def test_a_close_in_the_past_is_inactive_at_once_and_nothing_is_due(session):
    event = handlers.close_participant(session, SCHOOL, T - timedelta(days=1), "t", today=T)
    assert event.active is False and session.get(Participant, SCHOOL).due_on is None


def test_closing_twice_is_refused(session):
    handlers.close_participant(session, SCHOOL, T + timedelta(days=30), "t", today=T)
    for day in (T + timedelta(days=60), T + timedelta(days=30), T):
        with pytest.raises(RegistryError) as exc:
            handlers.close_participant(session, SCHOOL, day, "t", today=T)
        assert exc.value.code == "ALREADY_CLOSED"
        assert exc.value.kk and exc.value.ru and exc.value.en


def test_a_department_closes_only_when_no_subordinate_answers_to_it_after_its_last_day(session):
    last = T + timedelta(days=30)
    assert code_of(lambda: handlers.close_participant(session, DISTRICT, last, "t", today=T)) == "HAS_ACTIVE_CHILDREN"
    # a school that closes after the district's last day still answers to it: refused
    handlers.close_participant(session, SCHOOL, last + timedelta(days=1), "t", today=T)
    handlers.close_participant(session, SIBLING, last, "t", today=T)
    assert code_of(lambda: handlers.close_participant(session, DISTRICT, last, "t", today=T)) == "HAS_ACTIVE_CHILDREN"
    # closing by the same day is fine (as an import closing them all in one file)
    assert handlers.close_participant(session, DISTRICT, last + timedelta(days=1), "t", today=T).active is True


def test_a_district_merged_into_another_closes_once_its_schools_move_out_the_day_after(session):
    merger = T + timedelta(days=30)
    for school in SCHOOLS:
        handlers.move_participant(session, school, OTHER_DISTRICT, merger, "t", today=T)
    # not two days before: the schools still answer to it on the day before the merger
    assert code_of(lambda: handlers.close_participant(session, DISTRICT, merger - timedelta(days=2), "t",
                                                      today=T)) == "HAS_ACTIVE_CHILDREN"
    event = handlers.close_participant(session, DISTRICT, merger - timedelta(days=1), "t", today=T)
    assert event.active is True and event.active_to == merger - timedelta(days=1)


# --- moves ------------------------------------------------------------------------------------


def test_a_move_with_a_later_date_keeps_the_history_and_takes_effect_on_its_day(session):
    on = T + timedelta(days=5)
    event = handlers.move_participant(session, SCHOOL, OTHER_DISTRICT, on, "t", today=T)
    assert event.parent_id == DISTRICT  # the parent in force today
    assert event.parents == [ParentTerm(parent_id=DISTRICT, valid_from=FIRST_KNOWN, valid_to=on - timedelta(days=1)),
                             ParentTerm(parent_id=OTHER_DISTRICT, valid_from=on)]
    assert (event.parent_on(on - timedelta(days=1)), event.parent_on(on)) == (DISTRICT, OTHER_DISTRICT)
    assert access.chain(session, SCHOOL)[1] == DISTRICT and session.get(Participant, SCHOOL).due_on == on
    assert handlers.take_effect(session, SCHOOL, on - timedelta(days=1), "sys") is None
    moved = handlers.take_effect(session, SCHOOL, on, "sys")
    assert moved is not None and moved.parent_id == OTHER_DISTRICT and moved.parents == event.parents
    assert access.chain(session, SCHOOL) == [SCHOOL, OTHER_DISTRICT, REGION, MINISTRY]
    assert handlers.take_effect(session, SCHOOL, on, "sys") is None


def test_a_move_from_today_or_earlier_takes_effect_at_once_and_the_first_term_starts_at_active_from(session):
    p = next(p for p in hierarchy() if p["bin"] == SIBLING)
    handlers.upsert_participant(session, SIBLING, handlers.ParticipantCommand(**{**p, "active_from": "2015-09-01"}),
                                "t", today=T)
    event = handlers.move_participant(session, SIBLING, OTHER_DISTRICT, T, "t", today=T)
    assert event.parent_id == OTHER_DISTRICT and session.get(Participant, SIBLING).parent_id == OTHER_DISTRICT
    assert event.parents[0] == ParentTerm(parent_id=DISTRICT, valid_from=date(2015, 9, 1),
                                          valid_to=T - timedelta(days=1))
    assert session.get(Participant, SIBLING).due_on is None
    # and back again later: a third term
    back = handlers.move_participant(session, SIBLING, DISTRICT, T + timedelta(days=100), "t", today=T)
    assert [t.parent_id for t in back.parents] == [DISTRICT, OTHER_DISTRICT, DISTRICT]


def test_moves_are_refused_with_their_reason(session):
    on = T + timedelta(days=5)
    move = handlers.move_participant
    assert code_of(lambda: move(session, SCHOOL, "999999999990", on, "t", today=T)) == "PARENT_UNKNOWN"
    assert code_of(lambda: move(session, "220440000039", DISTRICT, on, "t", today=T)) == "PARTICIPANT_UNKNOWN"
    assert code_of(lambda: move(session, SCHOOL, REGION, on, "t", today=T)) == "PARENT_WRONG_LEVEL"
    assert code_of(lambda: move(session, DISTRICT, SCHOOL, on, "t", today=T)) == "MOVE_CYCLE"
    assert code_of(lambda: move(session, DISTRICT, DISTRICT, on, "t", today=T)) == "MOVE_CYCLE"
    assert code_of(lambda: move(session, SCHOOL, DISTRICT, on, "t", today=T)) == "MOVE_SAME_PARENT"
    assert code_of(lambda: move(session, MINISTRY, REGION, on, "t", today=T)) == "MOVE_CYCLE"
    assert code_of(lambda: move(session, DISTRICT, FAR_DISTRICT, on, "t", today=T)) == "PARENT_WRONG_LEVEL"
    # a district moved to another region is fine; a date not after the current term's start is not
    assert move(session, DISTRICT, OTHER_REGION, on, "t", today=T).parents[-1].valid_from == on
    assert code_of(lambda: move(session, DISTRICT, REGION, on, "t", today=T)) == "MOVE_DATE_INVALID"
    assert code_of(lambda: move(session, DISTRICT, REGION, on - timedelta(days=3), "t", today=T)) == "MOVE_DATE_INVALID"
    p = next(p for p in hierarchy() if p["bin"] == SIBLING)
    handlers.upsert_participant(session, SIBLING, handlers.ParticipantCommand(**{**p, "active_from": "2026-12-01"}),
                                "t", today=T)
    assert code_of(lambda: move(session, SIBLING, OTHER_DISTRICT, date(2026, 12, 1), "t", today=T)) == "MOVE_DATE_INVALID"
    # a closed (or closing) parent, a parent not open yet on the date, a closed participant
    handlers.close_participant(session, FAR_DISTRICT, T + timedelta(days=90), "t", today=T)
    assert code_of(lambda: move(session, SCHOOL, FAR_DISTRICT, on, "t", today=T)) == "PARENT_UNKNOWN"
    new_district = make_valid("21034000005")
    handlers.upsert_participant(session, new_district, handlers.ParticipantCommand(
        **body(new_district, "district", "district", REGION, active_from="2027-01-01")), "t", today=T)
    assert code_of(lambda: move(session, SCHOOL, new_district, on, "t", today=T)) == "PARENT_UNKNOWN"
    assert move(session, SCHOOL, new_district, date(2027, 1, 1), "t", today=T).parent_on(date(2027, 1, 1)) == new_district
    handlers.close_participant(session, SIBLING, T + timedelta(days=200), "t", today=T)
    assert code_of(lambda: move(session, SIBLING, OTHER_DISTRICT, T + timedelta(days=300), "t", today=T)) \
        == "PARTICIPANT_CLOSED"


def test_after_a_move_the_parent_changes_only_by_a_move_and_an_import_keeps_the_history(session):
    handlers.move_participant(session, SCHOOL, OTHER_DISTRICT, T + timedelta(days=5), "t", today=T)
    p = next(p for p in hierarchy() if p["bin"] == SCHOOL)
    # the same parent (and a new name) is fine and keeps the history; another parent is not
    kept = handlers.upsert_participant(session, SCHOOL, handlers.ParticipantCommand(**{**p, "name_ru": "Новое"}),
                                       "t", today=T)
    assert len(kept.parents) == 2
    assert code_of(lambda: handlers.upsert_participant(session, SCHOOL, handlers.ParticipantCommand(
        **{**p, "parent_id": OTHER_DISTRICT}), "t", today=T)) == "PARENT_HISTORY"
    # exporting and importing again changes nothing; an import moving it is refused
    existing = handlers.all_participants(session)
    rows = importing.rows_from_participants(existing.values())
    assert importing.plan(rows, existing, today=date.today()).updated == []
    row = next(r for r in rows if r.values["bin"] == SCHOOL)
    row.values["parent_bin"] = FAR_DISTRICT  # whichever parent is in force by the real clock, not this one
    assert importing.plan([row], existing, today=date.today()).rejected[0].code == "PARENT_HISTORY"


def test_an_import_closing_with_a_later_date_is_published_again_on_its_day(session):
    existing = handlers.all_participants(session)
    row = next(r for r in importing.rows_from_participants(existing.values()) if r.values["bin"] == SIBLING)
    row.values["active_to"] = "2099-06-30"
    (closing,) = importing.plan([row], existing, today=date.today()).updated
    handlers.store_participant(session, closing, existing[SIBLING], "t")
    session.flush()
    assert session.get(Participant, SIBLING).due_on == date(2099, 7, 1)
    assert handlers.take_effect(session, SIBLING, date(2099, 7, 1), "sys").active is False


def test_a_registry_with_future_closings_from_before_this_version_publishes_them_on_their_day(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}", "registry")
    migrate(engine, [COMMON_MIGRATION, *MIGRATIONS[:3]])
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO registry_participant (participant_id, bin, level, kind, parent_id, name_kk, "
                          "name_ru, active_to, updated_at) VALUES ('220440000019', '220440000019', 'organization', "
                          "'school', NULL, 'x', 'x', '2026-12-31', CURRENT_TIMESTAMP)"))
    assert migrate(engine, [COMMON_MIGRATION, *MIGRATIONS]) == [4]
    with Session(engine) as s:
        assert s.get(Participant, "220440000019").due_on == date(2027, 1, 1)
    engine.dispose()


# --- through the API, with the business clock and the background job -------------------------


class Stack:
    def __init__(self, tmp_path) -> None:
        self.clock_file = tmp_path / "clock.json"
        self.move_to(T)
        self.rt = ServiceRuntime(SPEC, Settings(service_name="registry", data_dir=tmp_path,
                                                kafka_bootstrap="127.0.0.1:1", clock_file=self.clock_file))
        migrate(self.rt.engine, [COMMON_MIGRATION, *MIGRATIONS])
        self.issuer = TokenIssuer()
        self.rt.authenticator = self.issuer.authenticator()
        self.client = TestClient(self.rt.app())  # no lifespan: the job is driven by the test

    def move_to(self, day: date) -> None:
        write_control(self.clock_file, fixed=datetime(day.year, day.month, day.day, 6, tzinfo=UTC))

    @property
    def office(self) -> dict[str, str]:
        return self.issuer.headers(DATA_OFFICE, subject="iin:870101400015")

    def events(self, pid: str) -> list[ParticipantUpserted]:
        with Session(self.rt.engine) as s:
            rows = s.exec(select(OutboxRow).where(OutboxRow.key == pid).order_by(OutboxRow.id)).all()
        return [ParticipantUpserted.model_validate_json(r.body) for r in rows if "participant.upserted" in r.topic]


@pytest.fixture
def stack(tmp_path):
    before = business_clock.process_clock()
    st = Stack(tmp_path)
    for p in hierarchy():
        assert st.client.put(f"/v1/participants/{p['bin']}", json=p, headers=st.office).status_code == 200
    yield st
    st.rt.engine.dispose()
    business_clock.install(before if isinstance(before, Clock) else Clock())


def test_api_a_future_close_goes_out_active_then_inactive_when_the_clock_passes_it(stack):
    c = stack.client
    resp = c.post(f"/v1/participants/{SCHOOL}/close", json={"active_to": "2026-11-30"}, headers=stack.office)
    assert resp.status_code == 200 and resp.json()["active"] is True
    assert stack.events(SCHOOL)[-1].active is True
    again = c.post(f"/v1/participants/{SCHOOL}/close", json={"active_to": "2026-12-31"}, headers=stack.office)
    assert again.status_code == 409 and again.json()["error"]["code"] == "ALREADY_CLOSED"
    assert set(again.json()["error"]["message"]) == {"kk", "ru", "en"}
    n = len(stack.events(SCHOOL))
    stack.move_to(date(2026, 11, 30))  # its last day: still active, nothing goes out
    assert publish_due(stack.rt) == 0 and len(stack.events(SCHOOL)) == n
    assert c.get(f"/v1/participants/{SCHOOL}", headers=stack.office).json()["active"] is True
    stack.move_to(date(2026, 12, 1))
    assert publish_due(stack.rt) == 1
    assert [e.active for e in stack.events(SCHOOL)[n:]] == [False]
    assert publish_due(stack.rt) == 0  # once
    assert c.get(f"/v1/participants/{SCHOOL}", headers=stack.office).json()["active"] is False


def test_api_a_move_with_its_date_by_whom_and_published_again_on_the_day(stack):
    c = stack.client
    move = {"parent_id": OTHER_DISTRICT, "valid_from": "2027-01-01"}
    # the district's officer does not reach the other district; a school does not move itself
    resp = c.post(f"/v1/participants/{SCHOOL}/move", json=move,
                  headers=stack.issuer.headers(OFFICER, DISTRICT, "district"))
    assert (resp.status_code, resp.json()["error"]["code"]) == (403, "FORBIDDEN")
    resp = c.post(f"/v1/participants/{SCHOOL}/move", json=move,
                  headers=stack.issuer.headers(HEAD, SCHOOL, "organization"))
    assert resp.status_code == 403
    # the region above both districts may
    resp = c.post(f"/v1/participants/{SCHOOL}/move", json=move, headers=stack.issuer.headers(HEAD, REGION, "region"))
    assert resp.status_code == 200, resp.text
    assert resp.json()["parent_id"] == DISTRICT and len(resp.json()["parents"]) == 2
    event = stack.events(SCHOOL)[-1]
    assert event.parent_on(date(2026, 12, 31)) == DISTRICT and event.parent_on(date(2027, 1, 1)) == OTHER_DISTRICT
    refused = c.post(f"/v1/participants/{SCHOOL}/move", json={"parent_id": REGION, "valid_from": "2027-02-01"},
                     headers=stack.office)
    assert (refused.status_code, refused.json()["error"]["code"]) == (422, "PARENT_WRONG_LEVEL")
    refused = c.post(f"/v1/participants/{SCHOOL}/move", json={"parent_id": DISTRICT, "valid_from": "2026-12-01"},
                     headers=stack.office)
    assert (refused.status_code, refused.json()["error"]["code"]) == (422, "MOVE_DATE_INVALID")
    bad = c.post(f"/v1/participants/{SCHOOL}/move", json={"parent_id": "٢١٠٣٤٠٠٠٠٠٢٣", "valid_from": "2027-01-01"},
                 headers=stack.office)
    assert (bad.status_code, bad.json()["error"]["code"]) == (422, "REQUEST_INVALID")
    # the day comes: the school goes out again under its new district, and the region sees it there
    stack.move_to(date(2027, 1, 1))
    assert publish_due(stack.rt) == 1
    assert stack.events(SCHOOL)[-1].parent_id == OTHER_DISTRICT
    listed = c.get("/v1/participants", params={"parent_id": OTHER_DISTRICT}, headers=stack.office).json()
    assert [p["participant_id"] for p in listed] == [SCHOOL]
    # now the old district's officer no longer reaches the school
    resp = c.get(f"/v1/participants/{SCHOOL}", headers=stack.issuer.headers(OFFICER, DISTRICT, "district"))
    assert resp.status_code == 403


# --- two replicas on PostgreSQL (READ COMMITTED) ----------------------------------------------


@pytest.fixture
def pg_engine():
    import os

    url = os.environ.get("UISE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
    service = f"r{uuid.uuid4().hex[:8]}"
    engine = make_engine(url, service)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:
        pytest.fail(f"PostgreSQL is required at {url}: {exc}")
    migrate(engine, [COMMON_MIGRATION, *MIGRATIONS])
    yield engine
    with engine.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "uise_{service}" CASCADE'))
    engine.dispose()


def test_two_replicas_publish_a_due_participant_once_on_postgresql(pg_engine):
    with Session(pg_engine) as s:
        for p in hierarchy():
            handlers.upsert_participant(s, p["bin"], handlers.ParticipantCommand(**p), "test", today=T)
        handlers.close_participant(s, SCHOOL, T, "t", today=T)
        handlers.move_participant(s, SIBLING, OTHER_DISTRICT, T + timedelta(days=1), "t", today=T)
        s.commit()
    day = T + timedelta(days=1)
    first, second = Session(pg_engine), Session(pg_engine)
    results: dict[str, object] = {}
    try:
        results["first"] = handlers.take_effect(first, SCHOOL, day, "a")  # holds the row, uncommitted
        worker = threading.Thread(target=lambda: results.__setitem__(
            "second", handlers.take_effect(second, SCHOOL, day, "b")))
        worker.start()
        worker.join(0.5)
        assert worker.is_alive()  # the second replica waits on the row lock
        first.commit()
        worker.join(10)
        second.commit()
    finally:
        first.close()
        second.close()
    assert results["first"] is not None and results["first"].active is False
    assert results["second"] is None
    # and the whole round, as the job runs it, publishes the move once
    with Session(pg_engine) as s:
        assert handlers.due_participants(s, day) == [SIBLING]
        assert handlers.take_effect(s, SIBLING, day, "a").parent_id == OTHER_DISTRICT
        s.commit()
        assert handlers.due_participants(s, day) == []
