"""What a service builds from its input topics (its read model), and the comparison of two
databases' read models, row by row: the live one and one rebuilt by a replay (uise_common.replay).

A service declares its `ReadModel` beside its migrations:
- `tables`: what its handlers build from the topics, each with the columns a replay cannot
  reproduce and the comparison ignores (the time a row was processed at, an id the database
  handed out) and the rows that belong to the read model when others are written otherwise (a
  timer's `missing` violation beside the `late` ones the deliveries make);
- `seeds`: what the service owns as the source of truth (written by its HTTP commands: an
  information request, an operator's calendar day, a submission) and its handlers read. A replay
  copies them from the live database first, with what the handlers rebuild set back to what the
  command wrote (`reset`: a submission's status back to `received`).

What a service writes on its own clock (timers firing, sweeps) is neither: a replay of the topics
cannot rebuild it and the comparison leaves it out; `note` says what and why.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, select, text
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session, SQLModel

Row = dict[str, Any]
SHOWN = 5  # differing rows a report shows per table


@dataclass(frozen=True)
class Table:
    model: type[SQLModel]
    ignore: tuple[str, ...] = ()  # processing times and process-local ids
    where: Callable[[], ColumnElement] | None = None  # the rows of the read model, when not all
    compare_as: Mapping[str, Callable[[Any], Any]] = field(default_factory=dict)  # column -> value compared

    @property
    def name(self) -> str:
        return self.model.__tablename__

    def columns(self) -> list[str]:
        return [c.name for c in self.model.__table__.columns if c.name not in self.ignore]

    def key(self) -> list[str]:
        """The primary key, when the comparison keeps it: rows are then matched by it and their
        differing columns named; otherwise (an autoincrement id) rows are compared as a multiset."""
        key = [c.name for c in self.model.__table__.primary_key.columns]
        return [] if any(k in self.ignore for k in key) else key


@dataclass(frozen=True)
class Seed:
    model: type[SQLModel]
    where: Callable[[], ColumnElement] | None = None
    reset: Mapping[str, Any] = field(default_factory=dict)  # column -> the value the command wrote

    @property
    def name(self) -> str:
        return self.model.__tablename__


@dataclass(frozen=True)
class ReadModel:
    tables: tuple[Table, ...]
    seeds: tuple[Seed, ...] = ()
    note: str = ""  # what the service writes that is left out, and why


def only(*keys: str) -> Callable[[Any], Any]:
    """`compare_as` for a JSON object column: only these keys of it count (the others hold, say,
    a workbook whose bytes carry the time it was written)."""

    def pick(value: Any) -> Any:
        if value is None:
            return None
        data = json.loads(value)
        return json.dumps({k: data[k] for k in keys if k in data}, sort_keys=True)

    return pick


def as_utc(value: Any) -> Any:
    """SQLite hands back naive datetimes (stored in UTC), PostgreSQL aware ones."""
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return value


def read_rows(engine: Engine, model: type[SQLModel], where: Callable[[], ColumnElement] | None = None) -> list[Row]:
    q = select(model.__table__)
    if where is not None:
        q = q.where(where())
    with Session(engine) as s:
        return [dict(r) for r in s.execute(q).mappings()]


def seed(live: Engine, rebuilt: Engine, seeds: tuple[Seed, ...]) -> dict[str, int]:
    """Copy the sources of truth from the live database; returns how many rows of each."""
    copied = {}
    with Session(rebuilt) as s:
        for sd in seeds:
            rows = [{**r, **sd.reset} for r in read_rows(live, sd.model, sd.where)]
            if rows:
                s.execute(sd.model.__table__.insert(), rows)
                _past_copied_ids(s, sd.model.__table__)
            copied[sd.name] = len(rows)
        s.commit()
    return copied


def _past_copied_ids(session: Session, table: Any) -> None:
    """Rows copied with their ids leave PostgreSQL's sequence behind: the next insert would take
    a copied id. Move it past them (SQLite takes the largest id + 1 by itself)."""
    column = table.autoincrement_column
    if column is None or session.get_bind().dialect.name != "postgresql":
        return
    session.execute(text(f"SELECT setval(pg_get_serial_sequence('{table.name}', '{column.name}'), "
                         f"(SELECT COALESCE(MAX({column.name}), 0) + 1 FROM {table.name}), false)"))


@dataclass
class TableDiff:
    name: str
    live: int
    rebuilt: int
    only_live: list[Row] = field(default_factory=list)
    only_rebuilt: list[Row] = field(default_factory=list)
    changed: list[tuple[dict, dict[str, tuple[Any, Any]]]] = field(default_factory=list)  # key, col -> values

    @property
    def equal(self) -> bool:
        return not (self.only_live or self.only_rebuilt or self.changed)

    def lines(self) -> list[str]:
        verdict = "equal" if self.equal else (
            f"DIFFERENT: {len(self.changed)} changed, {len(self.only_live)} only live, "
            f"{len(self.only_rebuilt)} only rebuilt")
        out = [f"  {self.name:<28} live {self.live:>6}  rebuilt {self.rebuilt:>6}  {verdict}"]
        for key, cols in self.changed[:SHOWN]:
            out.append(f"      changed {_show(key)}: " + "; ".join(
                f"{c} live {_show(a)} rebuilt {_show(b)}" for c, (a, b) in cols.items()))
        out += [f"      only live    {_show(r)}" for r in self.only_live[:SHOWN]]
        out += [f"      only rebuilt {_show(r)}" for r in self.only_rebuilt[:SHOWN]]
        more = sum(max(len(x) - SHOWN, 0) for x in (self.changed, self.only_live, self.only_rebuilt))
        if more:
            out.append(f"      … and {more} more")
        return out


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 300 else text[:297] + "..."


@dataclass
class Comparison:
    tables: list[TableDiff]

    @property
    def equal(self) -> bool:
        return all(t.equal for t in self.tables)

    def report(self) -> str:
        return "\n".join(line for t in self.tables for line in t.lines())


def _comparable(table: Table, row: Row) -> Row:
    out = {}
    for c in table.columns():
        value = as_utc(row[c])
        out[c] = table.compare_as[c](value) if c in table.compare_as else value
    return out


def _frozen(row: Row) -> tuple:
    return tuple(sorted(row.items()))


def compare_table(live: Engine, rebuilt: Engine, table: Table) -> TableDiff:
    a = [_comparable(table, r) for r in read_rows(live, table.model, table.where)]
    b = [_comparable(table, r) for r in read_rows(rebuilt, table.model, table.where)]
    diff = TableDiff(table.name, len(a), len(b))
    key = table.key()
    if key:
        by_a = {tuple(r[k] for k in key): r for r in a}
        by_b = {tuple(r[k] for k in key): r for r in b}
        for k in sorted(by_a.keys() | by_b.keys(), key=repr):
            ra, rb = by_a.get(k), by_b.get(k)
            if rb is None:
                diff.only_live.append(ra)
            elif ra is None:
                diff.only_rebuilt.append(rb)
            elif ra != rb:
                diff.changed.append((dict(zip(key, k, strict=True)),
                                     {c: (ra[c], rb[c]) for c in ra if ra[c] != rb[c]}))
        return diff
    ca, cb = Counter(map(_frozen, a)), Counter(map(_frozen, b))
    diff.only_live = [dict(r) for r in sorted((ca - cb).elements(), key=repr)]
    diff.only_rebuilt = [dict(r) for r in sorted((cb - ca).elements(), key=repr)]
    return diff


def compare(live: Engine, rebuilt: Engine, model: ReadModel) -> Comparison:
    """Every table of the read model, the live database's against the rebuilt one's."""
    return Comparison([compare_table(live, rebuilt, t) for t in model.tables])
