"""Durable timers: reminders before a deadline, the `missing` sweep at it, escalation after it.

Timers are rows read through their due-time index, so a tick costs one small query whatever the
number of participants; a replica claims a due timer with a lease (a conditional UPDATE: on any
database one claimant wins), fires it in one transaction with the events it emits and the rows
that make those events happen once (a violation's primary key, a reminder's record), and marks it
fired. A replica that dies mid-fire leaves its claim to expire and another takes it over; the
primary keys make the second attempt emit nothing twice. A sweep also tells every node above its
level that has not been told yet to consolidate (`consolidation.due`, reason `deadline`)."""

from __future__ import annotations

import asyncio
import logging
import socket
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import or_, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from uise_contracts.events import DeadlineReminder, DeadlineViolation, Level
from uise_deadline import consolidation
from uise_deadline.adapters import (
    Deadline,
    KnownForm,
    KnownParticipant,
    ReminderSent,
    Timeliness,
    Timer,
    Violation,
)
from uise_deadline.expectations import expected, period_last_day, superior_on
from uise_deadline.handlers import aware

log = logging.getLogger(__name__)
Emit = Callable[[Session, object], None]


def delivered(session: Session, form_code: str, period: str) -> set[str]:
    return set(session.exec(select(Timeliness.participant_id).where(
        Timeliness.form_code == form_code, Timeliness.period == period)).all())


def _form_and_deadline(session: Session, timer: Timer) -> tuple[KnownForm | None, Deadline | None]:
    deadline = session.get(Deadline, (timer.form_code, timer.period, timer.level))
    form = session.get(KnownForm, (timer.form_code, deadline.year)) if deadline else None
    return form, deadline


def fire(session: Session, timer: Timer, now: datetime, emit: Emit) -> int:
    """Do what a due timer says; returns how many events it emitted."""
    form, deadline = _form_and_deadline(session, timer)
    if form is None or deadline is None:
        return 0
    deadline_at = aware(deadline.deadline_at)
    done = delivered(session, timer.form_code, timer.period)
    waiting = [p for p in expected(session, form, timer.period, timer.level) if p.participant_id not in done]
    end = period_last_day(timer.period)

    def superior(p: KnownParticipant) -> str | None:  # by the hierarchy in force for the period
        return superior_on(p, end)

    n = 0
    if timer.kind == "sweep":
        already = set(session.exec(select(Violation.participant_id).where(
            Violation.form_code == timer.form_code, Violation.period == timer.period)).all())
        for p in waiting:
            if p.participant_id in already:
                continue
            session.add(Violation(participant_id=p.participant_id, form_code=timer.form_code, period=timer.period,
                                  kind="missing", level=timer.level, deadline_at=deadline_at, raised_at=now))
            emit(session, DeadlineViolation(participant_id=p.participant_id, form_code=timer.form_code,
                                            period=timer.period, kind="missing", deadline_at=deadline_at,
                                            recipient_id=superior(p), level=Level(timer.level)))
            n += 1
        # the nodes above this level consolidate now, complete or not (clause 9)
        n += consolidation.at_deadline(session, form, timer.period, timer.level, now, emit)
        deadline.swept_at = now
        session.add(deadline)
    elif timer.kind == "reminder":
        if now >= deadline_at:  # a reminder of a deadline already past tells nobody anything
            return 0
        n = _remind(session, timer, waiting, deadline_at, emit, "before", lambda p: p.participant_id)
    elif timer.kind == "escalation":
        n = _remind(session, timer, waiting, deadline_at, emit, "escalation", superior)
    return n


def _remind(session: Session, timer: Timer, waiting: list[KnownParticipant], deadline_at: datetime, emit: Emit,
            kind: str, recipient: Callable[[KnownParticipant], str | None]) -> int:
    label = timer.lead if kind == "before" else f"+{timer.lead}"
    sent = set(session.exec(select(ReminderSent.participant_id).where(
        ReminderSent.form_code == timer.form_code, ReminderSent.period == timer.period,
        ReminderSent.lead == label)).all())
    n = 0
    for p in waiting:
        if p.participant_id in sent or recipient(p) is None:
            continue
        session.add(ReminderSent(participant_id=p.participant_id, form_code=timer.form_code, period=timer.period,
                                 lead=label))
        emit(session, DeadlineReminder(participant_id=p.participant_id, form_code=timer.form_code, period=timer.period,
                                       deadline_at=deadline_at, kind=kind, recipient_id=recipient(p),
                                       level=Level(timer.level), lead=timer.lead))
        n += 1
    return n


def due(session: Session, now: datetime, real_now: datetime, limit: int) -> list[int]:
    """Ids of timers due by the business clock (`now`) and not claimed, or whose claim ran out by
    the real one (a lease is about processes, not about the calendar: a rehearsal's frozen clock
    must not keep a dead replica's claim alive), earliest first."""
    q = select(Timer.id).where(col(Timer.fired_at).is_(None), Timer.due_at <= now).where(
        or_(col(Timer.claimed_until).is_(None), col(Timer.claimed_until) < real_now)).order_by(
        col(Timer.due_at)).limit(limit)
    return list(session.exec(q).all())


def claim(session: Session, timer_id: int, owner: str, real_now: datetime, lease: timedelta) -> bool:
    taken = session.exec(update(Timer).where(
        Timer.id == timer_id, col(Timer.fired_at).is_(None),
        or_(col(Timer.claimed_until).is_(None), col(Timer.claimed_until) < real_now),
    ).values(claimed_by=owner, claimed_until=real_now + lease))
    return taken.rowcount == 1


class Scheduler:
    """The deadline service's background loop."""

    def __init__(self, rt, tick_seconds: float, lease_seconds: float, batch: int = 20) -> None:
        self.rt = rt
        self.tick = tick_seconds
        self.lease = timedelta(seconds=lease_seconds)
        self.batch = batch
        self.owner = f"{socket.gethostname()}:{uuid.uuid4().hex[:8]}"

    async def run(self) -> None:
        while True:
            try:
                fired = await asyncio.to_thread(self.run_due)
                if fired:
                    self.rt.relay.wake()
            except Exception as exc:  # the database is away: try again next tick
                log.warning("timer tick failed", extra={"error": repr(exc)})
            await asyncio.sleep(self.tick)

    def run_due(self) -> int:
        """Claim and fire every timer due now (by the service's clock); returns how many fired."""
        now, real_now = self.rt.clock.now(), datetime.now(UTC)
        with Session(self.rt.engine) as session:
            ids = due(session, now, real_now, self.batch)
        fired = 0
        for timer_id in ids:
            with Session(self.rt.engine) as session:
                if not claim(session, timer_id, self.owner, real_now, self.lease):
                    session.rollback()
                    continue
                session.commit()
            if self.fire_one(timer_id, now):
                fired += 1
        return fired

    def fire_one(self, timer_id: int, now: datetime) -> bool:
        with Session(self.rt.engine) as session:
            timer = session.get(Timer, timer_id)
            if timer is None or timer.fired_at is not None or timer.claimed_by != self.owner:
                return False
            n = fire(session, timer, now, self.rt.emit)
            what = {"kind": timer.kind, "form_code": timer.form_code, "period": timer.period, "level": timer.level,
                    "lead": timer.lead, "events": n}
            timer.fired_at = now
            session.add(timer)
            try:
                session.commit()
            except IntegrityError:  # another replica fired it after our claim ran out: its events stand
                session.rollback()
                return False
        log.info("timer fired", extra=what)
        return True

