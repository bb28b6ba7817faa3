"""Intake's tables: submissions, their timelines, and read models of participants and forms."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from uise_common.db import Migration, create_tables, utcnow


class KnownParticipant(SQLModel, table=True):
    __tablename__ = "intake_participant"
    participant_id: str = Field(primary_key=True)
    kind: str
    parent_id: str | None = None
    active: bool = True


class KnownForm(SQLModel, table=True):
    __tablename__ = "intake_form"
    code: str = Field(primary_key=True)
    year: int = Field(primary_key=True)
    respondent_kinds: str  # comma-separated


class Submission(SQLModel, table=True):
    __tablename__ = "intake_submission"
    submission_id: str = Field(primary_key=True)
    participant_id: str = Field(index=True)
    recipient_id: str | None = None
    form_code: str
    period: str
    document_key: str
    document_sha256: str
    signature_key: str
    signature_sha256: str
    media_type: str
    delivered_at: datetime
    supersedes: str | None = None
    status: str = "received"
    reason_code: str | None = None


class TimelineEntry(SQLModel, table=True):
    __tablename__ = "intake_timeline"
    id: int | None = Field(default=None, primary_key=True)
    submission_id: str = Field(index=True)
    step: str
    service: str
    at: datetime = Field(default_factory=utcnow)
    detail: str = "{}"  # JSON


MIGRATIONS = [Migration(1, "submissions, timelines, read models",
                        create_tables(KnownParticipant, KnownForm, Submission, TimelineEntry))]
