"""Intake's tables: submissions, their timelines, and read models of participants and forms."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, inspect, text
from sqlmodel import Field, Session, SQLModel, select

from uise_common.db import Migration, add_columns, create_tables, utcnow
from uise_common.readmodel import ReadModel, Seed, Table
from uise_common.reads import DocumentRead
from uise_intake.domain import STATUS_RANK


class KnownParticipant(SQLModel, table=True):
    __tablename__ = "intake_participant"
    participant_id: str = Field(primary_key=True)
    kind: str
    parent_id: str | None = None
    active: bool = True
    level: str | None = None  # v4: a department submits the forms its level has a deadline for


class KnownForm(SQLModel, table=True):
    __tablename__ = "intake_form"
    code: str = Field(primary_key=True)
    year: int = Field(primary_key=True)
    respondent_kinds: str  # comma-separated
    period_type: str | None = None  # v2; None for rows read before it
    levels: str | None = None  # v4: comma-separated levels with a deadline (departments consolidate these)
    request_id: str | None = None  # v5: an information request's form: it applies exactly to its members


class RequestMember(SQLModel, table=True):
    """v5: a participant an information request concerns (clause 12): only they deliver its form."""

    __tablename__ = "intake_request_member"
    form_code: str = Field(primary_key=True)
    participant_id: str = Field(primary_key=True)
    request_id: str
    role: str  # target | relay


class Submission(SQLModel, table=True):
    __tablename__ = "intake_submission"
    submission_id: str = Field(primary_key=True)
    participant_id: str = Field(index=True)
    recipient_id: str | None = Field(default=None, index=True)
    form_code: str
    period: str
    document_key: str
    document_sha256: str
    signature_key: str
    signature_sha256: str
    media_type: str
    delivered_at: datetime
    # a correction names the submission it replaces; each one is replaced at most once, so the
    # versions of (participant, form, period) form one chain
    supersedes: str | None = Field(default=None, unique=True)
    status: str = "received"
    reason_code: str | None = None
    channel: str = "electronic"  # v2: or "paper" (registered by the recipient, clause 8)
    registered_by: str | None = None  # v2: paper only, "<recipient id>/<user>"
    addressed_to: str | None = None  # v4: the recipient the submitter named, when it named one
    # v6: the signed receipt as it was answered (JSON), so that the submitter can fetch it again
    # (the portal's submission page); an upload's answer is otherwise its only copy
    receipt: str | None = None


class TimelineEntry(SQLModel, table=True):
    __tablename__ = "intake_timeline"
    id: int | None = Field(default=None, primary_key=True)
    submission_id: str = Field(index=True)
    step: str
    service: str
    at: datetime = Field(default_factory=utcnow)
    detail: str = "{}"  # JSON


class IdempotencyRecord(SQLModel, table=True):
    """The first answer to a POST with an Idempotency-Key, written in the submission's
    transaction; a retry with the same key replays it."""

    __tablename__ = "intake_idempotency"
    participant_id: str = Field(primary_key=True)  # the authenticated caller
    key: str = Field(primary_key=True)
    fingerprint: str
    submission_id: str
    status_code: int
    response: str  # JSON: the receipt as first returned
    created_at: datetime = Field(default_factory=utcnow)


class ForkedChains(RuntimeError):
    """Migration 7 found correction chains with two first versions; someone must decide."""


LEGACY_READS = "intake_document_read"


def _v8_reads_in_the_common_table(conn) -> None:
    """Issue 7: reporting and validation record their document reads too, in the common table
    (uise_common.reads) that intake's reads move to, all of them, in their order. Ids are not
    copied: the new table hands out its own (PostgreSQL's sequence would not know of copied ones)."""
    create_tables(DocumentRead)(conn)
    if LEGACY_READS not in inspect(conn).get_table_names():
        return  # a database that never had them (made since, or before version 3)
    conn.execute(text(
        f"INSERT INTO uise_document_read (kind, document, part, how, reader, reader_participant_id, at) "
        f"SELECT 'submission', submission_id, part, how, reader, reader_participant_id, at FROM {LEGACY_READS} "
        f"ORDER BY at, id"))
    moved = conn.execute(text("SELECT COUNT(*) FROM uise_document_read WHERE kind = 'submission'")).scalar()
    kept = conn.execute(text(f"SELECT COUNT(*) FROM {LEGACY_READS}")).scalar()
    if moved < kept:  # never drop a read that did not arrive
        raise RuntimeError(f"{kept} document reads to move, {moved} arrived")
    conn.execute(text(f"DROP TABLE {LEGACY_READS}"))


def _v7_one_first_version(conn) -> None:
    """Issue 14: two replicas receiving the first version of one form and period at once each
    inserted it with `supersedes` NULL, forking the correction chain; the unique `supersedes`
    covers only later versions. One first version per (participant, form, period) now: the
    replica that loses reads the chain again and records a correction of the winner."""
    forked = conn.execute(text(
        "SELECT participant_id, form_code, period, COUNT(*) FROM intake_submission WHERE supersedes IS NULL "
        "GROUP BY participant_id, form_code, period HAVING COUNT(*) > 1")).all()
    if forked:
        listed = "; ".join(f"{p} {f} {per} ({n} first versions)" for p, f, per, n in forked[:20])
        raise ForkedChains(f"{len(forked)} correction chain(s) have several first versions, which only an operator "
                           f"can order: {listed}. Set `supersedes` of the later one(s), then start again.")
    conn.execute(text("CREATE UNIQUE INDEX IF NOT EXISTS ix_intake_submission_first_version "
                      "ON intake_submission (participant_id, form_code, period) WHERE supersedes IS NULL"))


def _v6_receipts(conn) -> None:
    """Issue 12: the portal offers a submission's receipt for download after the upload page is gone."""
    add_columns("intake_submission", {"receipt": "TEXT"})(conn)


def _v5_inforequests(conn) -> None:
    """Issue 10, clause 12: information requests' forms apply to exactly their members."""
    add_columns("intake_form", {"request_id": "VARCHAR"})(conn)
    create_tables(RequestMember)(conn)


def _v4_levels_and_address(conn) -> None:
    """Issue 10: departments consolidate and submit up the forms their level has a deadline for;
    a submitter may name its recipient (refused past its immediate superior)."""
    add_columns("intake_participant", {"level": "VARCHAR"})(conn)
    add_columns("intake_form", {"levels": "VARCHAR"})(conn)
    add_columns("intake_submission", {"addressed_to": "VARCHAR"})(conn)


def _v3_tokens_and_document_reads(conn) -> None:
    """Issue 7: callers present identity's tokens, so intake's own API keys go; document reads
    are audited (in intake_document_read then; version 8 moves them to the common table, so a
    database that comes here now makes no table of its own)."""
    conn.execute(text("DROP TABLE IF EXISTS intake_api_key"))


def _v2_keys_idempotency_paper(conn) -> None:
    """Issue 4: API keys, idempotency keys, the paper channel, corrections as a chain, and the
    form's periodicity in the read model. Version 1 builds its tables from the current models,
    so on a fresh database the columns already exist: add only what is missing."""
    insp = inspect(conn)
    sub_cols = {c["name"] for c in insp.get_columns("intake_submission")}
    for name, ddl in (("channel", "VARCHAR NOT NULL DEFAULT 'electronic'"), ("registered_by", "VARCHAR")):
        if name not in sub_cols:
            conn.execute(text(f"ALTER TABLE intake_submission ADD COLUMN {name} {ddl}"))
    if "period_type" not in {c["name"] for c in insp.get_columns("intake_form")}:
        conn.execute(text("ALTER TABLE intake_form ADD COLUMN period_type VARCHAR"))
    unique = {tuple(u["column_names"]) for u in insp.get_unique_constraints("intake_submission")}
    unique |= {tuple(i["column_names"]) for i in insp.get_indexes("intake_submission") if i.get("unique")}
    if ("supersedes",) not in unique:
        conn.execute(text("CREATE UNIQUE INDEX IF NOT EXISTS ix_intake_submission_supersedes_unique "
                          "ON intake_submission (supersedes)"))
    conn.execute(text("CREATE INDEX IF NOT EXISTS ix_intake_submission_recipient_id "
                      "ON intake_submission (recipient_id)"))
    # (v2 also made intake_api_key, for the API keys of issue 4; v3 drops it)
    SQLModel.metadata.create_all(conn, tables=[IdempotencyRecord.__table__])


def submissions_by_state(session: Session) -> dict[str, float]:
    """What /metrics shows as `uise_submissions{state}`: every state, 0 when none is in it."""
    counts = dict.fromkeys(STATUS_RANK, 0.0)
    for status, n in session.exec(select(Submission.status, func.count()).group_by(Submission.status)):
        counts[status] = float(n)
    return counts


MIGRATIONS = [
    Migration(1, "submissions, timelines, read models",
              create_tables(KnownParticipant, KnownForm, Submission, TimelineEntry)),
    Migration(2, "API keys, idempotency keys, paper channel, correction chain", _v2_keys_idempotency_paper),
    Migration(3, "identity's tokens replace API keys; document reads audited", _v3_tokens_and_document_reads),
    Migration(4, "levels of participants and forms (departments submit up); the addressed recipient",
              _v4_levels_and_address),
    Migration(5, "information requests: a request's form applies to its members", _v5_inforequests),
    Migration(6, "each submission keeps its signed receipt", _v6_receipts),
    Migration(7, "one first version per participant, form and period (no forked chains)", _v7_one_first_version),
    Migration(8, "document reads move to the common table (uise_common.reads)", _v8_reads_in_the_common_table),
]


# What intake builds from its topics (uise_common.readmodel): the read models of participants and
# forms, and each submission's status and timeline as the other services' outcomes move them. The
# submissions and the steps intake wrote itself (received, registered on paper, explained) are its
# own: seeded for a replay, each submission back at `received`.
READ_MODEL = ReadModel(
    tables=(
        Table(KnownParticipant),
        Table(KnownForm),
        Table(RequestMember),
        Table(Submission),
        Table(TimelineEntry, ignore=("id", "at")),
    ),
    seeds=(Seed(Submission, reset={"status": "received", "reason_code": None}),
           Seed(TimelineEntry, where=lambda: TimelineEntry.service == "intake")),
    note="submissions and intake's own timeline steps are seeded; idempotency records and document reads are "
         "intake's own",
)
