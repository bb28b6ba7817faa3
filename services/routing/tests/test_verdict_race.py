"""A submission's signature verdict and its validation verdict reach routing on two topics, each
with its own consumer. On PostgreSQL (READ COMMITTED) they run at once: the first may read "not
decided" and write the submission in flight while the second decides and clears it. Without the
lock per submission the row stayed in flight for ever beside the decision (the inbox showed a
school's accepted report as still on its way), which the replay test caught."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime

import pytest
from sqlmodel import Session, select

from uise_common import clock
from uise_common.clock import Clock
from uise_common.db import make_engine, migrate
from uise_common.service import COMMON_MIGRATION
from uise_common.testing import run_handler, scratch_postgres
from uise_contracts.events import (
    FormListApproved,
    Level,
    ParticipantUpserted,
    SignatureChecked,
    StoredObject,
    SubmissionValidated,
)
from uise_contracts.examples import SCHOOL_FORM
from uise_routing.adapters import MIGRATIONS, Decision, InFlight
from uise_routing.handlers import on_formlist, on_participant, on_signature_checked, on_validated

DISTRICT, SCHOOL = "210340000012", "220440000013"
DOC = StoredObject(key="k", sha256="0" * 64, size=1, media_type="application/json")


@pytest.fixture
def engine():
    clock.install(Clock(fixed=datetime(2026, 6, 1, 9, tzinfo=UTC)))
    with scratch_postgres("routing_race") as url:
        eng = make_engine(url, "routing")
        migrate(eng, [COMMON_MIGRATION, *MIGRATIONS])
        run_handler(eng, on_formlist, FormListApproved(year=2026, version=1, order_no="1",
                                                       order_date=date(2026, 1, 15), forms=[SCHOOL_FORM]))
        run_handler(eng, on_participant, ParticipantUpserted(
            participant_id=DISTRICT, bin=DISTRICT, level=Level.district, kind="district_department",
            parent_id=None, name_kk="x", name_ru="x"))
        run_handler(eng, on_participant, ParticipantUpserted(
            participant_id=SCHOOL, bin=SCHOOL, level=Level.organization, kind="school", parent_id=DISTRICT,
            name_kk="x", name_ru="x"))
        yield eng
        eng.dispose()
    clock.install(Clock())


def test_a_decision_made_while_the_signature_verdict_is_in_its_transaction_leaves_nothing_in_flight(engine):
    about = dict(submission_id="s1", participant_id=SCHOOL, form_code="SCH-1", period="2026")
    signature = Session(engine)
    assert on_signature_checked(SignatureChecked(**about, document=DOC, ok=True), signature) == []
    signature.flush()  # in flight, written, not committed: the first consumer is mid-transaction

    decided: list = []

    def validation_consumer() -> None:
        with Session(engine) as session:
            decided.extend(on_validated(SubmissionValidated(**about, ok=True, values={"pupils_total": 1}),
                                        session))
            session.commit()

    second = threading.Thread(target=validation_consumer)
    second.start()
    second.join(timeout=1.0)
    assert second.is_alive(), "the validation verdict went on while the signature verdict held the submission"
    signature.commit()
    signature.close()
    second.join(timeout=30)
    assert not second.is_alive()

    assert [type(e).__name__ for e in decided] == ["SubmissionAccepted"]
    with Session(engine) as session:
        assert session.get(Decision, "s1").outcome == "accepted"
        assert session.exec(select(InFlight)).all() == []
