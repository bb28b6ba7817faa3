"""The validation service's tables: its read model of forms and its results."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from uise_common.db import Migration, create_tables, utcnow


class KnownForm(SQLModel, table=True):
    __tablename__ = "validation_form"
    code: str = Field(primary_key=True)
    year: int = Field(primary_key=True)
    definition: str  # FormDefinition JSON


class Result(SQLModel, table=True):
    __tablename__ = "validation_result"
    submission_id: str = Field(primary_key=True)
    ok: bool
    findings: str  # JSON list
    checked_at: datetime = Field(default_factory=utcnow)


MIGRATIONS = [Migration(1, "forms and results", create_tables(KnownForm, Result))]
