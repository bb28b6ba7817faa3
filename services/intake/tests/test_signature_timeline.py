"""Intake's timeline entry for the signature check lists every signer of a co-signed CMS."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from sqlmodel import Session, select

from uise_common.testing import migrated_sqlite, run_handler
from uise_contracts.events import SignatureChecked, Signer, StoredObject
from uise_intake.adapters import MIGRATIONS, Submission, TimelineEntry
from uise_intake.handlers import on_signature_checked

AT = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)


def test_every_signer_and_the_trusted_time_reach_the_timeline(tmp_path):
    engine = migrated_sqlite(tmp_path, MIGRATIONS)
    with Session(engine) as session:
        session.add(Submission(submission_id="s-1", participant_id="220440000013", form_code="SCH-1", period="2026",
                               document_key="d", document_sha256="0" * 64, signature_key="s", signature_sha256="1" * 64,
                               media_type="application/json", delivered_at=AT))
        session.commit()
    director = Signer(iin="800101300011", name="Director", serial="4de3", satisfies_policy=True)
    accountant = Signer(iin="850505400033", name="Chief accountant", serial="4de4", satisfies_policy=False)
    run_handler(engine, on_signature_checked, SignatureChecked(
        submission_id="s-1", participant_id="220440000013", form_code="SCH-1", period="2026",
        document=StoredObject(key="d", sha256="0" * 64, size=1, media_type="application/json"), ok=True,
        signer=director, signers=[accountant, director], trusted_time=AT, time_source="delivery"))
    with Session(engine) as session:
        [entry] = session.exec(select(TimelineEntry).where(TimelineEntry.submission_id == "s-1")).all()
        assert session.get(Submission, "s-1").status == "signature_checked"
    detail = json.loads(entry.detail)
    assert detail["signers"] == [
        {"name": "Chief accountant", "iin": "850505400033", "serial": "4de4", "satisfies_policy": False},
        {"name": "Director", "iin": "800101300011", "serial": "4de3", "satisfies_policy": True}]
    assert (detail["signer"]["iin"], detail["time_source"]) == ("800101300011", "delivery")
    assert detail["trusted_time"].startswith("2026-11-26 09:00:00")
