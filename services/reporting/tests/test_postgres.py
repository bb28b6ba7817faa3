"""Reporting's handlers on PostgreSQL (READ COMMITTED), as production runs them: two replicas
building a node's consolidation at once get distinct versions, and replays change nothing."""

from __future__ import annotations

import threading
from datetime import date

import pytest
from sqlmodel import Session, select

from uise_common.db import make_engine, migrate
from uise_common.objectstore import sha256_hex
from uise_common.service import COMMON_MIGRATION
from uise_common.testing import run_handler, scratch_postgres
from uise_contracts.events import (
    ConsolidationDue,
    FormListApproved,
    StoredObject,
    SubmissionAccepted,
)
from uise_contracts.examples import SCHOOL_FORM
from uise_reporting.adapters import MIGRATIONS, Consolidation
from uise_reporting.handlers import VersionTaken, make_on_due, on_accepted, on_formlist

DISTRICT, SCHOOL = "210340000012", "220440000013"


@pytest.fixture
def engine():
    with scratch_postgres("reporting") as url:
        eng = make_engine(url, "reporting")
        migrate(eng, [COMMON_MIGRATION, *MIGRATIONS])
        yield eng
        eng.dispose()


def put(data: bytes, kind: str, media: str) -> StoredObject:
    return StoredObject(key=f"{kind}/{sha256_hex(data)}", sha256=sha256_hex(data), size=len(data), media_type=media)


def test_replicas_racing_for_a_version_get_distinct_ones(engine):
    run_handler(engine, on_formlist, FormListApproved(year=2026, version=1, order_no="1", order_date=date(2026, 1, 15),
                                                      forms=[SCHOOL_FORM]))
    accepted = SubmissionAccepted(submission_id="s1", participant_id=SCHOOL, recipient_id=DISTRICT, form_code="SCH-1",
                                  period="2026", values_exact={"pupils_total": "10"})
    run_handler(engine, on_accepted, accepted)
    run_handler(engine, on_accepted, accepted)  # a replay
    on_due = make_on_due(put)
    barrier = threading.Barrier(4)
    retried: list[str] = []

    def replica(due_id: str) -> None:
        barrier.wait()
        for _ in range(10):  # as the consumer runner retries a failing event
            try:
                run_handler(engine, on_due, ConsolidationDue(
                    node_id=DISTRICT, form_code="SCH-1", period="2026", expected=1, received=1, due_id=due_id,
                    included=[SCHOOL], included_submissions={SCHOOL: "s1"}))
                return
            except VersionTaken:
                retried.append(due_id)

    # two dues, each delivered to two replicas at once (a replay beside a rebalance)
    threads = [threading.Thread(target=replica, args=(d,)) for d in ("d1", "d2", "d1", "d2")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with Session(engine) as s:
        rows = s.exec(select(Consolidation).order_by(Consolidation.version)).all()
    assert [r.version for r in rows] == [1, 2] and {r.due_id for r in rows} == {"d1", "d2"}
    assert retried  # the losers were retried, not lost


def test_builds_on_demand_racing_a_consolidation_get_distinct_report_versions(engine):
    """The build route retries on VersionTaken (entrypoint.build_report): two officers' builds and a
    due at once leave versions 1, 2, 3 of the district's report, none lost, none doubled."""
    from uise_common.docsign import DocumentSigner
    from uise_contracts.events import Level, ParticipantUpserted
    from uise_reporting import views
    from uise_reporting.adapters import ReportVersion
    from uise_reporting.handlers import on_participant

    run_handler(engine, on_formlist, FormListApproved(year=2026, version=1, order_no="1", order_date=date(2026, 1, 15),
                                                      forms=[SCHOOL_FORM]))
    for pid, level, kind, parent in ((DISTRICT, Level.district, "district", "200140000015"),
                                     (SCHOOL, Level.organization, "school", DISTRICT)):
        run_handler(engine, on_participant, ParticipantUpserted(participant_id=pid, bin=pid, level=level, kind=kind,
                                                                parent_id=parent, name_kk="x", name_ru="x"))
    run_handler(engine, on_accepted, SubmissionAccepted(submission_id="s1", participant_id=SCHOOL,
                                                        recipient_id=DISTRICT, form_code="SCH-1", period="2026",
                                                        values_exact={"pupils_total": "10"}))
    signer = DocumentSigner.ephemeral()
    on_due = make_on_due(put, signer)
    barrier = threading.Barrier(3)
    retried: list[str] = []

    def build(who: str) -> None:
        barrier.wait()
        for _ in range(10):
            try:
                if who == "due":
                    run_handler(engine, on_due, ConsolidationDue(
                        node_id=DISTRICT, form_code="SCH-1", period="2026", expected=1, received=1, due_id="d1",
                        included=[SCHOOL], included_submissions={SCHOOL: "s1"}))
                else:
                    with Session(engine) as s:
                        views.build_report(s, DISTRICT, "SCH-1", "2026", put, signer)
                        s.commit()
                return
            except VersionTaken:
                retried.append(who)

    threads = [threading.Thread(target=build, args=(w,)) for w in ("officer-1", "officer-2", "due")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with Session(engine) as s:
        rows = s.exec(select(ReportVersion).order_by(ReportVersion.version)).all()
    assert [r.version for r in rows] == [1, 2, 3]
    assert sum(r.due_id == "d1" for r in rows) == 1 and all(r.built_from == 1 for r in rows)
