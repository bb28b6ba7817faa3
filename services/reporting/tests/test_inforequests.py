"""reporting learns an information request's form from `inforequest.issued` (clause 12), idempotently:
one event per member, replays, all merged by key."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlmodel import Session, select

from uise_common.testing import migrated_sqlite, run_handler
from uise_contracts.events import Category, FormDefinition, FormField, InfoRequestIssued, Level
from uise_reporting import handlers
from uise_reporting.adapters import MIGRATIONS, KnownForm

FORM = FormDefinition(code="IR-3", title_kk="Сұрау", title_ru="Запрос", title_en="Request", category=Category.other,
                      period_type="as_of_date", respondent_kinds=["school"],
                      fields=[FormField(code="computers", title="Computers")],
                      deadline_days={Level.organization: 9, Level.district: 12})


def issued(pid: str, role: str) -> InfoRequestIssued:
    return InfoRequestIssued(request_id="ir-3", issued_by="iin:900101300011", form_code=FORM.code,
                             to_participant_id=pid, due_at=datetime(2031, 2, 10, 13, tzinfo=UTC), role=role,
                             level=Level.organization if role == "target" else Level.district,
                             parent_id="210340000013", period="2031-02-01", form=FORM, title="Computers")


def test_the_request_form_is_known_once_whatever_replays(tmp_path):
    engine = migrated_sqlite(tmp_path, MIGRATIONS)
    for event in (issued("220440000019", "target"), issued("210340000013", "relay"), issued("220440000019", "target")):
        assert run_handler(engine, handlers.on_inforequest, event) == []
    with Session(engine) as s:
        rows = s.exec(select(KnownForm).where(KnownForm.code == FORM.code)).all()
    assert len(rows) == 1 and rows[0].year == 2031
    assert FormDefinition.model_validate_json(rows[0].definition) == FORM
