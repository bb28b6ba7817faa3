"""Reporting's tables."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel, col

from uise_common.db import Migration, add_columns, create_tables, utcnow
from uise_common.readmodel import ReadModel, Seed, Table, only


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
    """Migration 1's latest figures per participant; no longer written (AcceptedSubmission)."""

    __tablename__ = "reporting_contribution"
    node_id: str = Field(primary_key=True)
    participant_id: str = Field(primary_key=True)
    form_code: str = Field(primary_key=True)
    period: str = Field(primary_key=True)
    submission_id: str
    values: str  # JSON
    updated_at: datetime = Field(default_factory=utcnow)


class Report(SQLModel, table=True):
    """Migration 1's report per consolidation; no longer written (ReportVersion)."""

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


class AcceptedSubmission(SQLModel, table=True):
    """Every submission accepted by a node, kept (history). Written once per submission and never
    updated, so replicas never race on a shared row: which one of a participant's submissions is
    current is read from the `supersedes` links and the returns (queries.current_submissions)."""

    __tablename__ = "reporting_accepted"
    submission_id: str = Field(primary_key=True)
    node_id: str = Field(index=True)
    participant_id: str = Field(index=True)
    form_code: str
    period: str
    values: str  # JSON: cell code -> exact decimal string (values_exact, else values)
    aggregates: str = "{}"  # JSON: cell code -> CellAggregate (a department's consolidated submission)
    supersedes: str | None = Field(default=None, index=True)
    corrects_accepted: bool = False
    level: str | None = None
    findings: str = "[]"  # JSON: validation's findings on the accepted version (warnings, explained queries)
    accepted_at: datetime = Field(default_factory=utcnow)


class ReturnedSubmission(SQLModel, table=True):
    """A submission the node sent back: out of the node's figures until a correction is accepted."""

    __tablename__ = "reporting_returned"
    submission_id: str = Field(primary_key=True)
    node_id: str = Field(index=True)
    participant_id: str
    form_code: str
    period: str
    comment: str
    returned_at: datetime


class Consolidation(SQLModel, table=True):
    """One version of a node's consolidated document (per form and period: 1, 2, ...)."""

    __tablename__ = "reporting_consolidation"
    __table_args__ = (UniqueConstraint("node_id", "form_code", "period", "version"),)
    consolidation_id: str = Field(primary_key=True)  # node:form:period:version
    node_id: str = Field(index=True)
    form_code: str
    period: str
    version: int
    reason: str
    due_id: str = Field(unique=True)
    documents: str  # JSON: {"json": StoredObject, "xlsx": StoredObject}
    totals: str  # JSON: cell -> exact string
    aggregates: str  # JSON: cell -> CellAggregate
    lists: str  # JSON: included, late, missing, returned, included_submissions
    built_at: datetime = Field(default_factory=utcnow)


class KnownFormList(SQLModel, table=True):
    """An approved list's identity: a report names the list (year, version, order) it rests on."""

    __tablename__ = "reporting_formlist"
    year: int = Field(primary_key=True)
    version: int = Field(primary_key=True)
    order_no: str
    order_date: str  # ISO date


class ReportVersion(SQLModel, table=True):
    """One version of a report (node, form, period: 1, 2, ...), never updated: its documents are
    in the object store (kind `reports`, by content hash), signed by reporting's document key."""

    __tablename__ = "reporting_report_version"
    __table_args__ = (UniqueConstraint("report_id", "version"),)
    id: str = Field(primary_key=True)  # report_id:version
    report_id: str = Field(index=True)  # node:form:period
    node_id: str = Field(index=True)
    form_code: str
    period: str
    version: int
    level: str | None = None
    status: str  # preliminary | final
    trigger: str  # the due's id, or `build:<uuid>` for one built on demand
    due_id: str | None = Field(default=None, unique=True)
    documents: str  # JSON: fmt -> StoredObject
    summary: str  # JSON: cell -> exact string
    changes: str  # JSON: [{cell, before, after}]
    signature: str  # JSON: {alg, key_id, value}
    built_from: int
    built_at: datetime = Field(default_factory=utcnow)


MIGRATIONS = [Migration(1, "read models, contributions, reports, violations",
                        create_tables(KnownParticipant, KnownForm, Contribution, Report, Violation)),
              Migration(2, "accepted submissions (history), returns, consolidations",
                        create_tables(AcceptedSubmission, ReturnedSubmission, Consolidation)),
              Migration(3, "report versions, approved lists' identity", create_tables(KnownFormList, ReportVersion)),
              Migration(4, "accepted submissions' findings",
                        add_columns("reporting_accepted", {"findings": "TEXT NOT NULL DEFAULT '[]'"}))]


# What reporting builds from its topics (uise_common.readmodel). A report version built on demand
# (POST .../build) is its own (seeded for a replay: it takes a version number). Documents whose
# bytes carry the time they were built (workbooks, report documents and their signature) are left
# out of the comparison; the consolidated JSON document is compared by its hash.
READ_MODEL = ReadModel(
    tables=(
        Table(KnownParticipant),
        Table(KnownForm),
        Table(KnownFormList),
        Table(Violation),
        Table(AcceptedSubmission, ignore=("accepted_at",)),
        Table(ReturnedSubmission),
        Table(Consolidation, ignore=("built_at",), compare_as={"documents": only("json")}),
        # compared by content, not by number nor by its changes against the version before: a
        # version built on demand (a command, seeded from live before the replay) may have come
        # between triggered ones live, and in the replay it comes before them all
        Table(ReportVersion, ignore=("id", "version", "changes", "documents", "signature", "built_at")),
    ),
    seeds=(Seed(ReportVersion, where=lambda: col(ReportVersion.due_id).is_(None)),),
    note="report versions built on demand are seeded; documents that carry their build time are not compared; "
         "document reads are reporting's own",
)
