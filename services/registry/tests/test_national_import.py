"""`uise-registry seed --national` imports the ~20,000-participant hierarchy in one command;
what lands in the database has the shared data's school counts and the hierarchy's invariants."""

from __future__ import annotations

import csv

from sqlmodel import Session, func, select

from uise_common.db import make_engine
from uise_common.outbox import OutboxRow
from uise_common.testing import shared_dir
from uise_contracts.events import Level
from uise_registry import handlers, identifiers, seed
from uise_registry.domain import KINDS_BY_LEVEL, PARENT_LEVEL
from uise_registry.entrypoint import main

SHARED_CSV = shared_dir() / "data" / "kz-schools-by-region-2022.csv"


def test_national_seed_imports_in_one_command(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("UISE_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("UISE_DATABASE_URL", raising=False)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    assert main(["seed", "--national"]) == 0
    assert "'rejected': 0" in capsys.readouterr().out

    engine = make_engine(f"sqlite:///{tmp_path / 'registry.db'}", "registry")
    with Session(engine) as s:
        people = handlers.all_participants(s)
        queued = s.exec(select(func.count()).select_from(OutboxRow)).one()
    assert 19_000 <= len(people) <= 21_000
    assert queued == len(people)  # every participant's event is in the outbox

    by_region = seed.counts_by_region(people.values())
    with SHARED_CSV.open() as f:
        expected = {row["Region"]: int(row["Value"]) for row in csv.DictReader(f)}
    assert {region: kinds.get("school", 0) for region, kinds in by_region.items()} == expected

    for p in people.values():
        assert identifiers.is_valid(p.bin) and p.kind in KINDS_BY_LEVEL[p.level]
        parent = people.get(p.parent_id) if p.parent_id else None
        assert (parent.level if parent else None) == PARENT_LEVEL[p.level]
        if p.level != Level.ministry:
            assert p.head_iin and identifiers.is_valid(p.head_iin) and p.head_on(p.heads[0].valid_from)

    # the same command again changes nothing
    assert main(["seed", "--national"]) == 0
    assert f"'ignored': {len(people)}" in capsys.readouterr().out
