"""Routing's tables: read models of participants and forms, decisions and inboxes."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from uise_common.db import Migration, create_tables, utcnow


class KnownParticipant(SQLModel, table=True):
    __tablename__ = "routing_participant"
    participant_id: str = Field(primary_key=True)
    kind: str
    parent_id: str | None = None
    active: bool = True


class KnownForm(SQLModel, table=True):
    __tablename__ = "routing_form"
    code: str = Field(primary_key=True)
    year: int = Field(primary_key=True)
    respondent_kinds: str  # comma-separated


class Decision(SQLModel, table=True):
    """One row per submission: its one final state."""

    __tablename__ = "routing_decision"
    submission_id: str = Field(primary_key=True)
    outcome: str  # accepted | rejected
    reason_code: str | None = None
    decided_at: datetime = Field(default_factory=utcnow)


class InboxItem(SQLModel, table=True):
    __tablename__ = "routing_inbox"
    submission_id: str = Field(primary_key=True)
    recipient_id: str = Field(index=True)
    participant_id: str
    form_code: str
    period: str
    filed_at: datetime = Field(default_factory=utcnow)
    superseded_by: str | None = None


MIGRATIONS = [Migration(1, "read models, decisions, inboxes",
                        create_tables(KnownParticipant, KnownForm, Decision, InboxItem))]
