from __future__ import annotations

from datetime import date

import pytest
from sqlmodel import Session
from uise_common.testing import migrated_sqlite
from uise_contracts.events import Level, ParticipantUpserted
from uise_contracts.examples import SCHOOL_FORM
from uise_registry import handlers
from uise_registry.adapters import MIGRATIONS
from uise_registry.demo import demo_participants
from uise_registry.domain import RegistryError


def code_of(fn) -> str:
    with pytest.raises(RegistryError) as exc:
        fn()
    return exc.value.code


@pytest.fixture
def session(tmp_path):
    with Session(migrated_sqlite(tmp_path, MIGRATIONS)) as s:
        yield s


def test_the_demo_hierarchy_obeys_the_level_rules(session):
    for p in demo_participants():
        handlers.upsert_participant(session, ParticipantUpserted(**p))
        session.flush()


def test_placement_errors(session):
    def put(**kw):
        base = dict(participant_id="100140011059", bin="100140011059", level=Level.ministry, kind="ministry",
                    parent_id=None, name_kk="x", name_ru="x")
        handlers.upsert_participant(session, ParticipantUpserted(**{**base, **kw}))
        session.flush()

    put()
    assert code_of(lambda: put(participant_id="220440000013", bin="220440000013", level=Level.organization,
                               kind="school", parent_id="100140011059")) == "PARENT_WRONG_LEVEL"
    assert code_of(lambda: put(participant_id="210240000011", bin="210240000011", level=Level.region,
                               kind="school", parent_id="100140011059")) == "KIND_NOT_ALLOWED_AT_LEVEL"
    assert code_of(lambda: put(participant_id="210240000011", bin="210240000011", level=Level.region,
                               kind="region", parent_id="999999999999")) == "PARENT_UNKNOWN"


def test_an_approved_list_cannot_change_and_an_amendment_supersedes_it(session):
    handlers.create_formlist(session, 2026, [SCHOOL_FORM])
    session.flush()
    assert code_of(lambda: handlers.create_formlist(session, 2026, [SCHOOL_FORM])) == "DRAFT_EXISTS"
    approved = handlers.approve_formlist(session, 2026, 1, "№ 1", date(2026, 1, 15))
    assert approved.forms == [SCHOOL_FORM]
    session.flush()
    assert code_of(lambda: handlers.approve_formlist(session, 2026, 1, "№ 2", date(2026, 2, 1))) == "FORMLIST_IMMUTABLE"
    amendment = handlers.create_formlist(session, 2026, [SCHOOL_FORM])
    session.flush()
    handlers.approve_formlist(session, 2026, amendment.version, "№ 7", date(2026, 3, 1))
    session.flush()
    from uise_registry.adapters import FormList

    assert session.get(FormList, (2026, 1)).status == "superseded"
    assert session.get(FormList, (2026, 2)).status == "approved"
