"""Reporting's tables."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from uise_common.db import Migration, create_tables, utcnow


class KnownParticipant(SQLModel, table=True):
    __tablename__ = "reporting_participant"
    participant_id: str = Field(primary_key=True)
    kind: str
    parent_id: str | None = Field(default=None, index=True)
    active: bool = True


class KnownForm(SQLModel, table=True):
    __tablename__ = "reporting_form"
    code: str = Field(primary_key=True)
    year: int = Field(primary_key=True)
    definition: str


class Contribution(SQLModel, table=True):
    """The latest accepted figures of one participant for one form and period."""

    __tablename__ = "reporting_contribution"
    node_id: str = Field(primary_key=True)
    participant_id: str = Field(primary_key=True)
    form_code: str = Field(primary_key=True)
    period: str = Field(primary_key=True)
    submission_id: str
    values: str  # JSON
    updated_at: datetime = Field(default_factory=utcnow)


class Report(SQLModel, table=True):
    __tablename__ = "reporting_report"
    report_id: str = Field(primary_key=True)
    node_id: str = Field(index=True)
    form_code: str
    period: str
    document_key: str
    published_at: datetime = Field(default_factory=utcnow)


class Violation(SQLModel, table=True):
    __tablename__ = "reporting_violation"
    participant_id: str = Field(primary_key=True)
    form_code: str = Field(primary_key=True)
    period: str = Field(primary_key=True)
    kind: str = Field(primary_key=True)


MIGRATIONS = [Migration(1, "read models, contributions, reports, violations",
                        create_tables(KnownParticipant, KnownForm, Contribution, Report, Violation))]
