"""The registry's tables."""

from __future__ import annotations

from datetime import date, datetime

from sqlmodel import Field, SQLModel
from uise_common.db import Migration, create_tables, utcnow


class Participant(SQLModel, table=True):
    __tablename__ = "registry_participant"
    participant_id: str = Field(primary_key=True)
    bin: str = Field(unique=True)
    level: str
    kind: str
    parent_id: str | None = Field(default=None, index=True)
    name_kk: str
    name_ru: str
    head_iin: str | None = None
    head_name: str | None = None
    active: bool = True
    updated_at: datetime = Field(default_factory=utcnow)


class FormList(SQLModel, table=True):
    __tablename__ = "registry_formlist"
    year: int = Field(primary_key=True)
    version: int = Field(primary_key=True)
    status: str = "draft"  # draft -> approved -> superseded
    order_no: str | None = None
    order_date: date | None = None
    forms_json: str  # list[FormDefinition] as JSON
    approved_at: datetime | None = None


MIGRATIONS = [Migration(1, "participants and form lists", create_tables(Participant, FormList))]
