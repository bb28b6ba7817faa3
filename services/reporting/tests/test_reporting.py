from __future__ import annotations

import io
import json
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from uise_common.aggregates import Agg, aggregated_cells, combine, contribution, figures, plain
from uise_common.consumer import NotYetKnown
from uise_common.objectstore import sha256_hex
from uise_common.testing import migrated_sqlite, run_handler
from uise_contracts.events import (
    Category,
    CellAggregate,
    ConsolidationDue,
    ConsolidationReady,
    FieldType,
    FormColumn,
    FormDefinition,
    FormField,
    FormListApproved,
    FormRow,
    FormSection,
    Level,
    ReportPublished,
    StoredObject,
    SubmissionAccepted,
    SubmissionReturned,
)
from uise_contracts.examples import SCHOOL_FORM
from uise_reporting import documents, domain
from uise_reporting.adapters import MIGRATIONS, Consolidation
from uise_reporting.handlers import make_on_due, on_accepted, on_formlist, on_returned
from uise_validation.reading import XLSX, read

REGION = "200140000015"
DISTRICT, DISTRICT2 = "210340000012", "210340000023"
SCHOOLS = ["220440000013", "220440000024", "220440000035"]
FAR_SCHOOL = "220440000046"

FORM = FormDefinition(
    code="EXA-1", title_kk="x", title_ru="x", title_en="Exact", category=Category.indicators,
    period_type="annual", respondent_kinds=["school"], deadline_days={Level.organization: 10},
    fields=[
        FormField(code="pupils", title="Pupils"),
        FormField(code="score", title="Mean score", type=FieldType.decimal, aggregate="mean"),
        FormField(code="youngest", title="Youngest teacher", aggregate="min"),
        FormField(code="oldest", title="Oldest teacher", aggregate="max"),
        FormField(code="budget", title="Budget", type=FieldType.decimal),
        FormField(code="note", title="Note", type=FieldType.text, required=False, aggregate="none"),
    ],
    sections=[FormSection(code="staff", title_kk="x", title_ru="x", title_en="Staff",
                          rows=[FormRow(code="teachers", title_kk="x", title_ru="x", title_en="Teachers")],
                          columns=[FormColumn(code="women", title_kk="x", title_ru="x", title_en="Women"),
                                   FormColumn(code="men", title_kk="x", title_ru="x", title_en="Men")])],
)


CELLS = aggregated_cells(FORM)  # code -> aggregate rule


def given(values: dict, aggregates: dict | None = None) -> dict[str, Agg]:
    """What one submission to FORM stands for."""
    return contribution(values, aggregates, CELLS)


# --- exact arithmetic -------------------------------------------------------------------


def test_sums_are_exact_decimals_and_integers_stay_integers():
    aggs = combine(given(v) for v in ({"budget": "0.1", "pupils": 10}, {"budget": "0.2", "pupils": 5}))
    out = figures(CELLS, aggs)
    assert out["budget"] == Decimal("0.3") and plain(out["budget"]) == "0.3"
    assert domain.as_number(out["pupils"]) == 15 and isinstance(domain.as_number(out["pupils"]), int)
    assert out["staff.teachers.women"] is None  # no contribution gave the cell
    assert domain.dumps({"b": Decimal("0.30"), "a": Decimal("1E+3"), "c": None}) == '{"a": 1000, "b": 0.3, "c": null}'


def test_a_floats_shortest_repr_is_the_number_meant():
    assert given({"budget": 0.1})["budget"] == Agg.leaf(Decimal("0.1"))
    assert given({"budget": "NaN", "pupils": True}) == {}


def test_mean_over_the_leaves_across_two_levels_not_the_mean_of_means():
    district1 = combine(given({"score": s}) for s in ("1", "2", "3"))  # mean 2
    district2 = combine([given({"score": "10"})])  # mean 10
    region = combine([district1, district2])
    assert figures(CELLS, region)["score"] == Decimal(4)  # 16 / 4 leaves, not (2 + 10) / 2
    # a department's consolidated submission carries its aggregates: the region reads them
    carried = given({"score": "2"}, {"score": district1["score"].contract()})
    assert figures(CELLS, combine([carried, district2]))["score"] == Decimal(4)
    # a mean is given to 6 places, half-even, without trailing zeros
    third = combine(given({"score": s}) for s in ("1", "1", "2"))
    assert plain(figures(CELLS, third)["score"]) == "1.333333"
    assert plain(figures(CELLS, combine(given({"score": s}) for s in ("1", "2")))["score"]) == "1.5"


def test_min_and_max_over_the_leaves():
    aggs = combine(given(v) for v in ({"youngest": 23, "oldest": 60}, {"youngest": 21, "oldest": 58}))
    assert figures(CELLS, aggs)["youngest"] == 21 and figures(CELLS, aggs)["oldest"] == 60
    assert aggs["youngest"].contract() == CellAggregate(sum="44", count=2, min="21", max="23")


def test_a_department_without_a_cells_aggregate_stands_as_one_leaf():
    got = given({"pupils": "30"}, {"budget": CellAggregate(sum="1.5", count=3, min="0.5", max="0.5")})
    assert got["pupils"] == Agg.leaf(Decimal(30)) and got["budget"].count == 3


def test_consolidate_over_plain_values_of_the_school_form():
    rows = [{"pupils_total": 10, "teachers": 2, "comment": "a"}, {"pupils_total": 5, "teachers": None}]
    cells = aggregated_cells(SCHOOL_FORM)
    totals = {c: domain.as_number(v) for c, v in figures(cells, combine(contribution(r, None, cells) for r in rows)).items()}
    assert totals["pupils_total"] == 15 and totals["teachers"] == 2 and totals["classes"] is None
    assert "comment" not in totals


# --- handlers ----------------------------------------------------------------------------


class World:
    def __init__(self, tmp_path):
        self.engine = migrated_sqlite(tmp_path, MIGRATIONS)
        self.stored: dict[str, bytes] = {}
        run_handler(self.engine, on_formlist, FormListApproved(year=2026, version=1, order_no="1",
                                                              order_date=date(2026, 1, 15), forms=[FORM]))
        self.on_due = make_on_due(self.put)
        self.dues = 0

    def put(self, data: bytes, kind: str, media: str) -> StoredObject:
        key = f"{kind}/{sha256_hex(data)}"
        self.stored[key] = data
        return StoredObject(key=key, sha256=sha256_hex(data), size=len(data), media_type=media)

    def accept(self, sid, participant, values, *, node=DISTRICT, supersedes=None, aggregates=None, level=None):
        return run_handler(self.engine, on_accepted, SubmissionAccepted(
            submission_id=sid, participant_id=participant, recipient_id=node, form_code=FORM.code, period="2026",
            values={k: v for k, v in values.items() if not isinstance(v, str)},
            values_exact={k: str(v) for k, v in values.items()}, supersedes=supersedes,
            aggregates=aggregates or {}, level=level or Level.organization))

    def due(self, included: dict[str, str], *, node=DISTRICT, due_id=None, **lists) -> list:
        self.dues += 1
        return run_handler(self.engine, self.on_due, ConsolidationDue(
            node_id=node, form_code=FORM.code, period="2026", expected=len(included) + len(lists.get("missing", [])),
            received=len(included), reason=lists.pop("reason", "complete"), due_id=due_id or f"{node}:{self.dues}",
            included=sorted(included), included_submissions=included, **lists))

    def document(self, obj: StoredObject) -> bytes:
        return self.stored[obj.key]


@pytest.fixture
def world(tmp_path):
    return World(tmp_path)


def test_a_correction_replaces_by_its_link_not_by_arrival(world):
    [agg] = world.accept("s1", SCHOOLS[0], {"pupils": 100})
    assert agg.contributors == 1
    world.accept("s1-v3", SCHOOLS[0], {"pupils": 130}, supersedes="s1-v2")  # the newest arrives first
    world.accept("s1-v2", SCHOOLS[0], {"pupils": 120}, supersedes="s1")  # an older version, late
    [agg] = world.accept("s2", SCHOOLS[1], {"pupils": 50})
    assert agg.contributors == 2
    world.accept("s1-v2", SCHOOLS[0], {"pupils": 999}, supersedes="s1")  # a replay changes nothing
    ready, report = world.due({SCHOOLS[0]: "s1-v3", SCHOOLS[1]: "s2"})
    assert isinstance(ready, ConsolidationReady) and ready.totals["pupils"] == "180"
    assert isinstance(report, ReportPublished) and report.totals["pupils"] == 180 and report.version == 1
    assert report.report_id == f"{DISTRICT}:{FORM.code}:2026" and report.summary["pupils"] == "180"


def test_a_returned_submission_leaves_the_live_figures_until_corrected(world, tmp_path):
    from sqlmodel import Session

    from uise_reporting.views import live_figures

    world.accept("s1", SCHOOLS[0], {"pupils": 100})
    world.accept("s2", SCHOOLS[1], {"pupils": 50})
    run_handler(world.engine, on_returned, SubmissionReturned(
        submission_id="s1", participant_id=SCHOOLS[0], recipient_id=DISTRICT, form_code=FORM.code, period="2026",
        comment="pupils do not match", returned_by="iin:870303400044", returned_at=datetime.now(UTC)))
    with Session(world.engine) as s:
        live = live_figures(s, DISTRICT, FORM.code, "2026")
    assert live["contributors"] == 1 and live["figures"]["pupils"] == "50"
    world.accept("s1-fix", SCHOOLS[0], {"pupils": 90}, supersedes="s1")
    with Session(world.engine) as s:
        live = live_figures(s, DISTRICT, FORM.code, "2026")
    assert live["contributors"] == 2 and live["figures"]["pupils"] == "140"
    assert live["submissions"] == {SCHOOLS[0]: "s1-fix", SCHOOLS[1]: "s2"}


def test_a_due_naming_an_unknown_submission_waits_and_a_replayed_due_builds_nothing(world):
    world.accept("s1", SCHOOLS[0], {"pupils": 100})
    with pytest.raises(NotYetKnown):
        world.due({SCHOOLS[0]: "s1", SCHOOLS[1]: "s2"}, due_id="d1")
    world.accept("s2", SCHOOLS[1], {"pupils": 50})
    first = world.due({SCHOOLS[0]: "s1", SCHOOLS[1]: "s2"}, due_id="d1")
    assert first[0].version == 1
    assert world.due({SCHOOLS[0]: "s1", SCHOOLS[1]: "s2"}, due_id="d1") == []  # replayed
    [again, _] = world.due({SCHOOLS[0]: "s1", SCHOOLS[1]: "s2"}, due_id="d2", reason="update")
    assert again.version == 2 and again.consolidation_id == f"{DISTRICT}:EXA-1:2026:2"
    from sqlmodel import Session, select

    with Session(world.engine) as s:
        assert [c.version for c in s.exec(select(Consolidation))] == [1, 2]


SCHOOL_VALUES = [
    {"pupils": 100, "score": "3.5", "youngest": 23, "oldest": 61, "budget": "1000.10", "note": "=cmd()",
     "staff.teachers.women": 8, "staff.teachers.men": 2},
    {"pupils": 50, "score": "4.25", "youngest": 25, "oldest": 58, "budget": "0.20",
     "staff.teachers.women": 5, "staff.teachers.men": 1},
    {"pupils": 70, "score": "4", "youngest": 22, "oldest": 64, "budget": "12.7"},
]


def test_the_documents_and_a_second_level_that_counts_the_schools(world):
    for i, values in enumerate(SCHOOL_VALUES[:2]):
        world.accept(f"s{i}", SCHOOLS[i], values)
    ready, _ = world.due({SCHOOLS[0]: "s0", SCHOOLS[1]: "s1"}, late=[SCHOOLS[1]], missing=[SCHOOLS[2]], reason="deadline")
    assert ready.totals == {"pupils": "150", "score": "3.875", "youngest": "23", "oldest": "61", "budget": "1000.3",
                            "staff.teachers.women": "13", "staff.teachers.men": "3"}
    doc = json.loads(world.document(ready.documents["json"]), parse_float=Decimal)
    raw = world.document(ready.documents["json"]).decode()
    assert "e+" not in raw.lower() and "note" not in doc
    assert doc["pupils"] == 150 and doc["score"] == Decimal("3.875") and doc["budget"] == Decimal("1000.3")
    meta = doc["_consolidation"]
    assert meta["version"] == 1 and meta["reason"] == "deadline" and meta["missing"] == [SCHOOLS[2]]
    assert meta["aggregates"]["score"] == {"sum": "7.75", "count": 2, "min": "3.5", "max": "4.25"}
    assert meta["included_submissions"] == {SCHOOLS[0]: "s0", SCHOOLS[1]: "s1"}
    assert list(json.loads(raw)) == sorted(json.loads(raw))

    # the workbook: the form's template with the figures, read back by validation's own reader
    xlsx = world.document(ready.documents["xlsx"])
    reading = read(xlsx, XLSX, FORM)
    assert not [f for f in reading.findings if f.severity == "error"], reading.findings
    assert reading.values["pupils"] == 150 and reading.values["score"] == Decimal("3.875")
    assert reading.values["budget"] == Decimal("1000.3") and reading.values["staff.teachers.women"] == 13
    from openpyxl import load_workbook

    sheet = load_workbook(io.BytesIO(xlsx))[documents.RESERVED_KEY]
    rows = [tuple(c.value for c in r) for r in sheet.iter_rows(max_col=5)]
    assert rows[0] == ("cell", "sum", "count", "min", "max")
    assert ("score", "7.75", 2, "3.5", "4.25") in rows and ("budget", "1000.3", 2, "0.2", "1000.1") in rows
    gap = rows.index((None,) * 5)
    assert rows[gap + 1][:2] == ("subordinate", "status")
    assert [r[:2] for r in rows[gap + 2:]] == [(SCHOOLS[0], "included"), (SCHOOLS[1], "late"), (SCHOOLS[2], "missing")]

    # the region: the district's consolidated submission carries its aggregates
    world.accept("s-far", FAR_SCHOOL, SCHOOL_VALUES[2], node=DISTRICT2)
    [far, _] = world.due({FAR_SCHOOL: "s-far"}, node=DISTRICT2)
    for sid, node, r in (("d1", DISTRICT, ready), ("d2", DISTRICT2, far)):
        world.accept(sid, node, {k: v for k, v in r.totals.items() if v is not None}, node=REGION,
                     aggregates=r.aggregates, level=Level.district)
    [national, _] = world.due({DISTRICT: "d1", DISTRICT2: "d2"}, node=REGION)
    assert national.totals["score"] == "3.916667"  # (3.5 + 4.25 + 4) / 3 schools, not (3.875 + 4) / 2
    assert national.aggregates["score"] == CellAggregate(sum="11.75", count=3, min="3.5", max="4.25")
    assert national.totals["pupils"] == "220" and national.totals["youngest"] == "22"
    assert national.totals["budget"] == "1013"
