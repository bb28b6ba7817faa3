"""Every read of a stored document is on record (issue 7: object storage is private, documents
go out only through the APIs or short-lived links, and every read is audited).

One table in each service's own database, `uise_document_read`, made by a common migration step
(uise_common.service). A row says who read which document, when, how and from where:

- `kind` and `document`: what was read, in the service's terms (intake's `submission` and its id;
  reporting's `consolidation` and `report`, by node:form:period; validation's `findings`, by
  submission id), with `version` where a document has versions and `part` for which file of it
  (document, signature, scan; json, xlsx, pdf);
- `how`: `file` (the API answered with the bytes), `link` (a short-lived link was handed to the
  reader: what happens with it then is at the object store, or, for reporting's signed links, a
  later `by_link` row), `by_link` (the bytes were fetched with a signed link: the reader is whom
  the link was issued to, found by the link's `grant`, and `client` is who presented it);
- `reader`: the caller's label (subject@participant/role, uise_common.auth.Principal.label), with
  its participant for the audit view of a subtree; `client`: the network address the request came
  from (as uvicorn sees it: the peer, or the gateway's X-Forwarded-For when the gateway is in
  FORWARDED_ALLOW_IPS).

A read is recorded in the transaction that finds the document, before its bytes are sent: a
refused or unknown read leaves no row, and an answer that failed on the way out is still on
record as attempted. Labels carry IINs (`iin:…`): the rows are for the audit views of each
service (`GET …/reads`, their policies declared there), and never logged.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from fastapi import Request
from sqlmodel import Field, Session, SQLModel, col, select

from uise_common.auth import Principal
from uise_common.clock import almaty_iso
from uise_common.db import utcnow

FILE, LINK, BY_LINK = "file", "link", "by_link"
# Whom a signed link without a grant was issued to: the consumers of the report.published event
# it came in (integrators' systems, docs/integrators.md), who hold no token when they use it.
PUBLISHED = "report.published"


class DocumentRead(SQLModel, table=True):
    __tablename__ = "uise_document_read"
    id: int | None = Field(default=None, primary_key=True)
    kind: str
    document: str = Field(index=True)
    version: int | None = None
    part: str
    how: str  # file | link | by_link
    reader: str
    reader_participant_id: str | None = None
    client: str | None = None
    link: str | None = Field(default=None, index=True)  # a signed link's grant: its issuance and its uses
    at: datetime = Field(default_factory=utcnow)


@dataclass(frozen=True)
class Reader:
    """Who reads, as recorded: a caller's label and participant, and where the request came from."""

    label: str
    participant_id: str | None
    client: str | None


def reader(who: Principal, request: Request) -> Reader:
    """The authenticated caller (a Principal) of a FastAPI request."""
    return Reader(who.label, who.participant_id, client_of(request))


def client_of(request: Request) -> str | None:
    return request.client.host if request.client else None


def record(s: Session, by: Reader, kind: str, document: str, part: str, how: str, *,
           version: int | None = None, link: str | None = None) -> None:
    s.add(DocumentRead(kind=kind, document=document, version=version, part=part, how=how, reader=by.label,
                       reader_participant_id=by.participant_id, client=by.client, link=link))


def link_holder(s: Session, grant: str | None, client: str | None) -> Reader:
    """Whom a signed link was issued to (its `link` row), presenting it from `client`; a link
    without a grant came in the report.published event."""
    issued = s.exec(select(DocumentRead).where(DocumentRead.link == grant, DocumentRead.how == LINK)
                    .limit(1)).first() if grant else None
    if issued is None:
        return Reader(PUBLISHED if grant is None else f"grant {grant} (issuance not found)", None, client)
    return Reader(issued.reader, issued.reader_participant_id, client)


def reads_of(s: Session, kind: str, document: str) -> list[dict]:
    """A document's reads, oldest first, times in Asia/Almaty."""
    rows = s.exec(select(DocumentRead).where(DocumentRead.kind == kind, DocumentRead.document == document)
                  .order_by(col(DocumentRead.at), col(DocumentRead.id))).all()
    return [{"version": r.version, "part": r.part, "how": r.how, "reader": r.reader, "client": r.client,
             "link": r.link, "at": almaty_iso(r.at)} for r in rows]
