"""How reporting's figures grow with the country: rebuilding every node's figures from the kept
accepted submissions (and checking them against the live ones, node by node), and the national
completeness question, for the national seed (~20,000 participants) and for a cut of about a
tenth of it (~2,000), side by side in one run.

    .venv/bin/python bench/reporting.py [--rounds 3]

The same code the service runs (`uise_reporting.rebuild`, `uise_reporting.analytics`) on SQLite
files in a temporary directory. Reporting's tables are filled directly: the registry's seed as
the participants read model, OSH-1 approved for 2031, and one accepted OSH-1 submission per
school (96 aggregated cells, random whole numbers) at its district; no consolidations. The cut
keeps the ministry, the regions, every tenth district-level department and everything under
those. Prints absolute times (wall clock and the process's CPU time) and the ratio national / cut: every part should grow with the
submissions and participants and nothing else (near their ratio, about 10: linear)."""

from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import insert
from sqlmodel import Session

from uise_common.aggregates import aggregated_cells
from uise_common.testing import migrated_sqlite
from uise_contracts.events import ParticipantUpserted
from uise_registry.catalog import CATALOG
from uise_registry.seed import national
from uise_reporting import analytics, rebuild
from uise_reporting.adapters import MIGRATIONS, AcceptedSubmission, KnownForm, KnownParticipant

FORM = next(f for f in CATALOG if f.code == "OSH-1")
PERIOD = "2031"
AT = datetime(2032, 1, 9, 12, 0, tzinfo=UTC)


def cut(everyone: list[ParticipantUpserted]) -> list[ParticipantUpserted]:
    """The ministry, the regions, every tenth district-level department and all beneath them."""
    departments = [p.participant_id for p in everyone if p.level.value == "district"]
    kept = set(departments[::10])
    return [p for p in everyone if p.level.value in ("ministry", "region") or p.participant_id in kept
            or p.parent_id in kept]


def seed(engine, people: list[ParticipantUpserted]) -> int:
    rng = random.Random(2031)
    cells = list(aggregated_cells(FORM))
    participants = [{"participant_id": p.participant_id, "kind": p.kind, "parent_id": p.parent_id, "active": True}
                    for p in people]
    submissions = [{"submission_id": f"osh1-{p.participant_id}", "node_id": p.parent_id,
                    "participant_id": p.participant_id, "form_code": FORM.code, "period": PERIOD,
                    "values": json.dumps({c: str(rng.randint(0, 900)) for c in cells}, sort_keys=True),
                    "aggregates": "{}", "supersedes": None, "corrects_accepted": False, "level": "organization",
                    "accepted_at": AT} for p in people if p.kind in FORM.respondent_kinds]
    with Session(engine) as session:
        session.exec(insert(KnownParticipant), params=participants)
        session.add(KnownForm(code=FORM.code, year=int(PERIOD), definition=FORM.model_dump_json()))
        session.exec(insert(AcceptedSubmission), params=submissions)
        session.commit()
    return len(submissions)


def timed(fn) -> tuple[tuple[float, float], object]:
    """(wall, CPU) seconds: on a shared machine the wall clock also counts other processes'
    turns, the process's CPU time does not."""
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn()
    return (time.perf_counter() - wall, time.process_time() - cpu), out


def one(people: list[ParticipantUpserted], directory: Path) -> dict:
    engine = migrated_sqlite(directory, MIGRATIONS)
    seed(engine, people)
    ministry = next(p.participant_id for p in people if p.parent_id is None)
    out = {}
    with Session(engine) as session:
        out["rebuild"], rebuilt = timed(lambda: rebuild.rebuild(session, FORM.code, PERIOD))
    with Session(engine) as session:
        out["check"], checked = timed(lambda: rebuild.check(session, FORM.code, PERIOD))
    with Session(engine) as session:
        out["completeness"], body = timed(lambda: analytics.completeness(session, FORM.code, PERIOD, ministry))
    assert rebuilt.ok and checked.ok, [p.line() for p in checked.problems][:5]
    assert body["expected"] == body["accepted"] > 0
    out["nodes"] = len(rebuilt.nodes)
    engine.dispose()
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rounds", type=int, default=3)
    args = p.parse_args()
    everyone = national()
    small = cut(everyone)
    subs = {n: sum(q.kind in FORM.respondent_kinds for q in ps) for n, ps in (("national", everyone), ("cut", small))}
    print(f"national seed: {len(everyone)} participants, {subs['national']} OSH-1 submissions; "
          f"cut: {len(small)} participants, {subs['cut']} submissions "
          f"(ratio {len(everyone) / len(small):.1f} participants, {subs['national'] / subs['cut']:.1f} submissions)")
    results: dict[str, list[dict]] = {"national": [], "cut": []}
    for _ in range(args.rounds):  # alternating, so machine noise hits both alike
        for name, people in (("cut", small), ("national", everyone)):
            with tempfile.TemporaryDirectory() as tmp:
                results[name].append(one(people, Path(tmp)))
    print(f"nodes with figures: national {results['national'][0]['nodes']}, cut {results['cut'][0]['nodes']}")
    labels = {"rebuild": "rebuild every node's figures",
              "check": "rebuild + compare with the live figures",
              "completeness": "national completeness (all organizations)"}
    for what, label in labels.items():
        for i, clock in ((0, "wall"), (1, "CPU")):
            big = statistics.median(r[what][i] for r in results["national"])
            little = statistics.median(r[what][i] for r in results["cut"])
            print(f"{label:44} {clock:4} national {big * 1000:9.1f} ms   cut {little * 1000:8.1f} ms   "
                  f"ratio {big / little:5.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
