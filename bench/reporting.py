"""How reporting's work grows with the country, for the national seed (~20,000 participants) and
for a cut of about a tenth of it (~2,000), side by side in one run:

- the figures: rebuilding every node's figures from the kept accepted submissions (and checking
  them against the live ones, node by node), and the national completeness question;
- one campaign of OSH-1 up the hierarchy: every district-level department consolidates its
  schools on its `consolidation.due`, its consolidated submission is accepted at its region, each
  region likewise at the Ministry, and the Ministry's due builds the national final report. Timed
  whole (every consolidation and report version: JSON, XLSX, PDF, signed) and the national final
  report alone.

    .venv/bin/python bench/reporting.py [--rounds 3] [--campaign-rounds 1] [--final-repeats 5]
                                         [--skip figures|campaign]

The same code the service runs (`uise_reporting.rebuild`, `uise_reporting.analytics`, the
consolidation handler `uise_reporting.handlers.make_on_due` and `on_accepted`, each event in its
own transaction) on SQLite files in a temporary directory, with the object store's `put` kept in
memory (same keys and hashes) and an ephemeral document key. Reporting's tables are filled
directly: the registry's seed as the participants read model, OSH-1 approved for 2031, and one
accepted OSH-1 submission per school (96 aggregated cells, random whole numbers) at its district.
The cut keeps the ministry, the regions, every tenth district-level department and everything
under those (the campaign leaves out the regions none of whose departments was kept). Prints
absolute times (wall clock and the process's CPU time) and the ratio national / cut.

The figures and the whole campaign should grow with the submissions and participants and
nothing else (near their ratio, about 10: linear). The national final report alone grows less:
the Ministry's report lists the regions and, beneath each, its departments (not the schools),
so its documents are bounded by regions + departments (ratio about 6 between the two); only its
completeness counts the schools. Sublinear there is expected, superlinear would be a problem.
The default run takes 8 to 9 minutes on 2 quiet cores, nearly all of it the national campaign
(its 244 PDFs; a region's lists every school of the region)."""

from __future__ import annotations

import argparse
import functools
import json
import random
import sqlite3
import statistics
import tempfile
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from sqlalchemy import func, insert
from sqlmodel import Session, select

from uise_common.aggregates import aggregated_cells
from uise_common.db import make_engine
from uise_common.docsign import DocumentSigner
from uise_common.objectstore import content_key, sha256_hex
from uise_common.testing import migrated_sqlite, run_handler
from uise_contracts.events import (
    ConsolidationDue,
    ConsolidationReady,
    Level,
    ParticipantUpserted,
    ReportPublished,
    StoredObject,
    SubmissionAccepted,
)
from uise_registry.catalog import CATALOG
from uise_registry.seed import national
from uise_reporting import analytics, rebuild
from uise_reporting.adapters import (
    MIGRATIONS,
    AcceptedSubmission,
    Consolidation,
    KnownForm,
    KnownFormList,
    KnownParticipant,
    ReportVersion,
)
from uise_reporting.handlers import make_on_due, on_accepted

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
        session.add(KnownFormList(year=int(PERIOD), version=1, order_no="1", order_date="2031-01-15"))
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


# --- one campaign of OSH-1 up the hierarchy, through reporting's own handlers -------------------


class MemoryStore:
    """The object store's `put` (uise_common.objectstore.ObjectStore.put) in memory: the same
    content key, SHA-256 and size, the same bytes stored once."""

    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}

    def put(self, data: bytes, kind: str, media_type: str) -> StoredObject:
        digest = sha256_hex(data)
        key = content_key(kind, digest)
        self.objects.setdefault(key, data)
        return StoredObject(key=key, sha256=digest, size=len(data), media_type=media_type)

    def get(self, obj: StoredObject) -> bytes:
        return self.objects[obj.key]


def hierarchy(people: list[ParticipantUpserted]) -> tuple[str, dict[str, list[str]], dict[str, list[str]]]:
    """(ministry, region -> its district-level departments, department -> its schools), keeping
    only the departments with a school and the regions with such a department: the country the
    campaign runs over (in the cut, the regions none of whose departments was kept drop out)."""
    ministry = next(p.participant_id for p in people if p.parent_id is None)
    schools: dict[str, list[str]] = {}
    for p in people:
        if p.kind in FORM.respondent_kinds:
            schools.setdefault(p.parent_id, []).append(p.participant_id)
    regions: dict[str, list[str]] = {}
    for p in people:
        if p.level == Level.district and p.participant_id in schools:
            regions.setdefault(p.parent_id, []).append(p.participant_id)
    return ministry, regions, {d: schools[d] for ds in regions.values() for d in ds}


def campaign(people: list[ParticipantUpserted], directory: Path, final_repeats: int = 5) -> dict:
    """Every district-level department consolidates its schools on its `consolidation.due`
    (reason complete) and submits its consolidated figures to its region, as intake's acceptance
    would reach reporting (`submission.accepted`: exact totals and aggregates); each region likewise
    to the Ministry; then the Ministry's due builds the national final report. Each event in its
    own committed transaction (uise_common.testing.run_handler), as the consumer runs it.

    The national final report alone is cheap beside the rest: it is built again on copies of
    the database as it stood before the Ministry's due (`final_repeats` in all, the same first
    version each time), and its median is kept."""
    engine = migrated_sqlite(directory, MIGRATIONS)
    seed(engine, people)
    store = MemoryStore()
    on_due = make_on_due(store.put, DocumentSigner.ephemeral())
    ministry, regions, districts = hierarchy(people)
    out: dict = {"levels": {"district": [0.0, 0.0], "region": [0.0, 0.0]}}  # summed over the dues

    def due(engine, node: str, level: Level, included: dict[str, str]) -> tuple[ConsolidationReady, ReportPublished]:
        ready, report = run_handler(engine, on_due, ConsolidationDue(
            node_id=node, form_code=FORM.code, period=PERIOD, expected=len(included), received=len(included),
            reason="complete", level=level, due_id=f"{node}:{FORM.code}:{PERIOD}:1", included=sorted(included),
            included_submissions=included, late=[]))
        return ready, report

    def below(node: str, level: Level, included: dict[str, str]) -> ConsolidationReady:
        took, (ready, _) = timed(lambda: due(engine, node, level, included))
        for i, t in enumerate(took):
            out["levels"][level.value][i] += t
        return ready

    def up(node: str, superior: str, level: Level, ready: ConsolidationReady) -> str:
        sid = f"osh1-up-{node}"
        run_handler(engine, on_accepted, SubmissionAccepted(
            submission_id=sid, participant_id=node, recipient_id=superior, form_code=FORM.code, period=PERIOD,
            values_exact=ready.totals, aggregates=ready.aggregates, level=level))
        return sid

    def lower() -> dict[str, str]:
        to_ministry: dict[str, str] = {}
        for region, departments in regions.items():
            to_region = {}
            for d in departments:
                to_region[d] = up(d, region, Level.district,
                                  below(d, Level.district, {s: f"osh1-{s}" for s in districts[d]}))
            to_ministry[region] = up(region, ministry, Level.region, below(region, Level.region, to_region))
        return to_ministry

    lower_took, to_ministry = timed(lower)
    engine.dispose()
    before = directory / "before-final.db"
    copy(directory / "unit.db", before)
    finals = []
    for k in range(final_repeats):
        again = engine if k == 0 else make_engine(f"sqlite:///{copy(before, directory / f'final-{k}.db')}", "unit")
        took, (_, report) = timed(lambda e=again: due(e, ministry, Level.ministry, to_ministry))
        finals.append(took)
        check_final(again, store, report, ministry, len(regions), sum(map(len, districts.values())))
        if k == 0:
            out["campaign"] = tuple(a + b for a, b in zip(lower_took, took, strict=True))
            with Session(engine) as session:
                out["versions"] = session.exec(select(func.count()).select_from(ReportVersion)).one()
                out["consolidations"] = session.exec(select(func.count()).select_from(Consolidation)).one()
            out["sizes"] = {fmt: d.size for fmt, d in report.documents.items()}
        again.dispose()
    out["finals"] = finals
    out["final"] = tuple(statistics.median(t[i] for t in finals) for i in (0, 1))
    out["nodes"] = (len(regions), len(districts))
    return out


def copy(source: Path, target: Path) -> Path:
    """A consistent copy of a SQLite database (its WAL included), by SQLite's backup."""
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)
    src.close()
    dst.close()
    return target

def check_final(engine, store: MemoryStore, report: ReportPublished, ministry: str, regions: int,
                schools: int) -> None:
    """The national report is final, rests on every region, and each cell's exact sum (in its
    JSON document) is the sum of the schools' kept values: the figures went up unchanged."""
    assert report.status == "final" and report.level == Level.ministry and report.node_id == ministry, report
    assert report.built_from == regions, (report.built_from, regions)
    doc = json.loads(store.objects[content_key("reports", report.documents["json"].sha256)])
    sums: dict[str, Decimal] = {}
    with Session(engine) as session:
        for values in session.exec(select(AcceptedSubmission.values).where(
                AcceptedSubmission.level == "organization")):
            for cell, v in json.loads(values).items():
                sums[cell] = sums.get(cell, Decimal(0)) + Decimal(v)
    assert {c: Decimal(a["sum"]) for c, a in doc["aggregates"].items()} == sums
    assert doc["completeness"][-1]["delivered"] == schools, doc["completeness"]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rounds", type=int, default=3, help="rounds of the rebuild, check and completeness")
    p.add_argument("--campaign-rounds", type=int, default=1,
                   help="rounds of the campaign (one national campaign takes minutes: mostly its PDFs)")
    p.add_argument("--final-repeats", type=int, default=5,
                   help="builds of the national final report per campaign (on copies of the database)")
    p.add_argument("--skip", action="append", choices=("figures", "campaign"), default=[],
                   help="leave out the rebuild/check/completeness (figures) or the campaign")
    args = p.parse_args()
    everyone = national()
    small = cut(everyone)
    subs = {n: sum(q.kind in FORM.respondent_kinds for q in ps) for n, ps in (("national", everyone), ("cut", small))}
    print(f"national seed: {len(everyone)} participants, {subs['national']} OSH-1 submissions; "
          f"cut: {len(small)} participants, {subs['cut']} submissions "
          f"(ratio {len(everyone) / len(small):.1f} participants, {subs['national'] / subs['cut']:.1f} submissions)")
    if "figures" not in args.skip:
        figures(everyone, small, args.rounds)
    if "campaign" not in args.skip:
        campaigns(everyone, small, args.campaign_rounds, args.final_repeats)
    return 0


def rounds(everyone, small, n: int, fn) -> dict[str, list[dict]]:
    results: dict[str, list[dict]] = {"national": [], "cut": []}
    for _ in range(n):  # alternating, so machine noise hits both alike
        for name, people in (("cut", small), ("national", everyone)):
            with tempfile.TemporaryDirectory() as tmp:
                results[name].append(fn(people, Path(tmp)))
    return results


def line(label: str, results: dict[str, list[dict]], what) -> None:
    """`what`: a result's key, or a function of a result: a (wall, CPU) pair."""
    get = what if callable(what) else (lambda r: r[what])
    for i, clock in ((0, "wall"), (1, "CPU")):
        big = statistics.median(get(r)[i] for r in results["national"])
        little = statistics.median(get(r)[i] for r in results["cut"])
        print(f"{label:44} {clock:4} national {big * 1000:9.1f} ms   cut {little * 1000:8.1f} ms   "
              f"ratio {big / little:5.1f}")


def figures(everyone, small, n: int) -> None:
    results = rounds(everyone, small, n, one)
    print(f"nodes with figures: national {results['national'][0]['nodes']}, cut {results['cut'][0]['nodes']}")
    labels = {"rebuild": "rebuild every node's figures",
              "check": "rebuild + compare with the live figures",
              "completeness": "national completeness (all organizations)"}
    for what, label in labels.items():
        line(label, results, what)


def campaigns(everyone, small, n: int, final_repeats: int) -> None:
    results = rounds(everyone, small, n, functools.partial(campaign, final_repeats=final_repeats))
    nat, little = results["national"][0], results["cut"][0]
    print(f"campaign (OSH-1, every level, reason complete): national {nat['nodes'][0]} regions, "
          f"{nat['nodes'][1]} departments; cut {little['nodes'][0]} regions, {little['nodes'][1]} departments")
    print(f"report versions built: national {nat['versions']}, cut {little['versions']} "
          f"(consolidations: {nat['consolidations']}, {little['consolidations']})")
    line("whole campaign (every consolidation+report)", results, "campaign")
    for level in ("district", "region"):
        line(f"  of which the {level} dues", results, lambda r, lv=level: r["levels"][lv])
    line("  and the national final report (Ministry)", results, lambda r: r["finals"][0])
    line(f"national final report alone (median of {final_repeats})", results, "final")
    for name in ("national", "cut"):
        sizes = results[name][0]["sizes"]
        print(f"final report documents, {name:8}: " + ", ".join(f"{f} {sizes[f]:,} bytes" for f in ("json", "xlsx", "pdf")))
    rows = {k: sum(results[k][0]["nodes"]) for k in results}
    print(f"The national final report lists every region and, beneath each, its departments (breakdown rows: "
          f"national {rows['national']}, cut {rows['cut']}, ratio {rows['national'] / rows['cut']:.1f}): its "
          "documents grow with those, not with the schools; only its completeness counts the schools (one "
          "level look-up each). Its ratio is below the participants' (sublinear) by design.")


if __name__ == "__main__":
    raise SystemExit(main())
