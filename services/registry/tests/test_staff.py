"""The staff a head names: terms that never overlap, history kept, roles per level, the event
carrying what identity needs (in force today or upcoming), every change audited."""

from __future__ import annotations

import json
from datetime import date

import pytest
from sqlalchemy import text
from sqlmodel import Session, select

from uise_common.testing import migrated_sqlite
from uise_contracts.events import StaffMember
from uise_registry import handlers, importing, staff
from uise_registry.adapters import MIGRATIONS, AuditEntry, Participant
from uise_registry.demo import DISTRICT, MINISTRY, SCHOOLS, demo_participants
from uise_registry.domain import RegistryError
from uise_registry.identifiers import make_valid
from uise_registry.staff import StaffCommand

SCHOOL = next(iter(SCHOOLS))
TODAY = date(2026, 9, 15)
AIGUL = make_valid("90020240002")
ERLAN = make_valid("88031530004")


def code_of(fn) -> str:
    with pytest.raises(RegistryError) as exc:
        fn()
    return exc.value.code


def named(role: str = "accountant", valid_from: date | None = None, valid_to: date | None = None,
          full_name: str = "Ахметова Айгүл") -> StaffCommand:
    return StaffCommand(full_name=full_name, role=role, valid_from=valid_from, valid_to=valid_to)


def term(role: str, start: date, end: date | None = None, iin: str = AIGUL) -> StaffMember:
    return StaffMember(iin=iin, full_name="Ахметова Айгүл", role=role, valid_from=start, valid_to=end)


# --- the rules, on one person's terms ------------------------------------------------------


def test_a_first_naming_starts_today_unless_a_date_is_given():
    assert staff.with_term([], AIGUL, named(), TODAY) == [term("accountant", TODAY)]
    assert staff.with_term([], AIGUL, named(valid_from=date(2026, 9, 1)), TODAY) == [term("accountant", date(2026, 9, 1))]


def test_the_same_role_is_corrected_in_place():
    before = [term("accountant", date(2026, 9, 1))]
    after = staff.with_term(before, AIGUL, named(full_name="Ахметова Айгүл Серікқызы", valid_to=date(2027, 6, 30)),
                            TODAY)
    assert [(t.full_name, t.valid_from, t.valid_to) for t in after] == [
        ("Ахметова Айгүл Серікқызы", date(2026, 9, 1), date(2027, 6, 30))]


def test_a_new_role_ends_the_old_term_the_day_before_so_history_says_who_acted_when():
    before = [term("accountant", date(2025, 9, 1))]
    after = staff.with_term(before, AIGUL, named("officer"), TODAY)
    assert after == [term("accountant", date(2025, 9, 1), date(2026, 9, 14)), term("officer", TODAY)]
    # a change from a later date leaves the current term in force until then
    later = staff.with_term(before, AIGUL, named("officer", valid_from=date(2026, 10, 1)), TODAY)
    assert later[0].valid_to == date(2026, 9, 30) and later[1].valid_from == date(2026, 10, 1)


def test_a_term_not_yet_in_force_is_replaced_not_kept():
    before = [term("accountant", TODAY)]  # named this morning, by mistake
    assert staff.with_term(before, AIGUL, named("officer"), TODAY) == [term("officer", TODAY)]


def test_dates_that_would_overlap_or_run_backwards_are_refused():
    started = [term("accountant", date(2025, 9, 1))]
    assert code_of(lambda: staff.with_term(started, AIGUL, named("officer", valid_from=date(2025, 1, 1)),
                                           TODAY)) == "STAFF_DATES_INVALID"
    assert code_of(lambda: staff.with_term([], AIGUL, named(valid_from=TODAY, valid_to=date(2026, 1, 1)),
                                           TODAY)) == "STAFF_DATES_INVALID"
    ended = [term("accountant", date(2024, 9, 1), date(2025, 8, 31))]
    assert code_of(lambda: staff.with_term(ended, AIGUL, named(valid_from=date(2025, 6, 1)),
                                           TODAY)) == "STAFF_DATES_INVALID"
    # after an ended term a new one starts afresh, the old one kept
    again = staff.with_term(ended, AIGUL, named(), TODAY)
    assert again == [*ended, term("accountant", TODAY)]


def test_ending_a_role_makes_yesterday_the_last_day():
    before = [term("accountant", date(2025, 9, 1))]
    after = staff.without_term(before, SCHOOL, AIGUL, TODAY)
    assert after == [term("accountant", date(2025, 9, 1), date(2026, 9, 14))]
    assert not after[-1].active_on(TODAY)  # from now on nobody maps her to the school
    assert staff.without_term([term("accountant", TODAY)], SCHOOL, AIGUL, TODAY) == []  # withdrawn
    assert code_of(lambda: staff.without_term(after, SCHOOL, AIGUL, TODAY)) == "STAFF_UNKNOWN"
    assert code_of(lambda: staff.without_term([], SCHOOL, AIGUL, TODAY)) == "STAFF_UNKNOWN"


def test_a_name_must_be_printable():
    with pytest.raises(ValueError):
        named(full_name="  ")
    with pytest.raises(ValueError):
        named(full_name="Айгүл\x1b[31m")
    assert named(full_name="  Айгүл ").full_name == "Айгүл"


# --- on the database ------------------------------------------------------------------------


@pytest.fixture
def session(tmp_path):
    with Session(migrated_sqlite(tmp_path, MIGRATIONS)) as s:
        for p in demo_participants():
            handlers.upsert_participant(s, p["participant_id"], handlers.ParticipantCommand(**p), "test")
        s.flush()
        yield s


def test_a_named_accountant_is_on_the_event_and_an_ended_one_leaves_it(session):
    member, event = handlers.name_staff(session, SCHOOL, AIGUL, named(valid_from=date(2026, 9, 1)), "head@S",
                                        day=TODAY)
    assert member == term("accountant", date(2026, 9, 1))
    assert event.staff == [member] and event.participant_id == SCHOOL
    _, upcoming = handlers.name_staff(session, SCHOOL, ERLAN, named(valid_from=date(2026, 10, 1),
                                                                    full_name="Омаров Ерлан"), "head@S", day=TODAY)
    assert [t.iin for t in upcoming.staff] == [AIGUL, ERLAN]  # an upcoming term is there before its first day
    was, now, ended = handlers.end_staff(session, SCHOOL, AIGUL, "head@S", day=TODAY)
    assert (was.valid_to, now.valid_to) == (None, date(2026, 9, 14))
    assert [t.iin for t in ended.staff] == [ERLAN]
    # the ended term is history in the registry, not on the event
    assert staff.terms_of(session, SCHOOL, AIGUL) == [term("accountant", date(2026, 9, 1), date(2026, 9, 14))]
    entries = session.exec(select(AuditEntry).where(AuditEntry.entity == "staff")).all()
    assert [(e.action, e.entity_id, e.actor) for e in entries] == [("name", SCHOOL, "head@S")] * 2 + [
        ("end", SCHOOL, "head@S")]
    assert json.loads(entries[-1].after)["terms"][0]["valid_to"] == "2026-09-14"


def test_roles_follow_the_level(session):
    assert code_of(lambda: handlers.name_staff(session, SCHOOL, AIGUL, named("data_office"), "t",
                                               day=TODAY)) == "STAFF_ROLE_NOT_AT_LEVEL"
    assert code_of(lambda: handlers.name_staff(session, SCHOOL, AIGUL, named("officer"), "t",
                                               day=TODAY)) == "STAFF_ROLE_NOT_AT_LEVEL"
    assert code_of(lambda: handlers.name_staff(session, DISTRICT, AIGUL, named("data_office"), "t",
                                               day=TODAY)) == "STAFF_ROLE_NOT_AT_LEVEL"
    assert code_of(lambda: handlers.name_staff(session, SCHOOL, AIGUL, named("head"), "t",
                                               day=TODAY)) == "STAFF_ROLE_UNKNOWN"
    for pid, role in ((DISTRICT, "officer"), (DISTRICT, "analyst"), (MINISTRY, "data_office"), (SCHOOL, "accountant"),
                      (MINISTRY, "accountant")):
        _, event = handlers.name_staff(session, pid, ERLAN, named(role), "t", day=TODAY)
        assert event.staff[-1].role == role


def test_iins_names_and_participants_are_checked(session):
    assert code_of(lambda: handlers.name_staff(session, SCHOOL, AIGUL[:11] + str((int(AIGUL[11]) + 1) % 10),
                                               named(), "t", day=TODAY)) == "IIN_CHECKSUM"
    assert code_of(lambda: handlers.name_staff(session, SCHOOL, "١٢٣٤٥٦٧٨٩٠١٢", named(), "t",
                                               day=TODAY)) == "IIN_FORMAT"
    assert code_of(lambda: handlers.name_staff(session, "999999999999", AIGUL, named(), "t",
                                               day=TODAY)) == "PARTICIPANT_UNKNOWN"
    assert handlers.name_staff(session, SCHOOL, "123456789011", named(), "t", day=TODAY, test_mode=True)
    handlers.close_participant(session, [s for s in SCHOOLS if s != SCHOOL][0], date(2026, 6, 30), "t")
    assert code_of(lambda: handlers.name_staff(session, [s for s in SCHOOLS if s != SCHOOL][0], AIGUL, named(), "t",
                                               day=TODAY)) == "PARTICIPANT_CLOSED"


def test_a_participant_has_at_most_the_staff_limit(session, monkeypatch):
    monkeypatch.setattr(staff, "STAFF_LIMIT", 2)
    handlers.name_staff(session, SCHOOL, AIGUL, named(), "t", day=TODAY)
    handlers.name_staff(session, SCHOOL, ERLAN, named(), "t", day=TODAY)
    handlers.name_staff(session, SCHOOL, ERLAN, named(full_name="Омаров Ерлан"), "t", day=TODAY)  # a correction
    assert code_of(lambda: handlers.name_staff(session, SCHOOL, make_valid("85031240003"), named(), "t",
                                               day=TODAY)) == "STAFF_LIMIT"


def test_staff_survive_an_import_and_every_bulk_read_carries_them(session):
    handlers.name_staff(session, SCHOOL, AIGUL, named(), "t")
    session.flush()
    existing = handlers.all_participants(session)
    assert [t.iin for t in existing[SCHOOL].staff] == [AIGUL]
    rows = importing.rows_from_participants(existing.values())
    assert importing.plan(rows, existing, today=date.today()).summary()["ignored"] == len(existing)
    mine = next(r for r in rows if r.values["bin"] == SCHOOL)
    renamed = [importing.RawRow(2, {**mine.values, "name_ru": "Школа-гимназия"})]
    (school,) = importing.plan(renamed, existing, today=date.today()).updated
    assert [t.iin for t in school.staff] == [AIGUL]  # the import's event does not drop the staff
    many = handlers.events_of(session, list(session.exec(select(Participant))))
    assert {e.participant_id: e for e in many} == existing


def test_the_staff_table_is_added_to_a_registry_that_has_participants(tmp_path):
    from uise_common.db import make_engine, migrate
    from uise_common.service import COMMON_MIGRATION

    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}", "registry")
    migrate(engine, [COMMON_MIGRATION, *MIGRATIONS[:2]])  # a registry from before issue 7
    with engine.begin() as conn:  # rows of that time, in its columns (the model has grown since)
        for p in demo_participants():
            conn.execute(text("INSERT INTO registry_participant (participant_id, bin, level, kind, parent_id, name_kk, "
                              "name_ru, updated_at) VALUES (:participant_id, :bin, :level, :kind, :parent_id, "
                              ":name_kk, :name_ru, CURRENT_TIMESTAMP)"),
                         {k: p.get(k) for k in ("participant_id", "bin", "level", "kind", "parent_id", "name_kk",
                                                "name_ru")})
    assert migrate(engine, [COMMON_MIGRATION, *MIGRATIONS]) == [3, 4]
    with Session(engine) as s:
        handlers.name_staff(s, SCHOOL, AIGUL, named(), "t", day=TODAY)
        s.commit()
        assert [t.iin for t in handlers.all_participants(s)[SCHOOL].staff] == [AIGUL]
