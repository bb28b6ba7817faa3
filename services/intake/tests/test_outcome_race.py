"""Each outcome has its own consumer, so a late `validated` can be handled beside `accepted`
(seen on the embedded stack: a submission left `validated`, not final, forever). The status moves
on by compare-and-set: a handler that read the row before the other committed judges again and
never overwrites a final state. On SQLite and on PostgreSQL (READ COMMITTED)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlmodel import Session, select

from uise_common.db import migrate
from uise_common.service import COMMON_MIGRATION
from uise_common.testing import migrated_sqlite
from uise_contracts.events import SubmissionAccepted, SubmissionValidated
from uise_intake import handlers
from uise_intake.adapters import MIGRATIONS, Submission, TimelineEntry
from uise_intake.domain import next_status
from uise_intake.handlers import on_accepted, on_validated

AT = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
KEY = dict(participant_id="220440000013", form_code="SCH-1", period="2026")


def test_a_late_validated_beside_accepted_never_overwrites_the_final_state(engine, monkeypatch):
    with Session(engine) as s:
        s.add(Submission(submission_id="s-1", **KEY, document_key="d", document_sha256="0" * 64, signature_key="s",
                         signature_sha256="1" * 64, media_type="application/json", delivered_at=AT,
                         status="signature_checked"))
        s.commit()
    judged = []

    def accepted_lands_meanwhile(current: str, new: str) -> str:
        """The validated handler has read the row; the accepted consumer commits before it writes."""
        if not judged:
            judged.append(current)
            with Session(engine) as other:
                on_accepted(SubmissionAccepted(submission_id="s-1", recipient_id="210340000012", **KEY), other)
                other.commit()
        return next_status(current, new)

    monkeypatch.setattr(handlers, "next_status", accepted_lands_meanwhile)
    with Session(engine) as late:
        on_validated(SubmissionValidated(submission_id="s-1", ok=True, **KEY), late)
        late.commit()
    assert judged == ["signature_checked"]  # it did read the row before accepted landed
    with Session(engine) as s:
        assert s.get(Submission, "s-1").status == "accepted"
        steps = sorted(e.step for e in s.exec(select(TimelineEntry).where(TimelineEntry.submission_id == "s-1")))
    assert steps == ["accepted", "validated"]  # both steps kept in the timeline


def _version(sid: str, supersedes: str | None) -> Submission:
    return Submission(submission_id=sid, **KEY, document_key="d", document_sha256="0" * 64, signature_key="s",
                      signature_sha256="1" * 64, media_type="application/json", delivered_at=AT,
                      status="received", supersedes=supersedes)


def test_two_replicas_recording_a_first_version_at_once_cannot_fork_the_chain(engine):
    """Each replica read the chain empty; the one that commits second is refused by the database,
    reads the chain again and records a correction of the winner (intake's delivery loop)."""
    from sqlalchemy.exc import IntegrityError

    from uise_intake.commands import chain_head

    with Session(engine) as a, Session(engine) as b:
        assert chain_head(a, **KEY) is None and chain_head(b, **KEY) is None
        a.add(_version("first-a", None))
        a.commit()
        b.add(_version("first-b", None))
        with pytest.raises(IntegrityError):
            b.commit()
        b.rollback()
        head = chain_head(b, **KEY)
        assert head is not None and head.submission_id == "first-a"
        b.add(_version("first-b", head.submission_id))
        b.commit()
    with Session(engine) as s:
        chain = {r.submission_id: r.supersedes for r in s.exec(select(Submission).where(
            Submission.participant_id == KEY["participant_id"]))}
    assert chain == {"first-a": None, "first-b": "first-a"}


def test_a_database_with_a_forked_chain_is_not_migrated_silently(tmp_path):
    from uise_common.db import Migration
    from uise_intake.adapters import ForkedChains

    engine = migrated_sqlite(tmp_path, MIGRATIONS[:6])
    with Session(engine) as s:
        s.add(_version("fork-1", None))
        s.add(_version("fork-2", None))
        s.commit()
    with pytest.raises(ForkedChains, match="220440000013 SCH-1 2026 \\(2 first versions\\)"):
        migrate(engine, [COMMON_MIGRATION, *MIGRATIONS])
    assert isinstance(MIGRATIONS[6], Migration) and MIGRATIONS[6].version == 7
