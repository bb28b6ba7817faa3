"""The comparison of a live read model with a rebuilt one: matched by primary key (naming the
differing columns) or as a multiset when the key is a database's own id; processing times
ignored, only the read model's rows, values compared as declared; SQLite's naive datetimes equal
PostgreSQL's aware ones. And seeding copies the sources of truth with what the handlers rebuild
set back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import Field, Session, SQLModel, col, select

from uise_common.db import Migration, create_tables, make_engine, migrate
from uise_common.readmodel import ReadModel, Seed, Table, compare, only, seed
from uise_common.testing import scratch_postgres

pytestmark = pytest.mark.integration  # PostgreSQL beside SQLite

AT = datetime(2034, 1, 5, 5, 0, tzinfo=UTC)


class Verdict(SQLModel, table=True):
    __tablename__ = "rmtest_verdict"
    submission_id: str = Field(primary_key=True)
    kind: str
    state: str = "accepted"
    decided_at: datetime  # the handler's processing time
    documents: str = "{}"


class Step(SQLModel, table=True):
    __tablename__ = "rmtest_step"
    id: int | None = Field(default=None, primary_key=True)
    submission_id: str
    step: str
    at: datetime


MIGRATIONS = [Migration(1, "tables", create_tables(Verdict, Step))]
MODEL = ReadModel(tables=(
    Table(Verdict, ignore=("decided_at",), where=lambda: Verdict.kind != "timer",
          compare_as={"state": lambda s: "accepted" if s == "reviewed" else s, "documents": only("json")}),
    Table(Step, ignore=("id",)),
))


@pytest.fixture
def sqlite_pair(tmp_path):
    engines = [make_engine(f"sqlite:///{tmp_path / f'{n}.db'}", "rmtest") for n in ("live", "rebuilt")]
    for e in engines:
        migrate(e, MIGRATIONS)
    yield engines
    for e in engines:
        e.dispose()


def fill(engine, verdicts: list[dict], steps: list[dict]) -> None:
    with Session(engine) as s:
        s.add_all([Verdict(**v) for v in verdicts] + [Step(**st) for st in steps])
        s.commit()


BASE = [dict(submission_id="s1", kind="late", decided_at=AT, documents='{"json": {"k": 1}, "xlsx": {"k": 2}}'),
        dict(submission_id="s2", kind="late", decided_at=AT)]
STEPS = [dict(submission_id="s1", step="received", at=AT), dict(submission_id="s1", step="accepted", at=AT)]


def test_equal_read_models_despite_processing_times_ids_other_rows_and_declared_values(sqlite_pair):
    live, rebuilt = sqlite_pair
    fill(live, [*BASE, dict(submission_id="t1", kind="timer", decided_at=AT)],  # a timer's row: not compared
         [dict(submission_id="s0", step="noise", at=AT), *STEPS])
    with Session(live) as s:  # ids handed out in another order
        s.delete(s.exec(select(Step).where(Step.step == "noise")).one())
        s.get(Verdict, "s2").state = "reviewed"  # a recipient's command: compares as accepted
        s.commit()
    fill(rebuilt, [{**v, "decided_at": AT + timedelta(hours=3),
                    "documents": v.get("documents", "{}").replace('"k": 2', '"k": 3')} for v in BASE],
         list(reversed(STEPS)))
    comparison = compare(live, rebuilt, MODEL)
    assert comparison.equal, comparison.report()
    assert [(t.name, t.live, t.rebuilt) for t in comparison.tables] == [("rmtest_verdict", 2, 2), ("rmtest_step", 2, 2)]


def test_every_kind_of_difference_is_found_and_shown(sqlite_pair):
    live, rebuilt = sqlite_pair
    fill(live, BASE, STEPS)
    fill(rebuilt, [{**BASE[0], "state": "superseded"}, dict(submission_id="s3", kind="late", decided_at=AT)],
         [STEPS[0], STEPS[0]])
    comparison = compare(live, rebuilt, MODEL)
    verdicts, steps = comparison.tables
    assert not comparison.equal
    assert verdicts.changed == [({"submission_id": "s1"}, {"state": ("accepted", "superseded")})]
    assert [r["submission_id"] for r in verdicts.only_live] == ["s2"]
    assert [r["submission_id"] for r in verdicts.only_rebuilt] == ["s3"]
    # no key to match by (the id is the database's): a multiset, a row twice counts twice
    assert [r["step"] for r in steps.only_live] == ["accepted"]
    assert [r["step"] for r in steps.only_rebuilt] == ["received"]
    report = comparison.report()
    assert "rmtest_verdict" in report and "DIFFERENT: 1 changed, 1 only live, 1 only rebuilt" in report
    assert "state live 'accepted' rebuilt 'superseded'" in report


def test_sqlite_against_postgresql_and_seeding_the_sources_of_truth(tmp_path):
    live = make_engine(f"sqlite:///{tmp_path / 'live.db'}", "rmtest")
    migrate(live, MIGRATIONS)
    fill(live, BASE, STEPS)
    with scratch_postgres("uise_rmtest") as url:
        rebuilt = make_engine(url, "rmtest")
        try:
            migrate(rebuilt, MIGRATIONS)
            copied = seed(live, rebuilt, (Seed(Verdict, reset={"state": "received"}),
                                          Seed(Step, where=lambda: col(Step.step) == "received")))
            assert copied == {"rmtest_verdict": 2, "rmtest_step": 1}
            with Session(rebuilt) as s:
                assert {v.state for v in s.exec(select(Verdict))} == {"received"}
                for v in s.exec(select(Verdict)):
                    v.state = "accepted"  # what the handlers rebuild
                s.add(Step(submission_id="s1", step="accepted", at=AT))
                s.commit()
            comparison = compare(live, rebuilt, MODEL)  # naive (SQLite) against aware (PostgreSQL) times
            assert comparison.equal, comparison.report()
        finally:
            rebuilt.dispose()
    live.dispose()
