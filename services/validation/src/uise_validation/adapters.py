"""The validation service's tables: its read models of forms (every approved version) and
participants, the accepted figures it judges outliers and consolidations against, and its results."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import inspect, text
from sqlmodel import Field, SQLModel

from uise_common.db import Migration, add_columns, utcnow
from uise_common.readmodel import ReadModel, Table


class KnownForm(SQLModel, table=True):
    """A form as one approved list version defines it (v2: every version, not only the newest)."""

    __tablename__ = "validation_form"
    code: str = Field(primary_key=True)
    year: int = Field(primary_key=True)
    list_version: int = Field(default=1, primary_key=True)
    definition: str  # FormDefinition JSON
    order_no: str | None = None
    order_date: date | None = None


class KnownParticipant(SQLModel, table=True):
    __tablename__ = "validation_participant"
    participant_id: str = Field(primary_key=True)
    level: str
    parent_id: str | None = Field(default=None, index=True)


class AcceptedFigures(SQLModel, table=True):
    """The latest accepted exact values of a participant's form and period: its history for
    outliers, its district's peers, and what a consolidation must add up to."""

    __tablename__ = "validation_accepted"
    participant_id: str = Field(primary_key=True)
    form_code: str = Field(primary_key=True)
    period: str = Field(primary_key=True)
    recipient_id: str = Field(index=True)
    submission_id: str
    values: str  # JSON: cell -> exact decimal string (or text)
    accepted_at: datetime = Field(default_factory=utcnow)
    aggregates: str = "{}"  # v3 JSON: cell -> CellAggregate, a department's consolidation over its leaves
    supersedes: str | None = None  # v3


class Result(SQLModel, table=True):
    __tablename__ = "validation_result"
    submission_id: str = Field(primary_key=True)
    ok: bool
    findings: str  # JSON list
    checked_at: datetime = Field(default_factory=utcnow)
    # v2: what the result rests on and where it stands
    participant_id: str | None = None
    form_code: str | None = None
    period: str | None = None
    status: str = "validated"  # validated | queried
    explanations: str = "{}"  # JSON: rule -> text
    values: str = "{}"  # JSON: cell -> exact string
    document: str | None = None  # StoredObject JSON, for the finding report
    form_version: int | None = None
    list_year: int | None = None
    list_version: int | None = None
    addressed_to: str | None = None  # v3: carried on to routing
    supersedes: str | None = None  # v3
    aggregates: str = "{}"  # v3: a department's consolidation's exact aggregates, as validated


def _v3_aggregates(conn) -> None:
    """Issue 10: a department's consolidation carries exact aggregates (a mean as sum and count)."""
    add_columns("validation_accepted", {"aggregates": "VARCHAR NOT NULL DEFAULT '{}'", "supersedes": "VARCHAR"})(conn)
    add_columns("validation_result", {"addressed_to": "VARCHAR", "supersedes": "VARCHAR",
                                      "aggregates": "VARCHAR NOT NULL DEFAULT '{}'"})(conn)


def _v1_tables(conn) -> None:
    """The v1 shape, from plain DDL so later model changes never alter history."""
    conn.execute(text("CREATE TABLE IF NOT EXISTS validation_form (code VARCHAR NOT NULL, year INTEGER NOT NULL, "
                      "definition VARCHAR NOT NULL, PRIMARY KEY (code, year))"))
    conn.execute(text("CREATE TABLE IF NOT EXISTS validation_result (submission_id VARCHAR PRIMARY KEY, "
                      "ok BOOLEAN NOT NULL, findings VARCHAR NOT NULL, checked_at TIMESTAMP NOT NULL)"))


def _v2_versions_history_queries(conn) -> None:
    """Issue 9: every list version of a form (the one in force for a period judges it),
    participants, accepted figures, and results that wait for explanations."""
    conn.execute(text("ALTER TABLE validation_form RENAME TO validation_form_v1"))
    SQLModel.metadata.create_all(conn, tables=[KnownForm.__table__, KnownParticipant.__table__,
                                               AcceptedFigures.__table__])
    conn.execute(text("INSERT INTO validation_form (code, year, list_version, definition) "
                      "SELECT code, year, 1, definition FROM validation_form_v1"))
    conn.execute(text("DROP TABLE validation_form_v1"))
    have = {c["name"] for c in inspect(conn).get_columns("validation_result")}
    for name, ddl in (("participant_id", "VARCHAR"), ("form_code", "VARCHAR"), ("period", "VARCHAR"),
                      ("status", "VARCHAR NOT NULL DEFAULT 'validated'"), ("explanations", "VARCHAR NOT NULL DEFAULT '{}'"),
                      ("values", "VARCHAR NOT NULL DEFAULT '{}'"), ("document", "VARCHAR"), ("form_version", "INTEGER"),
                      ("list_year", "INTEGER"), ("list_version", "INTEGER")):
        if name not in have:
            conn.execute(text(f'ALTER TABLE validation_result ADD COLUMN "{name}" {ddl}'))


MIGRATIONS = [
    Migration(1, "forms and results", _v1_tables),
    Migration(2, "form versions, participants, accepted figures, queried results", _v2_versions_history_queries),
    Migration(3, "consolidations' aggregates, the addressed recipient, correction links", _v3_aggregates),
]


# What validation builds from its topics (uise_common.readmodel): all of its tables.
READ_MODEL = ReadModel(tables=(Table(KnownForm), Table(KnownParticipant), Table(AcceptedFigures, ignore=("accepted_at",)),
                               Table(Result, ignore=("checked_at",))))
