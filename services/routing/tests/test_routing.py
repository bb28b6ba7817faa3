from __future__ import annotations

from datetime import date

import pytest
from sqlmodel import Session, select

from uise_common.consumer import NotYetKnown
from uise_common.testing import migrated_sqlite, run_handler
from uise_contracts.events import (
    FormListApproved,
    Level,
    ParticipantUpserted,
    SignatureChecked,
    StoredObject,
    SubmissionValidated,
)
from uise_contracts.examples import SCHOOL_FORM
from uise_routing.adapters import MIGRATIONS, InboxItem
from uise_routing.domain import check_route
from uise_routing.handlers import on_formlist, on_participant, on_signature_checked, on_validated

SCHOOL, DISTRICT = "220440000013", "210340000012"


@pytest.fixture
def engine(tmp_path):
    eng = migrated_sqlite(tmp_path, MIGRATIONS)
    run_handler(eng, on_formlist, FormListApproved(year=2026, version=1, order_no="1", order_date=date(2026, 1, 15),
                                                   forms=[SCHOOL_FORM]))
    return eng


def participant(pid=SCHOOL, kind="school", parent=DISTRICT, level=Level.organization, active=True):
    return ParticipantUpserted(participant_id=pid, bin=pid, level=level, kind=kind, parent_id=parent,
                               name_kk="x", name_ru="x", active=active)


def validated(sid, ok=True, pid=SCHOOL):
    return SubmissionValidated(submission_id=sid, participant_id=pid, form_code="SCH-1", period="2026", ok=ok,
                               values={"pupils_total": 1})


def test_route_rules():
    assert check_route("school", DISTRICT, True, ["school"]) is None
    assert check_route("college", DISTRICT, True, ["school"]).code == "FORM_NOT_APPLICABLE"
    assert check_route("school", None, True, ["school"]).code == "NO_RECIPIENT"
    assert check_route("school", DISTRICT, False, ["school"]).code == "PARTICIPANT_CLOSED"


def test_accepted_into_the_parents_inbox_exactly_once(engine):
    with pytest.raises(NotYetKnown):
        run_handler(engine, on_validated, validated("s1"))
    run_handler(engine, on_participant, participant())
    [accepted] = run_handler(engine, on_validated, validated("s1"))
    assert accepted.recipient_id == DISTRICT
    assert run_handler(engine, on_validated, validated("s1")) == []  # a replay decides nothing new


def test_a_correction_supersedes_the_earlier_filing(engine):
    run_handler(engine, on_participant, participant())
    run_handler(engine, on_validated, validated("s1"))
    run_handler(engine, on_validated, validated("s2"))
    with Session(engine) as s:
        items = {i.submission_id: i.superseded_by for i in s.exec(select(InboxItem))}
    assert items == {"s1": "s2", "s2": None}


def test_refusals_are_final_and_single(engine):
    run_handler(engine, on_participant, participant(pid="220440000099", kind="college"))
    [wrong_kind] = run_handler(engine, on_validated, validated("s3", pid="220440000099"))
    assert (wrong_kind.stage, wrong_kind.reason_code) == ("routing", "FORM_NOT_APPLICABLE")
    doc = StoredObject(key="k", sha256="0" * 64, size=1, media_type="application/json")
    bad_sig = SignatureChecked(submission_id="s4", participant_id=SCHOOL, form_code="SCH-1", period="2026",
                               document=doc, ok=False, reason_code="NOT_FIRST_HEAD", message="deputy")
    [rejected] = run_handler(engine, on_signature_checked, bad_sig)
    assert (rejected.stage, rejected.reason_code) == ("signature", "NOT_FIRST_HEAD")
    assert run_handler(engine, on_signature_checked, bad_sig) == []
    [invalid] = run_handler(engine, on_validated, validated("s5", ok=False))
    assert invalid.reason_code == "VALIDATION_FAILED"
