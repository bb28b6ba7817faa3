"""Intake learns an information request's form from `inforequest.issued` (clause 12): it applies
to exactly the request's members; replays change nothing; a list approved later does not take
the request's form over."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlmodel import Session, select

from uise_common.db import make_engine, migrate
from uise_common.periods import parse_period
from uise_common.testing import run_handler
from uise_contracts.events import (
    Category,
    FormDefinition,
    FormField,
    FormListApproved,
    InfoRequestIssued,
    Level,
    ParticipantUpserted,
)
from uise_intake import handlers
from uise_intake.adapters import MIGRATIONS, KnownForm, RequestMember
from uise_intake.commands import reference
from uise_intake.domain import Refused

MINISTRY, REGION, DISTRICT = "100140000011", "200240000012", "210340000013"
ASKED, NOT_ASKED = "220440000019", "220440000028"
FORM = FormDefinition(code="IR-7", title_kk="Сұрау", title_ru="Запрос", title_en="Request", category=Category.other,
                      period_type="as_of_date", respondent_kinds=["school"],
                      fields=[FormField(code="computers", title="Computers")],
                      deadline_days={Level.organization: 9, Level.district: 12, Level.region: 15})


def issued(pid: str, role: str, parent: str, level: Level) -> InfoRequestIssued:
    return InfoRequestIssued(request_id="ir-1", issued_by="iin:900101300011", form_code=FORM.code,
                             to_participant_id=pid, due_at=datetime(2026, 6, 10, 13, tzinfo=UTC), role=role,
                             level=level, parent_id=parent, period="2026-06-01", form=FORM, title="Computers")


@pytest.fixture
def engine(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path}/intake.db", "intake")
    migrate(engine, MIGRATIONS)
    for pid, level, kind, parent in ((MINISTRY, Level.ministry, "ministry", None),
                                     (REGION, Level.region, "region", MINISTRY),
                                     (DISTRICT, Level.district, "district", REGION),
                                     (ASKED, Level.organization, "school", DISTRICT),
                                     (NOT_ASKED, Level.organization, "school", DISTRICT)):
        run_handler(engine, handlers.on_participant, ParticipantUpserted(
            participant_id=pid, bin=pid, level=level, kind=kind, parent_id=parent, name_kk="x", name_ru="x"))
    for event in (issued(ASKED, "target", DISTRICT, Level.organization),
                  issued(DISTRICT, "relay", REGION, Level.district), issued(REGION, "relay", MINISTRY, Level.region)):
        run_handler(engine, handlers.on_inforequest, event)
        run_handler(engine, handlers.on_inforequest, event)  # a replay
    return engine


def test_a_request_form_applies_exactly_to_its_members(engine):
    period = parse_period("2026-06-01")
    with Session(engine) as s:
        assert reference(s, ASKED, FORM.code, period).participant_id == ASKED
        assert reference(s, DISTRICT, FORM.code, period).participant_id == DISTRICT  # a relay submits up
        with pytest.raises(Refused) as exc:
            reference(s, NOT_ASKED, FORM.code, period)  # a school of the same kind, never asked
        assert exc.value.code == "FORM_NOT_APPLICABLE"
        assert len(s.exec(select(RequestMember)).all()) == 3
        row = s.get(KnownForm, (FORM.code, 2026))
        assert row.request_id == "ir-1" and row.period_type == "as_of_date"


def test_a_list_approved_later_keeps_the_request_form(engine):
    other = FORM.model_copy(update={"category": Category.indicators, "period_type": "annual"})
    run_handler(engine, handlers.on_formlist, FormListApproved(year=2026, version=2, order_no="2",
                                                               order_date=date(2026, 7, 1), forms=[other]))
    with Session(engine) as s:
        assert s.get(KnownForm, (FORM.code, 2026)).request_id == "ir-1"
