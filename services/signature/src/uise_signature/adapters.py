"""The signature service's tables: its read model of participants and its verdicts."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import inspect, text
from sqlmodel import Field, SQLModel

from uise_common.db import Migration, create_tables, utcnow
from uise_common.readmodel import ReadModel, Table


class KnownParticipant(SQLModel, table=True):
    __tablename__ = "signature_participant"
    participant_id: str = Field(primary_key=True)
    bin: str
    head_iin: str | None = None
    heads: str = "[]"  # JSON list of HeadTerm: who was head when (v2)


class KnownForm(SQLModel, table=True):
    """Each approved form's signing policy (v3)."""

    __tablename__ = "signature_form"
    code: str = Field(primary_key=True)
    year: int = Field(primary_key=True)
    signers: str = "first_head"


class Verdict(SQLModel, table=True):
    __tablename__ = "signature_verdict"
    submission_id: str = Field(primary_key=True)
    ok: bool
    reason_code: str | None = None
    signer_iin: str | None = None
    signer_bin: str | None = None
    checked_at: datetime = Field(default_factory=utcnow)


def _v1(conn) -> None:
    conn.execute(text("CREATE TABLE IF NOT EXISTS signature_participant (participant_id VARCHAR PRIMARY KEY, "
                      "bin VARCHAR NOT NULL, head_iin VARCHAR)"))
    SQLModel.metadata.create_all(conn, tables=[Verdict.__table__])


def _v2_heads(conn) -> None:
    if "heads" not in {c["name"] for c in inspect(conn).get_columns("signature_participant")}:
        conn.execute(text("ALTER TABLE signature_participant ADD COLUMN heads VARCHAR NOT NULL DEFAULT '[]'"))


MIGRATIONS = [
    Migration(1, "participants and verdicts", _v1),
    Migration(2, "heads' history", _v2_heads),
    Migration(3, "forms' signing policy", create_tables(KnownForm)),
]


# What signature builds from its topics (uise_common.readmodel): all of its tables. A replay
# judges signatures with the trust anchors and CRLs it is given now.
READ_MODEL = ReadModel(tables=(Table(KnownParticipant), Table(KnownForm), Table(Verdict, ignore=("checked_at",))))
