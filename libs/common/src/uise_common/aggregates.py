"""Exact aggregation across the levels of the hierarchy (pure).

Every numeric cell of a consolidation stands for the organizations (the leaves) beneath it, and
carries what it stands for exactly: the sum over them, how many gave the cell, the smallest and
the largest. A school's value v is (v, 1, v, v); a district adds its schools', a region its
districts'. The figure a cell shows follows from that by the form's rule: a sum is the sum; a mean
is sum / count over the leaves (so a region's mean is the mean of its schools, never the mean of
its districts' means); min and max likewise. Decimal throughout: 0.1 + 0.2 is 0.3.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation

from uise_contracts.events import CellAggregate, FieldType, FormDefinition

MEAN_PLACES = Decimal("0.000001")  # a mean is shown to six decimal places; its sum and count stay exact
NUMERIC = (FieldType.integer, FieldType.decimal)


@dataclass(frozen=True)
class Agg:
    sum: Decimal
    count: int
    min: Decimal | None
    max: Decimal | None

    @classmethod
    def of(cls, value: Decimal) -> Agg:
        """What one leaf's value stands for."""
        return cls(value, 1, value, value)

    def __add__(self, other: Agg) -> Agg:
        return Agg(self.sum + other.sum, self.count + other.count, _pick(min, self.min, other.min),
                   _pick(max, self.max, other.max))

    def figure(self, how: str) -> Decimal | None:
        """The cell's figure by its aggregate rule (`none` and an empty aggregate give nothing)."""
        if self.count == 0 or how == "none":
            return None
        if how == "sum":
            return self.sum
        if how == "mean":
            return tidy((self.sum / self.count).quantize(MEAN_PLACES, rounding=ROUND_HALF_EVEN))
        return self.min if how == "min" else self.max

    def contract(self) -> CellAggregate:
        return CellAggregate(sum=plain(self.sum), count=self.count,
                             min=None if self.min is None else plain(self.min),
                             max=None if self.max is None else plain(self.max))

    @classmethod
    def from_contract(cls, a: CellAggregate | Mapping) -> Agg:
        """From the event's strings; raises ValueError for anything that is not an exact number."""
        a = a if isinstance(a, CellAggregate) else CellAggregate.model_validate(a)
        return cls(_exact(a.sum), a.count, None if a.min is None else _exact(a.min),
                   None if a.max is None else _exact(a.max))


EMPTY = Agg(Decimal(0), 0, None, None)


def _pick(fn, a: Decimal | None, b: Decimal | None) -> Decimal | None:
    return b if a is None else a if b is None else fn(a, b)


def _exact(text: str) -> Decimal:
    try:
        d = Decimal(text)
    except (InvalidOperation, TypeError):
        raise ValueError(f"not an exact number: {text!r}") from None
    if not d.is_finite():
        raise ValueError(f"not a finite number: {text!r}")
    return d


def tidy(d: Decimal) -> Decimal:
    """Without trailing zeros and never in exponent form (25.500000 → 25.5, 1E+1 → 10)."""
    n = d.normalize()
    return n.quantize(Decimal(1)) if n == n.to_integral_value() else n


def plain(d: Decimal) -> str:
    return format(tidy(d), "f")


def numeric_cells(form: FormDefinition) -> dict[str, str]:
    """Cell code → aggregate rule, for the cells a consolidation adds up."""
    return {f.code: f.aggregate for f in form.cells() if f.type in NUMERIC and f.aggregate != "none"}


def contribution(values: Mapping[str, object], aggregates: Mapping[str, CellAggregate | Mapping] | None,
                 cells: Iterable[str]) -> dict[str, Agg]:
    """What one accepted submission stands for, by cell: a department's consolidation its
    aggregates; an organization (or a cell a department gave no aggregate for) its own value."""
    out: dict[str, Agg] = {}
    for code in cells:
        if aggregates and code in aggregates:
            out[code] = Agg.from_contract(aggregates[code])
            continue
        value = values.get(code)
        if value is None or isinstance(value, bool):
            continue
        try:
            out[code] = Agg.of(_exact(str(value)))
        except ValueError:
            continue
    return out


def combine(parts: Iterable[Mapping[str, Agg]]) -> dict[str, Agg]:
    total: dict[str, Agg] = {}
    for part in parts:
        for code, agg in part.items():
            total[code] = total.get(code, EMPTY) + agg
    return total


def figures(rules: Mapping[str, str], totals: Mapping[str, Agg]) -> dict[str, Decimal | None]:
    """The consolidation's figure of every cell by its rule."""
    return {code: totals.get(code, EMPTY).figure(how) for code, how in rules.items()}
