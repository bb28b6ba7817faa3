"""The signature service's tables: its read model of participants and its verdicts."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel
from uise_common.db import Migration, create_tables, utcnow


class KnownParticipant(SQLModel, table=True):
    __tablename__ = "signature_participant"
    participant_id: str = Field(primary_key=True)
    bin: str
    head_iin: str | None = None


class Verdict(SQLModel, table=True):
    __tablename__ = "signature_verdict"
    submission_id: str = Field(primary_key=True)
    ok: bool
    reason_code: str | None = None
    signer_iin: str | None = None
    signer_bin: str | None = None
    checked_at: datetime = Field(default_factory=utcnow)


MIGRATIONS = [Migration(1, "participants and verdicts", create_tables(KnownParticipant, Verdict))]
