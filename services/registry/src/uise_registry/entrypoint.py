"""Registry process and command line.

    uise-registry [serve]                     the HTTP API (default)
    uise-registry seed [--national | --regions N --districts N --schools N] [--seed S] [--dry-run]
    uise-registry import FILE [--apply]       CSV or XLSX; a dry run unless --apply
    uise-registry export FILE                 .csv or .xlsx

The commands work on the registry's own database and queue their events in its outbox; the
running service (or the next one to start) publishes them.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import time
from pathlib import Path

from sqlmodel import Session

from uise_common.db import database_url, make_engine, migrate
from uise_common.outbox import add_event
from uise_common.service import ServiceRuntime, ServiceSpec, run, with_common
from uise_common.settings import Settings
from uise_registry import access, api, domain, handlers, importing
from uise_registry.adapters import MIGRATIONS

log = logging.getLogger(__name__)
SCHEDULER_ACTOR = "system@registry"


def publish_due(rt: ServiceRuntime) -> int:
    """Publish again every participant whose event changed by the calendar (a close date passed,
    a dated move took effect), one transaction each; returns how many went out. Safe beside other
    replicas: `handlers.take_effect` claims each participant with a conditional update."""
    today = rt.clock.today()
    with Session(rt.engine) as s:
        due = handlers.due_participants(s, today)
    published = 0
    for participant_id in due:
        with Session(rt.engine) as s:
            event = handlers.take_effect(s, participant_id, today, SCHEDULER_ACTOR)
            if event is None:
                s.rollback()
                continue
            rt.emit(s, event)
            s.commit()
            published += 1
    return published


async def calendar(rt: ServiceRuntime) -> None:
    """The registry's background loop: the day's closings and moves go out on their day."""
    while True:
        try:
            n = await asyncio.to_thread(publish_due, rt)
            if n:
                rt.relay.wake()
                log.info("participants published on their day", extra={"published": n})
        except Exception as exc:  # the database is away: try again next tick
            log.warning("registry calendar tick failed", extra={"error": repr(exc)})
        await asyncio.sleep(rt.settings.registry_tick_seconds)


SPEC = ServiceSpec(
    name="registry",
    description="Participants' hierarchy, the staff their heads name, and the annual list of forms approved by "
                "order (Rules, clauses 4, 6, 7).",
    migrations=MIGRATIONS,
    router=api.router,
    hierarchy=access.chain,
    background=calendar,
)
SYSTEM_ACTOR = "system@cli"


def _engine(settings: Settings):
    engine = make_engine(database_url(settings, "registry"), "registry")
    migrate(engine, with_common(MIGRATIONS))
    return engine


def apply_rows(settings: Settings, rows: list[importing.RawRow], apply: bool) -> importing.ImportPlan:
    """Plan an import against the database and, with `apply`, store it with its events, all in
    one transaction: a file imports whole or not at all."""
    engine = _engine(settings)
    with Session(engine) as s:
        existing = handlers.all_participants(s)
        plan = importing.plan(rows, existing, test_mode=settings.registry_test_identifiers, today=domain.today())
        if apply:
            for event in plan.created + plan.updated:
                handlers.store_participant(s, event, existing.get(event.participant_id), SYSTEM_ACTOR)
                add_event(s, event, "registry")
            s.commit()
    return plan


def cmd_seed(settings: Settings, args: argparse.Namespace) -> int:
    from uise_registry import seed

    started = time.perf_counter()
    people = seed.national(args.seed) if args.national else seed.generate(
        args.seed, regions=args.regions, districts_per_region=args.districts, schools_per_district=args.schools)
    rows = importing.rows_from_participants(people)
    plan = apply_rows(settings, rows, apply=not args.dry_run)
    print(f"seed {args.seed}: {len(people)} participants generated; {plan.summary()} "
          f"in {time.perf_counter() - started:.1f} s{' (dry run)' if args.dry_run else ''}")
    for r in plan.rejected[:20]:
        print(f"  row {r.row_no}: {r.code} {r.message}")
    return 1 if plan.rejected else 0


def cmd_import(settings: Settings, args: argparse.Namespace) -> int:
    path = Path(args.file)
    try:
        rows = importing.read_rows(path.read_bytes(), path.name)
    except importing.ImportFileError as exc:
        print(f"{exc.code}: {exc}", file=sys.stderr)
        return 2
    plan = apply_rows(settings, rows, apply=args.apply)
    print(("imported" if args.apply else "dry run (nothing changed; --apply to import)") + f": {plan.summary()}")
    for r in plan.rejected:
        print(f"  row {r.row_no} ({r.bin}): {r.code} — {r.message}")
    return 1 if plan.rejected else 0


def cmd_export(settings: Settings, args: argparse.Namespace) -> int:
    path = Path(args.file)
    with Session(_engine(settings)) as s:
        people = list(handlers.all_participants(s).values())
    path.write_bytes(importing.export_xlsx(people) if path.suffix == ".xlsx" else importing.export_csv(people))
    print(f"wrote {len(people)} participants to {path}")
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] == "serve":
        run(SPEC)
        return 0
    p = argparse.ArgumentParser(prog="uise-registry", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    sd = sub.add_parser("seed", help="generate a realistic hierarchy, deterministic from a seed")
    sd.add_argument("--national", action="store_true", help="all 20 regions, ~20,000 participants")
    sd.add_argument("--regions", type=int, default=1)
    sd.add_argument("--districts", type=int, default=2, help="per region")
    sd.add_argument("--schools", type=int, default=5, help="per district")
    sd.add_argument("--seed", type=int, default=2026)
    sd.add_argument("--dry-run", action="store_true")
    im = sub.add_parser("import", help="participants from CSV or XLSX")
    im.add_argument("file")
    im.add_argument("--apply", action="store_true", help="import; without it, a dry run")
    ex = sub.add_parser("export")
    ex.add_argument("file")
    args = p.parse_args(argv)
    settings = Settings(service_name="registry")
    return {"seed": cmd_seed, "import": cmd_import, "export": cmd_export}[args.command](settings, args)


def cli() -> None:
    sys.exit(main())


if __name__ == "__main__":
    cli()
