"""Deadline's tables: read models of participants and forms, the calendar's operator entries, the
effective deadlines, the timers that fire at and around them, timeliness and violations, the
accepted and returned versions below each node and each node's consolidation state."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import UniqueConstraint, func, inspect, text
from sqlmodel import Field, Session, SQLModel, select

from uise_common.db import Migration, add_columns, utcnow
from uise_common.readmodel import ReadModel, Seed, Table


class KnownParticipant(SQLModel, table=True):
    __tablename__ = "deadline_participant"
    participant_id: str = Field(primary_key=True)
    level: str = Field(index=True)
    kind: str = ""  # v2
    parent_id: str | None = None  # v2
    active_from: date | None = None  # v2
    active_to: date | None = None  # v2
    parents: str = "[]"  # v3: JSON [{parent_id, valid_from, valid_to}], whom it answered to and when


class KnownForm(SQLModel, table=True):
    __tablename__ = "deadline_form"
    code: str = Field(primary_key=True)
    year: int = Field(primary_key=True)
    deadline_days: str  # JSON {level: days}
    respondent_kinds: str = ""  # v2: comma-separated
    period_type: str = "annual"  # v2
    approved_on: date | None = None  # v2: the order's date; deadlines before it are not swept
    request_id: str | None = None  # v4: an information request's form: expected are exactly its members


class CalendarEntry(SQLModel, table=True):
    """An operator's day: a decree the `holidays` package does not know yet (they come late).
    Never deleted: a withdrawn entry keeps who withdrew it and when."""

    __tablename__ = "deadline_calendar_entry"
    id: int | None = Field(default=None, primary_key=True)
    day: date = Field(index=True)
    kind: str  # day_off | working_day
    decree: str
    note: str | None = None
    entered_by: str
    entered_at: datetime = Field(default_factory=utcnow)
    withdrawn_by: str | None = None
    withdrawn_at: datetime | None = None


class Deadline(SQLModel, table=True):
    """The effective deadline of one form, period and level (clause 11)."""

    __tablename__ = "deadline_effective"
    form_code: str = Field(primary_key=True)
    period: str = Field(primary_key=True)
    level: str = Field(primary_key=True)
    year: int = Field(index=True)
    rule_date: date
    deadline_at: datetime
    swept_at: datetime | None = None  # when its `missing` sweep ran
    updated_at: datetime = Field(default_factory=utcnow)


class Timer(SQLModel, table=True):
    """Something to do at a time: remind before a deadline, sweep for `missing` at it, escalate
    after it. Read by due time through an index, claimed with a lease, so replicas share the work
    and a crash in the middle hands it on; fired once."""

    __tablename__ = "deadline_timer"
    __table_args__ = (UniqueConstraint("kind", "form_code", "period", "level", "lead"),)
    id: int | None = Field(default=None, primary_key=True)
    kind: str  # reminder | sweep | escalation
    form_code: str
    period: str
    level: str
    lead: str  # ISO 8601 duration from the deadline: "P7D" before, "PT0S" at, "P1D" after
    due_at: datetime = Field(index=True)
    fired_at: datetime | None = Field(default=None, index=True)
    claimed_by: str | None = None
    claimed_until: datetime | None = None


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
    judged_by: str | None = None  # v2: the first version of the chain, whose delivery counts
    calendar_days_late: int | None = None  # v2
    working_days_late: int | None = None  # v2
    supersedes: str | None = None  # v3: the version this one corrects (a node's current own submission)


class Violation(SQLModel, table=True):
    """One per participant, form and period: `missing` at the deadline, `late` once delivered
    after it. The primary key is what makes every violation happen once, whatever replays."""

    __tablename__ = "deadline_violation"
    participant_id: str = Field(primary_key=True)
    form_code: str = Field(primary_key=True)
    period: str = Field(primary_key=True)
    kind: str  # missing | late
    level: str
    deadline_at: datetime
    raised_at: datetime = Field(default_factory=utcnow)
    submission_id: str | None = None
    closed_at: datetime | None = None


class ReminderSent(SQLModel, table=True):
    __tablename__ = "deadline_reminder_sent"
    participant_id: str = Field(primary_key=True)
    form_code: str = Field(primary_key=True)
    period: str = Field(primary_key=True)
    lead: str = Field(primary_key=True)  # and kind, in the lead's sign: P1D before, +P1D after
    sent_at: datetime = Field(default_factory=utcnow)


class SubmissionVersion(SQLModel, table=True):
    """What the recipient decided about one submission: accepted, returned (the two events come
    on different topics, in any order). A participant's current version is the accepted one no
    other accepted version supersedes; it counts in its superior's consolidation unless returned."""

    __tablename__ = "deadline_version"
    submission_id: str = Field(primary_key=True)
    participant_id: str
    form_code: str
    period: str
    supersedes: str | None = None
    accepted_at: datetime | None = None
    returned_at: datetime | None = None


class ConsolidationState(SQLModel, table=True):
    """One node, form and period: how many `consolidation.due` it was sent and the fingerprint of
    the last (included submissions, missing, returned). The primary key, a row lock and a
    conditional update on `seq` make each state change emit once, beside replicas and replays."""

    __tablename__ = "deadline_consolidation"
    node_id: str = Field(primary_key=True)
    form_code: str = Field(primary_key=True)
    period: str = Field(primary_key=True)
    seq: int = 0
    fingerprint: str | None = None
    last_reason: str | None = None
    last_due_at: datetime | None = None


class RequestMember(SQLModel, table=True):
    """v4: a participant an information request concerns (clause 12), with its own deadline and
    whom it answers to: a target answers, a relay consolidates its members' answers."""

    __tablename__ = "deadline_request_member"
    form_code: str = Field(primary_key=True)
    participant_id: str = Field(primary_key=True)
    request_id: str
    period: str
    role: str  # target | relay
    level: str
    parent_id: str | None = None
    due_at: datetime


def _v4_inforequests(conn) -> None:
    """Issue 10, clause 12: information requests' forms and members."""
    add_columns("deadline_form", {"request_id": "VARCHAR"})(conn)
    SQLModel.metadata.create_all(conn, tables=[RequestMember.__table__])


def _v2_calendar_deadlines_timers(conn) -> None:
    """Issue 8: the calendar's entries, effective deadlines, timers, violations; richer read models."""
    insp = inspect(conn)
    for table, columns in (
        ("deadline_participant", (("kind", "VARCHAR NOT NULL DEFAULT ''"), ("parent_id", "VARCHAR"),
                                  ("active_from", "DATE"), ("active_to", "DATE"))),
        ("deadline_form", (("respondent_kinds", "VARCHAR NOT NULL DEFAULT ''"),
                           ("period_type", "VARCHAR NOT NULL DEFAULT 'annual'"), ("approved_on", "DATE"))),
        ("deadline_timeliness", (("judged_by", "VARCHAR"), ("calendar_days_late", "INTEGER"),
                                 ("working_days_late", "INTEGER"))),
    ):
        have = {c["name"] for c in insp.get_columns(table)}
        for name, ddl in columns:
            if name not in have:
                conn.execute(text(f"ALTER TABLE {table} ADD COLUMN {name} {ddl}"))
    conn.execute(text("CREATE INDEX IF NOT EXISTS ix_deadline_timeliness_chain "
                      "ON deadline_timeliness (participant_id, form_code, period)"))
    SQLModel.metadata.create_all(conn, tables=[CalendarEntry.__table__, Deadline.__table__, Timer.__table__,
                                               Violation.__table__, ReminderSent.__table__])


def _v1_tables(conn) -> None:
    """The v1 shape, from plain DDL so later model changes never alter history."""
    conn.execute(text("CREATE TABLE IF NOT EXISTS deadline_participant (participant_id VARCHAR PRIMARY KEY, "
                      "level VARCHAR NOT NULL)"))
    conn.execute(text("CREATE TABLE IF NOT EXISTS deadline_form (code VARCHAR NOT NULL, year INTEGER NOT NULL, "
                      "deadline_days VARCHAR NOT NULL, PRIMARY KEY (code, year))"))
    conn.execute(text("CREATE TABLE IF NOT EXISTS deadline_timeliness (submission_id VARCHAR PRIMARY KEY, "
                      "participant_id VARCHAR NOT NULL, form_code VARCHAR NOT NULL, period VARCHAR NOT NULL, "
                      "delivered_at TIMESTAMP NOT NULL, deadline_at TIMESTAMP, on_time BOOLEAN, "
                      "accepted BOOLEAN NOT NULL DEFAULT FALSE)"))
    conn.execute(text("CREATE INDEX IF NOT EXISTS ix_deadline_timeliness_participant_id "
                      "ON deadline_timeliness (participant_id)"))


def _v3_consolidation(conn) -> None:
    """Issue 10: parent history, the versions accepted and returned below a node, its state."""
    insp = inspect(conn)
    for table, name, ddl in (("deadline_participant", "parents", "VARCHAR NOT NULL DEFAULT '[]'"),
                             ("deadline_timeliness", "supersedes", "VARCHAR")):
        if name not in {c["name"] for c in insp.get_columns(table)}:
            conn.execute(text(f"ALTER TABLE {table} ADD COLUMN {name} {ddl}"))
    conn.execute(text("CREATE TABLE IF NOT EXISTS deadline_version (submission_id VARCHAR PRIMARY KEY, "
                      "participant_id VARCHAR NOT NULL, form_code VARCHAR NOT NULL, period VARCHAR NOT NULL, "
                      "supersedes VARCHAR, accepted_at TIMESTAMP, returned_at TIMESTAMP)"))
    conn.execute(text("CREATE INDEX IF NOT EXISTS ix_deadline_version_participant "
                      "ON deadline_version (participant_id, form_code, period)"))
    conn.execute(text("CREATE TABLE IF NOT EXISTS deadline_consolidation (node_id VARCHAR NOT NULL, "
                      "form_code VARCHAR NOT NULL, period VARCHAR NOT NULL, seq INTEGER NOT NULL DEFAULT 0, "
                      "fingerprint VARCHAR, last_reason VARCHAR, last_due_at TIMESTAMP, "
                      "PRIMARY KEY (node_id, form_code, period))"))


def violations_by_kind(session: Session) -> dict[str, float]:
    """What /metrics shows as `uise_violations{kind}`: missing and late, 0 when there are none."""
    counts = {"missing": 0.0, "late": 0.0}
    for kind, n in session.exec(select(Violation.kind, func.count()).group_by(Violation.kind)):
        counts[kind] = float(n)
    return counts


MIGRATIONS = [
    Migration(1, "read models and timeliness", _v1_tables),
    Migration(2, "calendar entries, effective deadlines, timers, violations", _v2_calendar_deadlines_timers),
    Migration(3, "parent history, accepted and returned versions, consolidation state", _v3_consolidation),
    Migration(4, "information requests: their forms and members", _v4_inforequests),
]


# What deadline builds from its topics (uise_common.readmodel). The operator's calendar days are
# its own (seeded for a replay: the handlers compute deadlines on that calendar). What its timers
# do on the clock is its own work too, not a read of a topic, and left out: `missing` violations,
# reminders sent, the sweeps' marks, timers' firing, and the consolidation states (a sweep moves
# them as well as the deliveries do).
READ_MODEL = ReadModel(
    tables=(
        Table(KnownParticipant),
        Table(KnownForm),
        Table(RequestMember),
        Table(Deadline, ignore=("swept_at", "updated_at")),
        Table(Timer, ignore=("id", "fired_at", "claimed_by", "claimed_until")),
        Table(Timeliness),
        Table(Violation, where=lambda: Violation.kind == "late", ignore=("raised_at", "closed_at")),
        Table(SubmissionVersion, ignore=("accepted_at",)),
    ),
    seeds=(Seed(CalendarEntry),),
    note="what the timers do on the clock (missing violations, reminders, sweeps, consolidation states) "
         "is left out",
)
