"""Routing's tables: read models of participants and forms (from the registry's compacted
topics, so routing never calls the registry on the hot path), decisions, inboxes, and what the
deadline and reporting services said about them."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import inspect, text
from sqlmodel import Field, SQLModel, col

from uise_common.db import Migration, add_columns, create_tables, utcnow
from uise_common.readmodel import ReadModel, Seed, Table


class KnownParticipant(SQLModel, table=True):
    __tablename__ = "routing_participant"
    participant_id: str = Field(primary_key=True)
    kind: str
    parent_id: str | None = None  # the superior today; `parents` holds the history (v2)
    active: bool = True
    level: str | None = None  # v2
    parents: str = "[]"  # v2: JSON list of ParentTerm (parent_id, valid_from, valid_to)
    active_from: date | None = None  # v2
    active_to: date | None = None  # v2


class KnownForm(SQLModel, table=True):
    __tablename__ = "routing_form"
    code: str = Field(primary_key=True)
    year: int = Field(primary_key=True)
    respondent_kinds: str  # comma-separated
    period_type: str | None = None  # v2
    deadline_days: str = "{}"  # v2: JSON object level -> days after the period's end
    request_id: str | None = None  # v3: an information request's form: it applies exactly to its members


class Decision(SQLModel, table=True):
    """One row per submission: its one final state."""

    __tablename__ = "routing_decision"
    submission_id: str = Field(primary_key=True)
    outcome: str  # accepted | rejected
    reason_code: str | None = None
    decided_at: datetime = Field(default_factory=utcnow)
    # v2: what the version is, so a correction chain can be walked across rejected versions
    participant_id: str | None = None
    form_code: str | None = None
    period: str | None = None
    supersedes: str | None = Field(default=None, index=True)


class InboxItem(SQLModel, table=True):
    """A version filed in the recipient's inbox. Never deleted: the history of a chain of
    corrections is its rows, linked by `supersedes` / `superseded_by`."""

    __tablename__ = "routing_inbox"
    submission_id: str = Field(primary_key=True)
    recipient_id: str = Field(index=True)
    participant_id: str
    form_code: str
    period: str
    filed_at: datetime = Field(default_factory=utcnow)
    superseded_by: str | None = None
    # v2
    state: str = "accepted"  # accepted | reviewed | returned | superseded (arrived after its successor)
    supersedes: str | None = None
    linked: bool = False  # `supersedes` came with the submission (not inferred by arrival order)
    corrects_accepted: bool = False
    reviewed_by: str | None = None
    reviewed_at: datetime | None = None
    returned_by: str | None = None
    returned_at: datetime | None = None
    return_comment: str | None = None


class InFlight(SQLModel, table=True):
    """A submission whose signature verified and that routing has not decided yet: the inbox
    shows it as delivered (on its way through validation)."""

    __tablename__ = "routing_in_flight"
    submission_id: str = Field(primary_key=True)
    participant_id: str = Field(index=True)
    form_code: str
    period: str
    seen_at: datetime = Field(default_factory=utcnow)


class Violation(SQLModel, table=True):
    """The deadline service's `late` / `missing` verdicts, one per participant, form, period, kind."""

    __tablename__ = "routing_violation"
    participant_id: str = Field(primary_key=True)
    form_code: str = Field(primary_key=True)
    period: str = Field(primary_key=True)
    kind: str = Field(primary_key=True)  # late | missing
    recipient_id: str | None = Field(default=None, index=True)
    deadline_at: datetime
    submission_id: str | None = None


class NodeConsolidation(SQLModel, table=True):
    """A node's own consolidation of a form and period: the last `consolidation.due` and the
    latest consolidated document reporting built."""

    __tablename__ = "routing_consolidation"
    node_id: str = Field(primary_key=True)
    form_code: str = Field(primary_key=True)
    period: str = Field(primary_key=True)
    due_reason: str | None = None
    due_id: str | None = None
    due_seq: int | None = None
    expected: int | None = None
    received: int | None = None
    missing: str = "[]"  # JSON list
    late: str = "[]"
    returned: str = "[]"
    deadline_at: datetime | None = None
    ready_version: int | None = None
    consolidation_id: str | None = None
    ready_reason: str | None = None
    built_at: datetime | None = None


class InfoRequest(SQLModel, table=True):
    """An information request the Ministry issued (clause 12): an ad-hoc form for an as-of date."""

    __tablename__ = "routing_inforequest"
    request_id: str = Field(primary_key=True)
    form_code: str = Field(unique=True)
    title: str
    period: str
    issued_by: str  # the caller's subject
    issuer_id: str | None = None  # the participant it acted for (the Ministry), if any
    due_at: datetime  # the targets' deadline
    relay_days: int
    target: str  # InfoRequestTarget JSON
    form: str  # FormDefinition JSON
    issued_at: datetime = Field(default_factory=utcnow)


class InfoRequestMember(SQLModel, table=True):
    """A participant the request concerns: a target answers, a relay consolidates and submits up."""

    __tablename__ = "routing_inforequest_member"
    request_id: str = Field(primary_key=True)
    participant_id: str = Field(primary_key=True, index=True)
    form_code: str = Field(index=True)
    role: str  # target | relay
    level: str
    parent_id: str
    due_at: datetime


_V2_COLUMNS = {
    "routing_participant": (("level", "VARCHAR"), ("parents", "VARCHAR NOT NULL DEFAULT '[]'"),
                            ("active_from", "DATE"), ("active_to", "DATE")),
    "routing_form": (("period_type", "VARCHAR"), ("deadline_days", "VARCHAR NOT NULL DEFAULT '{}'")),
    "routing_decision": (("participant_id", "VARCHAR"), ("form_code", "VARCHAR"), ("period", "VARCHAR"),
                         ("supersedes", "VARCHAR")),
    "routing_inbox": (("state", "VARCHAR NOT NULL DEFAULT 'accepted'"), ("supersedes", "VARCHAR"),
                      ("linked", "BOOLEAN NOT NULL DEFAULT FALSE"),
                      ("corrects_accepted", "BOOLEAN NOT NULL DEFAULT FALSE"), ("reviewed_by", "VARCHAR"),
                      ("reviewed_at", "TIMESTAMP"), ("returned_by", "VARCHAR"), ("returned_at", "TIMESTAMP"),
                      ("return_comment", "VARCHAR")),
}


def _v2_hierarchy_inbox_reviews(conn) -> None:
    """Issue 10: the hierarchy in force per period, forms' periodicity and deadlines, correction
    chains, reviews and returns, deadline verdicts and consolidations. Migration 1 creates its
    tables from the models, so on a fresh database the columns exist already: add only the missing."""
    for table, columns in _V2_COLUMNS.items():
        have = {c["name"] for c in inspect(conn).get_columns(table)}
        for name, ddl in columns:
            if name not in have:
                conn.execute(text(f"ALTER TABLE {table} ADD COLUMN {name} {ddl}"))
    conn.execute(text("CREATE INDEX IF NOT EXISTS ix_routing_decision_supersedes ON routing_decision (supersedes)"))
    conn.execute(text("CREATE INDEX IF NOT EXISTS ix_routing_inbox_chain "
                      "ON routing_inbox (participant_id, form_code, period)"))
    create_tables(InFlight, Violation, NodeConsolidation)(conn)


def _v3_inforequests(conn) -> None:
    """Issue 10, clause 12: information requests and their members; a request's form row."""
    add_columns("routing_form", {"request_id": "VARCHAR"})(conn)
    create_tables(InfoRequest, InfoRequestMember)(conn)


MIGRATIONS = [
    Migration(1, "read models, decisions, inboxes",
              create_tables(KnownParticipant, KnownForm, Decision, InboxItem)),
    Migration(2, "hierarchy history, forms' deadlines, corrections, reviews, returns, verdicts, consolidations",
              _v2_hierarchy_inbox_reviews),
    Migration(3, "information requests and their members", _v3_inforequests),
]


def _as_filed(state: str) -> str:
    """A recipient's review or return is its own command, not a read of a topic: an inbox item
    compares as filed (accepted), or superseded."""
    return "accepted" if state in ("reviewed", "returned") else state


# What routing builds from its topics (uise_common.readmodel). The information requests it issued
# are its own (seeded for a replay: the handlers file a request's answers by its members).
READ_MODEL = ReadModel(
    tables=(
        Table(KnownParticipant),
        Table(KnownForm),
        Table(Decision, ignore=("decided_at",)),
        Table(InboxItem, ignore=("filed_at", "reviewed_by", "reviewed_at", "returned_by", "returned_at",
                                 "return_comment"), compare_as={"state": _as_filed}),
        Table(InFlight, ignore=("seen_at",)),
        Table(Violation),
        Table(NodeConsolidation),
    ),
    seeds=(Seed(InfoRequest), Seed(InfoRequestMember), Seed(KnownForm, where=lambda: col(KnownForm.request_id).is_not(None))),
    note="reviews and returns of inbox items are the recipients' commands: an item compares as filed",
)
