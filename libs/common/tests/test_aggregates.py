"""Exact aggregation across levels: a mean over the leaves, never a mean of means."""

from __future__ import annotations

from decimal import Decimal

import pytest

from uise_common.aggregates import (
    EMPTY,
    Agg,
    aggregated_cells,
    combine,
    contribution,
    figures,
    number,
    plain,
)
from uise_contracts.events import CellAggregate
from uise_contracts.examples import SCHOOL_FORM

RULES = {"pupils": "sum", "avg_class": "mean", "smallest": "min", "largest": "max"}


def school(pupils: str, avg: str, size: str) -> dict:
    return {"pupils": pupils, "avg_class": avg, "smallest": size, "largest": size}


def test_a_regions_mean_is_the_mean_of_its_schools_not_of_its_districts_means():
    d1 = combine(contribution(school(p, a, s), None, RULES) for p, a, s in
                 (("100", "20", "5"), ("200", "30", "7"), ("300", "25", "9")))
    d2 = combine([contribution(school("50", "10", "3"), None, RULES)])
    # each district sends its consolidation; the region adds their aggregates
    sent = [{c: a.contract() for c, a in d.items()} for d in (d1, d2)]
    region = combine(contribution({}, agg, RULES) for agg in sent)
    got = figures(RULES, region)
    assert got["pupils"] == 650
    assert got["avg_class"] == Decimal("21.25")  # (20+30+25+10)/4, not (25+10)/2 = 17.5
    assert (got["smallest"], got["largest"]) == (3, 9)
    assert region["avg_class"].contract() == CellAggregate(sum="85", count=4, min="10", max="30")


def test_decimals_are_exact_and_means_are_rounded_only_when_shown():
    total = combine(contribution({"x": v}, None, ["x"]) for v in ("0.1", "0.2"))
    assert total["x"].sum == Decimal("0.3")
    thirds = combine(contribution({"m": v}, None, ["m"]) for v in ("1", "1", "2"))
    assert figures({"m": "mean"}, thirds)["m"] == Decimal("1.333333")
    assert plain(Decimal("25.500000")) == "25.5" and plain(Decimal("1E+1")) == "10"


def test_a_missing_cell_counts_nobody_and_bad_aggregates_are_refused():
    total = combine(contribution(v, None, ["x"]) for v in ({"x": "4"}, {"x": None}, {}))
    assert (total["x"].count, figures({"x": "mean", "y": "sum"}, total)) == (1, {"x": 4, "y": None})
    with pytest.raises(ValueError):
        Agg.from_contract({"sum": "Infinity", "count": 1})


def test_thirty_digit_cells_over_twenty_thousand_leaves_stay_exact():
    big = "123456789012345678901234567890.123456789"
    total = combine(contribution({"x": big}, None, ["x"]) for _ in range(20_000))["x"]
    assert total.sum == Decimal("2469135780246913578024691357802469.13578") and plain(total.sum) == "2469135780246913578024691357802469.13578"
    assert figures({"x": "mean"}, {"x": total})["x"] == Decimal("123456789012345678901234567890.123457")
    assert plain(Decimal("1" + "0" * 40 + ".500")) == "1" + "0" * 40 + ".5"  # beyond the default 28 digits


def test_a_float_is_the_number_its_shortest_repr_says_and_junk_is_no_number():
    assert number(0.1) == Decimal("0.1") and number(" 7 ") == 7 and number(12) == 12
    assert [number(v) for v in (None, True, "NaN", "Infinity", "x", [1])] == [None] * 6
    assert contribution({"x": 0.1, "y": False}, None, ["x", "y"]) == {"x": Agg.leaf(Decimal("0.1"))}


def test_an_empty_aggregate_has_no_min_or_max_and_a_filled_one_has_both():
    assert EMPTY + Agg.leaf(Decimal(5)) == Agg.leaf(Decimal(5)) and EMPTY.figure("min") is None
    assert EMPTY.contract() == CellAggregate(sum="0", count=0)
    assert Agg.from_contract({"sum": "0", "count": 0}) == EMPTY
    for bad in ({"sum": "5", "count": 2}, {"sum": "5", "count": 0}, {"sum": "0", "count": 0, "min": "1", "max": "1"}):
        with pytest.raises(ValueError):
            Agg.from_contract(bad)


def test_the_aggregated_cells_are_the_numbers_whose_field_aggregates():
    rules = aggregated_cells(SCHOOL_FORM)
    assert "pupils_total" in rules and "comment" not in rules and set(rules.values()) <= {"sum", "mean", "min", "max"}
    assert Agg.leaf(Decimal(1)).figure("none") is None
