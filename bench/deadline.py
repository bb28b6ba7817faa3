"""How deadline's work grows with the country: effective deadlines and their timers for an
approved list, and one deadline's `missing` sweep, for the national seed (~20,000 participants)
and for a tenth of it, side by side in one run.

    .venv/bin/python bench/deadline.py [--rounds 3]

The same code the service runs (handlers, the timer's sweep) on SQLite files in a temporary
directory: the registry's national seed as deadline's read model, the catalogue forms approved
for 2031, nobody delivered, the clock one second past the organizations' annual deadline. Prints
the absolute times and the ratio national / tenth: a sweep's work should grow with the
participants and nothing else (near 10), computing deadlines not at all (near 1)."""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

from sqlmodel import Session, select

from uise_common.clock import Clock
from uise_common.outbox import add_event
from uise_common.testing import migrated_sqlite, run_handler
from uise_contracts.events import FormListApproved
from uise_deadline import handlers
from uise_deadline.adapters import MIGRATIONS, Deadline, Timer
from uise_deadline.scheduler import Scheduler
from uise_registry.catalog import CATALOG
from uise_registry.seed import national

SCHEDULE = handlers.Schedule(["P7D", "P1D", "PT3H"], "P1D")


class Runtime:
    def __init__(self, engine, at) -> None:
        self.engine, self.clock = engine, Clock(fixed=at)

    def emit(self, session, event) -> None:
        add_event(session, event, "deadline")


def one(participants, directory: Path) -> dict[str, float]:
    engine = migrated_sqlite(directory, MIGRATIONS)
    with Session(engine) as session:  # the read model, as the consumer builds it
        for p in participants:
            handlers.on_participant(p, session)
        session.commit()
    started = time.perf_counter()
    run_handler(engine, handlers.make_on_formlist(SCHEDULE), FormListApproved(
        year=2031, version=1, order_no="bench", order_date=date(2031, 1, 15), forms=list(CATALOG)))
    publish = time.perf_counter() - started
    with Session(engine) as session:
        annual = session.exec(select(Deadline).where(Deadline.level == "organization", Deadline.period == "2031")
                              ).first()
        sweep = session.exec(select(Timer).where(Timer.kind == "sweep", Timer.form_code == annual.form_code,
                                                 Timer.period == annual.period, Timer.level == "organization")).one()
        sweep_id, at = sweep.id, handlers.aware(annual.deadline_at) + timedelta(seconds=1)
    scheduler = Scheduler(Runtime(engine, at), 1, 30)
    with Session(engine) as session:
        sweep = session.get(Timer, sweep_id)
        sweep.claimed_by = scheduler.owner
        session.add(sweep)
        session.commit()
    started = time.perf_counter()
    assert scheduler.fire_one(sweep_id, at)
    swept = time.perf_counter() - started
    engine.dispose()
    return {"publish": publish, "sweep": swept}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rounds", type=int, default=3)
    args = p.parse_args()
    everyone = national()
    schools = [q for q in everyone if q.level.value == "organization"]
    tenth = [q for q in everyone if q.level.value != "organization"] + schools[::10]
    print(f"national seed: {len(everyone)} participants ({len(schools)} organizations); "
          f"a tenth: {len(tenth)} ({len(schools[::10])} organizations); {len(CATALOG)} catalogue forms")
    results: dict[str, list[dict[str, float]]] = {"national": [], "tenth": []}
    for _ in range(args.rounds):  # alternating, so machine noise hits both alike
        for name, people in (("tenth", tenth), ("national", everyone)):
            with tempfile.TemporaryDirectory() as tmp:
                results[name].append(one(people, Path(tmp)))
    for what in ("publish", "sweep"):
        big = statistics.median(r[what] for r in results["national"])
        small = statistics.median(r[what] for r in results["tenth"])
        label = {"publish": "effective deadlines + timers of the list", "sweep": "one deadline's missing sweep"}[what]
        print(f"{label:42} national {big * 1000:8.1f} ms   tenth {small * 1000:8.1f} ms   ratio {big / small:5.1f}")
    ratio = statistics.median(r["sweep"] for r in results["national"]) / statistics.median(
        r["sweep"] for r in results["tenth"])
    print(f"sweep ratio national/tenth = {ratio:.1f} for {len(schools) / len(schools[::10]):.1f}x the organizations")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
