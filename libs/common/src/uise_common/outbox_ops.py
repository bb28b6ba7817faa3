"""`uise-outbox`: the outbox rows a service's relay set aside (uise_common.outbox), for ops.

    uise-outbox list    SERVICE                  # id, age, topic, key, characters, event id, reason
    uise-outbox requeue SERVICE ID [ID ...]      # the relay tries them again
    uise-outbox discard SERVICE ID [ID ...] --reason TEXT

It reads the service's own database as the service does (UISE_DATABASE_URL or DATABASE_URL, else
the SQLite file under UISE_DATA_DIR): run it where the service runs, e.g.
`kubectl -n uise exec deploy/validation -- uise-outbox list validation`.

Requeue once the cause is gone: the broker's max.message.bytes and UISE_OUTBOX_MAX_RECORD_BYTES
raised for a row refused for its size. A requeued row goes out after the later events of its key
that went out meanwhile: its consumers see it late, out of order. Discard a row whose event must never go out; it is deleted, and the
discard is logged with its reason and the event's id, topic and key.
"""

from __future__ import annotations

import argparse
import getpass
import logging
import sys
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine, delete, func, update
from sqlmodel import Session, col, select

from uise_common.db import database_url, make_engine, one_writer, utcnow
from uise_common.logs import setup_logging
from uise_common.outbox import OutboxRow
from uise_common.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SetAside:
    id: int
    event_id: str
    topic: str
    key: str
    body_chars: int  # the reason of a row too large gives its bytes
    created_at: datetime
    set_aside_at: datetime
    reason: str


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)  # SQLite stores UTC without its zone


def set_aside(engine: Engine) -> list[SetAside]:
    """Every row set aside, oldest first."""
    with Session(engine) as s:
        rows = s.exec(select(OutboxRow.id, OutboxRow.event_id, OutboxRow.topic, OutboxRow.key,
                             func.length(OutboxRow.body), OutboxRow.created_at, OutboxRow.set_aside_at,
                             OutboxRow.set_aside_reason)
                      .where(col(OutboxRow.set_aside_at).is_not(None), col(OutboxRow.sent_at).is_(None))
                      .order_by(col(OutboxRow.id))).all()
    return [SetAside(r[0], r[1], r[2], r[3], int(r[4]), _aware(r[5]), _aware(r[6]), r[7] or "") for r in rows]


def requeue(engine: Engine, ids: list[int]) -> int:
    """Put set-aside rows back in the queue; returns how many were set aside."""
    with one_writer(engine), Session(engine) as s:
        n = s.exec(update(OutboxRow).where(col(OutboxRow.id).in_(ids), col(OutboxRow.set_aside_at).is_not(None),
                                           col(OutboxRow.sent_at).is_(None))
                   .values(set_aside_at=None, set_aside_reason=None)).rowcount
        s.commit()
    return n


def discard(engine: Engine, ids: list[int], reason: str, who: str) -> list[SetAside]:
    """Delete set-aside rows for good; returns them, each logged with `reason` and `who`."""
    gone = [r for r in set_aside(engine) if r.id in set(ids)]
    with one_writer(engine), Session(engine) as s:
        s.exec(delete(OutboxRow).where(col(OutboxRow.id).in_([r.id for r in gone]),
                                       col(OutboxRow.set_aside_at).is_not(None)))
        s.commit()
    for r in gone:
        log.warning("outbox row discarded", extra={
            "outbox_id": r.id, "event_id": r.event_id, "topic": r.topic, "key": r.key,
            "set_aside_reason": r.reason, "reason": reason, "by": who})
    return gone


def _age(moment: datetime) -> str:
    seconds = int((utcnow() - moment).total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="uise-outbox", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("list", "requeue", "discard"):
        cmd = sub.add_parser(name)
        cmd.add_argument("service")
        if name != "list":
            cmd.add_argument("ids", nargs="+", type=int, metavar="ID")
        if name == "discard":
            cmd.add_argument("--reason", required=True, help="why the event must never go out (logged)")
    args = parser.parse_args(argv)
    settings = Settings(service_name=args.service)
    setup_logging(args.service, settings.log_level)
    engine = make_engine(database_url(settings, args.service), args.service)
    try:
        if args.command == "list":
            for r in set_aside(engine):
                print(f"{r.id}\t{_age(r.set_aside_at)}\t{r.topic}\t{r.key}\t{r.body_chars}\t{r.event_id}\t{r.reason}")
            return 0
        if args.command == "requeue":
            n = requeue(engine, args.ids)
            print(f"requeued {n} of {len(args.ids)}")
            return 0 if n == len(args.ids) else 1
        gone = discard(engine, args.ids, args.reason, getpass.getuser())
        print(f"discarded {len(gone)} of {len(args.ids)}")
        return 0 if len(gone) == len(args.ids) else 1
    finally:
        engine.dispose()


if __name__ == "__main__":
    sys.exit(main())
