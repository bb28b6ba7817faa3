"""Deadline's tables."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from uise_common.db import Migration, create_tables


class KnownParticipant(SQLModel, table=True):
    __tablename__ = "deadline_participant"
    participant_id: str = Field(primary_key=True)
    level: str


class KnownForm(SQLModel, table=True):
    __tablename__ = "deadline_form"
    code: str = Field(primary_key=True)
    year: int = Field(primary_key=True)
    deadline_days: str  # JSON {level: days}


class Timeliness(SQLModel, table=True):
    __tablename__ = "deadline_timeliness"
    submission_id: str = Field(primary_key=True)
    participant_id: str = Field(index=True)
    form_code: str
    period: str
    delivered_at: datetime
    deadline_at: datetime | None = None
    on_time: bool | None = None
    accepted: bool = False


MIGRATIONS = [Migration(1, "read models and timeliness", create_tables(KnownParticipant, KnownForm, Timeliness))]
