from __future__ import annotations

import json
from datetime import date

from uise_common.objectstore import sha256_hex
from uise_common.testing import migrated_sqlite, run_handler
from uise_contracts.events import (
    FormListApproved,
    Level,
    ParticipantUpserted,
    StoredObject,
    SubmissionAccepted,
)
from uise_contracts.examples import SCHOOL_FORM
from uise_reporting.adapters import MIGRATIONS
from uise_reporting.domain import consolidate
from uise_reporting.handlers import make_on_accepted, on_formlist, on_participant

DISTRICT = "210340000012"
SCHOOLS = ["220440000013", "220440000024"]


def test_consolidate_follows_each_fields_aggregate():
    rows = [{"pupils_total": 10, "teachers": 2, "comment": "a"}, {"pupils_total": 5, "teachers": None}]
    totals = consolidate(SCHOOL_FORM, rows)
    assert totals["pupils_total"] == 15 and totals["teachers"] == 2 and totals["classes"] is None
    assert "comment" not in totals


def test_report_is_published_when_every_school_has_reported_and_corrections_replace(tmp_path):
    engine = migrated_sqlite(tmp_path, MIGRATIONS)
    run_handler(engine, on_formlist, FormListApproved(year=2026, version=1, order_no="1",
                                                      order_date=date(2026, 1, 15), forms=[SCHOOL_FORM]))
    for school in SCHOOLS:
        run_handler(engine, on_participant, ParticipantUpserted(
            participant_id=school, bin=school, level=Level.organization, kind="school", parent_id=DISTRICT,
            name_kk="x", name_ru="x"))
    stored: dict[str, bytes] = {}

    def put(data: bytes, kind: str, media: str) -> StoredObject:
        stored[sha256_hex(data)] = data
        return StoredObject(key=f"{kind}/{sha256_hex(data)}", sha256=sha256_hex(data), size=len(data), media_type=media)

    handler = make_on_accepted(put)

    def accepted(sid, school, pupils):
        return SubmissionAccepted(submission_id=sid, participant_id=school, recipient_id=DISTRICT,
                                  form_code="SCH-1", period="2026", values={"pupils_total": pupils})

    [only_aggregated] = run_handler(engine, handler, accepted("s1", SCHOOLS[0], 100))
    assert only_aggregated.contributors == 1
    aggregated, report = run_handler(engine, handler, accepted("s2", SCHOOLS[1], 50))
    assert aggregated.contributors == 2 and report.totals["pupils_total"] == 150
    _, corrected = run_handler(engine, handler, accepted("s3", SCHOOLS[0], 120))  # a correction replaces
    assert corrected.totals["pupils_total"] == 170
    assert json.loads(stored[corrected.document.sha256])["totals"]["pupils_total"] == 170
