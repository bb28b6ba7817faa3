"""Registry handlers and access rules on a real (SQLite) database: invariants, heads' history,
who may manage what, audit, and the immutability of an approved list."""

from __future__ import annotations

import json
from datetime import date

import pytest
from sqlmodel import Session, select

from uise_common.auth import (
    ACCOUNTANT,
    ANALYST,
    DATA_OFFICE,
    HEAD,
    OFFICER,
    OPS,
    ROLE_SCOPES,
    SIGNER,
    Principal,
)
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


def who(role: str, participant_id: str | None = None, level: str | None = None) -> Principal:
    return Principal(subject="iin:900101300011", role=role, scopes=ROLE_SCOPES[role], participant_id=participant_id,
                     level=level)


NEW_SCHOOL = "220440000039"
OTHER_DISTRICT = "210340000023"


def test_the_chain_up_and_the_subtree_down(session):
    other_school = [s for s in SCHOOLS if s != SCHOOL][0]
    assert access.chain(session, SCHOOL) == [SCHOOL, DISTRICT, REGION, MINISTRY]
    assert access.chain(session, "999999999999") == ["999999999999"]  # unknown: only itself
    assert {p.participant_id for p in access.subtree(session, REGION)} == {REGION, DISTRICT, *SCHOOLS}
    assert [p.participant_id for p in access.subtree(session, SCHOOL)] == [SCHOOL]
    assert access.visible(session, who(DATA_OFFICE)) is None  # everyone
    assert access.visible(session, who(ANALYST, MINISTRY, "ministry")) is None
    assert [p.participant_id for p in access.visible(session, who(HEAD, other_school, "organization"))] == [other_school]
    assert access.visible(session, who(HEAD)) == []  # a token naming no participant sees nothing


def test_who_may_manage_participants(session):
    handlers.upsert_participant(session, OTHER_DISTRICT, cmd(bin=OTHER_DISTRICT, level="district", kind="district",
                                                             parent_id=REGION, name_kk="x", name_ru="x"), "t")
    session.flush()
    district_officer, region_head = who(OFFICER, DISTRICT, "district"), who(HEAD, REGION, "region")
    access.require_manage(session, who(DATA_OFFICE), MINISTRY, None)  # the data office, the Ministry itself
    access.require_manage(session, who(DATA_OFFICE), "999999999999", None)
    access.require_manage(session, district_officer, NEW_SCHOOL, DISTRICT)  # a new school of her own
    access.require_manage(session, district_officer, SCHOOL, DISTRICT)
    access.require_manage(session, region_head, SCHOOL, OTHER_DISTRICT)  # moving it within the region
    access.require_manage(session, who(HEAD, MINISTRY, "ministry"), REGION, MINISTRY)
    refused = [
        (district_officer, DISTRICT, REGION),  # itself
        (district_officer, REGION, MINISTRY),  # above itself
        (district_officer, SCHOOL, OTHER_DISTRICT),  # moving its school out
        (who(OFFICER, OTHER_DISTRICT, "district"), SCHOOL, OTHER_DISTRICT),  # taking another's school
        (who(OFFICER, OTHER_DISTRICT, "district"), SCHOOL, DISTRICT),  # changing another's school
        (who(HEAD, SCHOOL, "organization"), NEW_SCHOOL, DISTRICT),  # a school has nothing below it
        (who(ACCOUNTANT, DISTRICT, "district"), NEW_SCHOOL, DISTRICT),  # not a role that manages
        (who(HEAD, MINISTRY, "ministry"), MINISTRY, None),  # the Ministry's record: the data office's
        (who(OFFICER, None), NEW_SCHOOL, DISTRICT),  # no organization at all
    ]
    for caller, target, parent in refused:
        assert code_of(lambda c=caller, t=target, p=parent: access.require_manage(session, c, t, p)) == "FORBIDDEN", \
            (caller.participant_id, target)
    # a closed department manages nothing
    handlers.close_participant(session, OTHER_DISTRICT, date(2026, 1, 1), "t")
    session.flush()
    assert code_of(lambda: access.require_manage(session, who(OFFICER, OTHER_DISTRICT, "district"),
                                                 NEW_SCHOOL, OTHER_DISTRICT)) == "FORBIDDEN"


def test_an_import_is_checked_row_by_row_against_one_subtree(session):
    district_officer = who(OFFICER, DISTRICT, "district")
    access.require_import(session, district_officer, [(NEW_SCHOOL, DISTRICT), (SCHOOL, DISTRICT)])
    new_district = "210340000033"
    access.require_import(session, who(OFFICER, REGION, "region"),
                          [(new_district, REGION), ("220440000049", new_district)])  # parents first
    with pytest.raises(RegistryError, match="2 row"):
        access.require_import(session, district_officer, [(NEW_SCHOOL, DISTRICT), (DISTRICT, REGION),
                                                          (new_district, REGION)])
    access.require_import(session, who(DATA_OFFICE), [(MINISTRY, None)])


def test_only_the_head_itself_or_the_data_office_names_staff():
    access.require_staff_manager(who(HEAD, SCHOOL, "organization"), SCHOOL)
    access.require_staff_manager(who(DATA_OFFICE), SCHOOL)
    for caller in (who(HEAD, DISTRICT, "district"), who(OFFICER, DISTRICT, "district"),
                   who(ACCOUNTANT, SCHOOL, "organization"), who(SIGNER, SCHOOL, "organization"),
                   who(HEAD, MINISTRY, "ministry"), who(OPS)):
        assert code_of(lambda c=caller: access.require_staff_manager(c, SCHOOL)) == "FORBIDDEN", caller.role


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
