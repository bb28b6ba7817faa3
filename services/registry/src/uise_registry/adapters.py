"""The registry's tables: participants, their heads and staff over time, lists of forms, the audit
log."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Index
from sqlmodel import Field, SQLModel

from uise_common.db import Migration, utcnow


class Participant(SQLModel, table=True):
    __tablename__ = "registry_participant"
    participant_id: str = Field(primary_key=True)
    bin: str = Field(unique=True)
    level: str = Field(index=True)
    kind: str
    parent_id: str | None = Field(default=None, index=True)
    name_kk: str
    name_ru: str
    kato: str | None = None
    active_from: date | None = None
    active_to: date | None = None  # set when closed (the last day active); the record and its history stay
    # parent_id is the parent in force today; a move with a later date changes it when the day comes
    # The next day the published event changes by the calendar alone (the day after the close
    # date, the first day of a later parent): the registry re-publishes the participant then.
    due_on: date | None = Field(default=None, index=True)
    updated_at: datetime = Field(default_factory=utcnow)


class HeadTermRow(SQLModel, table=True):
    __tablename__ = "registry_head_term"
    id: int | None = Field(default=None, primary_key=True)
    participant_id: str = Field(index=True)
    iin: str
    full_name: str
    valid_from: date
    valid_to: date | None = None


class ParentTermRow(SQLModel, table=True):
    """Whom a participant answered to, from one day to another (both included). Written from the
    first move on: a participant never moved has none, and `parent_id` is its parent always."""

    __tablename__ = "registry_parent_term"
    id: int | None = Field(default=None, primary_key=True)
    participant_id: str = Field(index=True)
    parent_id: str = Field(index=True)
    valid_from: date
    valid_to: date | None = None


class StaffTermRow(SQLModel, table=True):
    """A person the head named to act for the participant in a role, from one date to another
    (both days included). A term is never deleted once it has had a day in force: ending it sets
    `valid_to`, and a change of role ends it and starts another."""

    __tablename__ = "registry_staff_term"
    __table_args__ = (Index("ix_registry_staff_term_participant_iin", "participant_id", "iin"),)
    id: int | None = Field(default=None, primary_key=True)
    participant_id: str
    iin: str
    full_name: str
    role: str
    valid_from: date
    valid_to: date | None = None


class FormList(SQLModel, table=True):
    __tablename__ = "registry_formlist"
    year: int = Field(primary_key=True)
    version: int = Field(primary_key=True)
    status: str = "draft"  # draft -> approved -> superseded
    order_no: str | None = None
    order_date: date | None = None
    signatory: str | None = None
    supersedes_version: int | None = None
    forms_json: str  # list[FormDefinition] as JSON
    created_at: datetime = Field(default_factory=utcnow)
    approved_at: datetime | None = None
    approved_by: str | None = None


class AuditEntry(SQLModel, table=True):
    __tablename__ = "registry_audit"
    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, index=True)
    actor: str
    action: str
    entity: str
    entity_id: str = Field(index=True)
    before: str | None = None  # JSON
    after: str | None = None  # JSON


def _v2_participant_details(conn) -> None:
    """Issue 3: KATO, active dates and heads' history; heads move from the participant row."""
    from sqlalchemy import inspect, text

    cols = {c["name"] for c in inspect(conn).get_columns("registry_participant")}
    for name, ddl in (("kato", "VARCHAR"), ("active_from", "DATE"), ("active_to", "DATE")):
        if name not in cols:
            conn.execute(text(f"ALTER TABLE registry_participant ADD COLUMN {name} {ddl}"))
    fl_cols = {c["name"] for c in inspect(conn).get_columns("registry_formlist")}
    for name, ddl in (("signatory", "VARCHAR"), ("supersedes_version", "INTEGER"),
                      ("created_at", "TIMESTAMP"), ("approved_by", "VARCHAR")):
        if name not in fl_cols:
            conn.execute(text(f"ALTER TABLE registry_formlist ADD COLUMN {name} {ddl}"))
    SQLModel.metadata.create_all(conn, tables=[HeadTermRow.__table__, AuditEntry.__table__])
    if "head_iin" in cols:  # carry the single head of v1 into the history, then drop the columns
        conn.execute(text(
            "INSERT INTO registry_head_term (participant_id, iin, full_name, valid_from) "
            "SELECT participant_id, head_iin, COALESCE(head_name, ''), CAST('2000-01-01' AS DATE) "
            "FROM registry_participant WHERE head_iin IS NOT NULL"))
        for name in ("head_iin", "head_name", "active"):
            conn.execute(text(f"ALTER TABLE registry_participant DROP COLUMN {name}"))


def _v3_staff(conn) -> None:
    """Issue 7: the staff a head names (accountants, officers, analysts, the data office)."""
    SQLModel.metadata.create_all(conn, tables=[StaffTermRow.__table__])


def _v4_dated_changes(conn) -> None:
    """Issue 10: moves in the hierarchy with their dates, and the day each participant's event
    changes by itself. A participant closed with a later date before this version is due the
    day after its close date, so it is re-published then like any other."""
    from datetime import timedelta

    from sqlalchemy import inspect, text

    cols = {c["name"] for c in inspect(conn).get_columns("registry_participant")}
    if "due_on" not in cols:
        conn.execute(text("ALTER TABLE registry_participant ADD COLUMN due_on DATE"))
        conn.execute(text("CREATE INDEX IF NOT EXISTS ix_registry_participant_due_on ON registry_participant (due_on)"))
    SQLModel.metadata.create_all(conn, tables=[ParentTermRow.__table__])
    closing = conn.execute(text("SELECT participant_id, active_to FROM registry_participant "
                                "WHERE active_to IS NOT NULL AND due_on IS NULL")).all()
    for pid, active_to in closing:
        day = active_to if isinstance(active_to, date) else date.fromisoformat(str(active_to))
        conn.execute(text("UPDATE registry_participant SET due_on = :d WHERE participant_id = :p"),
                     {"d": day + timedelta(days=1), "p": pid})


def _v1_tables(conn) -> None:
    """The v1 shape, created from plain DDL so later model changes never alter history."""
    from sqlalchemy import text

    conn.execute(text(
        "CREATE TABLE IF NOT EXISTS registry_participant (participant_id VARCHAR PRIMARY KEY, "
        "bin VARCHAR UNIQUE NOT NULL, level VARCHAR NOT NULL, kind VARCHAR NOT NULL, parent_id VARCHAR, "
        "name_kk VARCHAR NOT NULL, name_ru VARCHAR NOT NULL, head_iin VARCHAR, head_name VARCHAR, "
        "active BOOLEAN NOT NULL DEFAULT TRUE, updated_at TIMESTAMP NOT NULL)"))
    conn.execute(text("CREATE INDEX IF NOT EXISTS ix_registry_participant_parent_id ON registry_participant (parent_id)"))
    conn.execute(text("CREATE INDEX IF NOT EXISTS ix_registry_participant_level ON registry_participant (level)"))
    conn.execute(text(
        "CREATE TABLE IF NOT EXISTS registry_formlist (year INTEGER NOT NULL, version INTEGER NOT NULL, "
        "status VARCHAR NOT NULL, order_no VARCHAR, order_date DATE, forms_json VARCHAR NOT NULL, "
        "approved_at TIMESTAMP, PRIMARY KEY (year, version))"))


MIGRATIONS = [
    Migration(1, "participants and form lists", _v1_tables),
    Migration(2, "participant details, heads' history, audit", _v2_participant_details),
    Migration(3, "staff named by the head", _v3_staff),
    Migration(4, "dated moves and the day an event changes by itself", _v4_dated_changes),
]
