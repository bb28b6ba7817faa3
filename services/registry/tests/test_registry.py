"""Registry commands on a real (SQLite) database: invariants, heads' history, access, audit,
and the immutability of an approved list."""

from __future__ import annotations

import json
from datetime import date

import pytest
from sqlmodel import Session, select

from uise_common.testing import migrated_sqlite
from uise_contracts.events import Level
from uise_contracts.examples import SCHOOL_FORM
from uise_registry import access, handlers
from uise_registry.adapters import MIGRATIONS, AuditEntry, FormList
from uise_registry.demo import DISTRICT, MINISTRY, REGION, SCHOOLS, demo_participants
from uise_registry.domain import RegistryError

SCHOOL = next(iter(SCHOOLS))


def code_of(fn) -> str:
    with pytest.raises(RegistryError) as exc:
        fn()
    return exc.value.code


def cmd(**kw) -> handlers.ParticipantCommand:
    return handlers.ParticipantCommand(**kw)


@pytest.fixture
def session(tmp_path):
    with Session(migrated_sqlite(tmp_path, MIGRATIONS)) as s:
        for p in demo_participants():
            handlers.upsert_participant(s, p["participant_id"], cmd(**p), "test")
        s.flush()
        yield s


def test_the_demo_hierarchy_is_stored_with_heads(session):
    event = handlers.participant_event(session, session.get(handlers.Participant, SCHOOL))
    assert (event.level, event.parent_id, event.head_iin) == (Level.organization, DISTRICT, SCHOOLS[SCHOOL])
    assert len(event.heads) == 1 and event.heads[0].valid_from == date(2020, 9, 1)


def test_placement_errors(session):
    base = dict(bin="220440000039", name_kk="x", name_ru="x")
    assert code_of(lambda: handlers.upsert_participant(session, "220440000039", cmd(
        **base, level="organization", kind="school", parent_id=REGION), "t")) == "PARENT_WRONG_LEVEL"
    assert code_of(lambda: handlers.upsert_participant(session, "220440000039", cmd(
        **base, level="district", kind="school", parent_id=REGION), "t")) == "KIND_NOT_ALLOWED_AT_LEVEL"
    assert code_of(lambda: handlers.upsert_participant(session, "220440000039", cmd(
        **base, level="organization", kind="school", parent_id="999999999990"), "t")) == "PARENT_UNKNOWN"
    assert code_of(lambda: handlers.upsert_participant(session, "220440000039", cmd(
        **base, level="organization", kind="school"), "t")) == "PARENT_REQUIRED"
    assert code_of(lambda: handlers.upsert_participant(session, SCHOOL, cmd(
        bin=SCHOOL, name_kk="x", name_ru="x", level="district", kind="district", parent_id=REGION), "t")) == "LEVEL_CHANGE"
    assert code_of(lambda: handlers.upsert_participant(session, "220440000039", cmd(
        **{**base, "bin": SCHOOL}, level="organization", kind="school", parent_id=DISTRICT), "t")) == "ID_MISMATCH"


def test_a_new_head_closes_the_old_term_and_history_answers_by_date(session):
    p = next(p for p in demo_participants() if p["participant_id"] == SCHOOL)
    handlers.upsert_participant(session, SCHOOL, cmd(**{**p, "head_iin": "900101300047", "head_name": "New",
                                                        "head_from": "2026-09-01"}), "t")
    session.flush()
    assert handlers.head_on(session, SCHOOL, date(2026, 8, 31)).iin == SCHOOLS[SCHOOL]
    assert handlers.head_on(session, SCHOOL, date(2026, 9, 1)).iin == "900101300047"
    assert handlers.head_on(session, SCHOOL, date(2019, 1, 1)) is None
    assert code_of(lambda: handlers.upsert_participant(session, SCHOOL, cmd(
        **{**p, "head_iin": "910101300059", "head_name": "Too early", "head_from": "2026-08-01"}), "t")) == "HEAD_DATE_INVALID"


def test_a_closed_participant_keeps_its_history_and_a_parent_with_children_cannot_close(session):
    assert code_of(lambda: handlers.close_participant(session, DISTRICT, date(2026, 12, 31), "t")) == "HAS_ACTIVE_CHILDREN"
    event = handlers.close_participant(session, SCHOOL, date(2026, 6, 30), "t")
    assert event.active_to == date(2026, 6, 30) and event.heads  # history kept
    p = next(p for p in demo_participants() if p["participant_id"] == SCHOOL)
    assert code_of(lambda: handlers.upsert_participant(session, SCHOOL, cmd(**p), "t")) == "PARTICIPANT_CLOSED"


def test_every_change_is_audited_with_before_and_after(session):
    p = next(p for p in demo_participants() if p["participant_id"] == SCHOOL)
    handlers.upsert_participant(session, SCHOOL, cmd(**{**p, "name_ru": "Школа-гимназия №1"}), "aigerim@" + DISTRICT)
    session.flush()
    last = session.exec(select(AuditEntry).where(AuditEntry.entity_id == SCHOOL).order_by(AuditEntry.id.desc())).first()
    assert (last.actor, last.action) == ("aigerim@" + DISTRICT, "update")
    assert json.loads(last.before)["name_ru"] == "Школа-лицей №1"
    assert json.loads(last.after)["name_ru"] == "Школа-гимназия №1"


def test_access_follows_the_subtree(session):
    ministry = access.resolve(session, MINISTRY, "m")
    district = access.resolve(session, DISTRICT, "d")
    school = access.resolve(session, SCHOOL, "s")
    other_school = [s for s in SCHOOLS if s != SCHOOL][0]
    access.require_read(session, ministry, other_school)
    access.require_read(session, district, other_school)
    access.require_read(session, school, SCHOOL)
    assert code_of(lambda: access.require_read(session, school, other_school)) == "FORBIDDEN"
    assert code_of(lambda: access.require_read(session, district, REGION)) == "FORBIDDEN"
    access.require_manage(session, district, DISTRICT, "220440000039")  # a new school of her own
    assert code_of(lambda: access.require_manage(session, district, DISTRICT, DISTRICT)) == "FORBIDDEN"
    assert code_of(lambda: access.require_manage(session, school, DISTRICT, "220440000039")) == "FORBIDDEN"
    assert code_of(lambda: access.require_ministry(district, "approve")) == "FORBIDDEN"
    assert code_of(lambda: access.resolve(session, None, None)) == "UNAUTHENTICATED"
    assert code_of(lambda: access.resolve(session, "000000000000", None)) == "UNAUTHENTICATED"


def test_an_approved_list_cannot_change_and_an_amendment_supersedes_it_with_a_diff(session):
    handlers.create_formlist(session, 2026, [SCHOOL_FORM])
    session.flush()
    assert code_of(lambda: handlers.create_formlist(session, 2026, [SCHOOL_FORM])) == "DRAFT_EXISTS"
    approved = handlers.approve_formlist(session, 2026, 1, "№ 1", date(2026, 1, 15), "Министр")
    assert approved.forms == [SCHOOL_FORM] and approved.signatory == "Министр"
    session.flush()
    assert code_of(lambda: handlers.approve_formlist(session, 2026, 1, "№ 2", date(2026, 2, 1))) == "FORMLIST_IMMUTABLE"
    changed = SCHOOL_FORM.model_copy(update={"title_en": "School annual report (amended)"})
    extra = SCHOOL_FORM.model_copy(update={"code": "SCH-2"})
    amendment = handlers.create_formlist(session, 2026, [changed, extra])
    session.flush()
    second = handlers.approve_formlist(session, 2026, amendment.version, "№ 7", date(2026, 3, 1))
    session.flush()
    assert second.supersedes_version == 1
    assert session.get(FormList, (2026, 1)).status == "superseded"
    view = handlers.formlist_view(session.get(FormList, (2026, 2)), session.get(FormList, (2026, 1)))
    assert view["diff"] == {"added": ["SCH-2"], "removed": [], "changed": [{"code": "SCH-1", "changed": ["title_en"]}]}
    assert code_of(lambda: handlers.create_formlist(session, 2027, [SCHOOL_FORM, SCHOOL_FORM])) == "FORM_CODE_REPEATED"
