"""Exact aggregation across the levels of the hierarchy (pure; docs/consolidation.md).

Every numeric cell of a consolidation stands for the organizations (the leaves) beneath it, and
carries what it stands for exactly: the sum over them, how many gave the cell, the smallest and
the largest. A school's value v is (v, 1, v, v); a district adds its schools', a region its
districts' (sum of sums, sum of counts, min of mins, max of maxes). The figure a cell shows
follows from that by the form's rule: a sum is the sum; a mean is sum / count over the leaves (so
a region's mean is the mean of its schools, never the mean of its districts' means); min and max
likewise.

Decimal throughout, in a context wide enough that 30-digit cells summed over 20,000 leaves stay
exact (0.1 + 0.2 is 0.3); a float never enters (a JSON float is read through its shortest repr,
which is the number the submitter wrote). Validation (checking a consolidation), reporting
(building one) and the campaign runner all use this one implementation.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Context, Decimal, InvalidOperation

from uise_contracts.events import CellAggregate, FieldType, FormDefinition

NUMERIC = (FieldType.integer, FieldType.decimal)
MEAN_PLACES = Decimal("0.000001")  # a mean is shown to six decimal places; its sum and count stay exact
# Plenty of digits: 30-digit cells summed over 20,000 leaves stay exact; a mean is quantized.
EXACT = Context(prec=60, rounding=ROUND_HALF_EVEN, traps=[InvalidOperation])


@dataclass(frozen=True)
class Agg:
    """A cell over some leaves: their exact sum, how many, the smallest and the largest.

    One representation: min and max are None exactly when no leaf gave the cell (count 0, sum 0:
    `EMPTY`, the identity of `+`); otherwise both are numbers."""

    sum: Decimal
    count: int
    min: Decimal | None
    max: Decimal | None

    def __post_init__(self) -> None:
        if self.count < 0:
            raise ValueError(f"count must not be negative: {self.count}")
        if self.count == 0 and (self.sum != 0 or self.min is not None or self.max is not None):
            raise ValueError("an aggregate over no leaves has sum 0 and no min or max")
        if self.count > 0 and (self.min is None or self.max is None):
            raise ValueError("an aggregate over leaves has a min and a max")

    @classmethod
    def leaf(cls, value: Decimal) -> Agg:
        """What one organization's value stands for."""
        return cls(value, 1, value, value)

    def __add__(self, other: Agg) -> Agg:
        return Agg(EXACT.add(self.sum, other.sum), self.count + other.count,
                   _pick(min, self.min, other.min), _pick(max, self.max, other.max))

    def figure(self, how: str) -> Decimal | None:
        """The cell's figure by its aggregate rule: sum, mean (6 places, half-even, without
        trailing zeros), min or max; `none`, an unknown rule and an empty aggregate give nothing."""
        if self.count == 0:
            return None
        if how == "sum":
            return self.sum
        if how == "mean":
            mean = EXACT.divide(self.sum, Decimal(self.count))
            return tidy(mean.quantize(MEAN_PLACES, rounding=ROUND_HALF_EVEN, context=EXACT))
        if how == "min":
            return self.min
        if how == "max":
            return self.max
        return None

    def contract(self) -> CellAggregate:
        return CellAggregate(sum=plain(self.sum), count=self.count,
                             min=None if self.min is None else plain(self.min),
                             max=None if self.max is None else plain(self.max))

    @classmethod
    def from_contract(cls, a: CellAggregate | Mapping) -> Agg:
        """From the event's strings; raises ValueError for anything that is not an exact number
        or not a consistent aggregate (see the class)."""
        a = a if isinstance(a, CellAggregate) else CellAggregate.model_validate(a)
        return cls(exact(a.sum), a.count, None if a.min is None else exact(a.min),
                   None if a.max is None else exact(a.max))


EMPTY = Agg(Decimal(0), 0, None, None)


def _pick(fn, a: Decimal | None, b: Decimal | None) -> Decimal | None:
    return b if a is None else a if b is None else fn(a, b)


def number(value: object) -> Decimal | None:
    """An exact number from a submitted value (exact string, int or float), else None."""
    if value is None or isinstance(value, bool):
        return None
    text = repr(value) if isinstance(value, float) else str(value).strip()
    try:
        d = Decimal(text)
    except (InvalidOperation, ValueError):
        return None
    return d if d.is_finite() else None


def exact(text: str) -> Decimal:
    """An exact decimal string as a Decimal; raises ValueError for anything else."""
    d = number(text) if isinstance(text, str) else None
    if d is None:
        raise ValueError(f"not an exact finite number: {text!r}")
    return d


def tidy(d: Decimal) -> Decimal:
    """Without trailing zeros and never in exponent form (25.500000 → 25.5, 1E+1 → 10)."""
    if d == d.to_integral_value():
        return d.quantize(Decimal(1), context=EXACT)
    return d.normalize(EXACT)


def plain(d: Decimal) -> str:
    """Plain decimal notation, no exponent, no trailing zeros: 100, 0.3, -12.5."""
    return format(tidy(d), "f")


def aggregated_cells(form: FormDefinition) -> dict[str, str]:
    """Cell code → aggregate rule, in the form's order, for the cells a consolidation carries:
    numbers whose field aggregates."""
    return {f.code: f.aggregate for f in form.cells() if f.type in NUMERIC and f.aggregate != "none"}


def contribution(values: Mapping[str, object], aggregates: Mapping[str, CellAggregate | Mapping] | None,
                 cells: Iterable[str]) -> dict[str, Agg]:
    """What one accepted submission stands for, by cell: a department's consolidation its
    aggregates; an organization (or a cell a department gave no aggregate for) its own value as
    one leaf. Raises ValueError for an aggregate that is not exact (see `Agg.from_contract`)."""
    out: dict[str, Agg] = {}
    for code in cells:
        if aggregates and code in aggregates:
            out[code] = Agg.from_contract(aggregates[code])
        elif (v := number(values.get(code))) is not None:
            out[code] = Agg.leaf(v)
    return out


def combine(parts: Iterable[Mapping[str, Agg]]) -> dict[str, Agg]:
    """The cells of several contributions added up (a cell no part gives is absent)."""
    total: dict[str, Agg] = {}
    for part in parts:
        for code, agg in part.items():
            total[code] = total.get(code, EMPTY) + agg
    return total


def figures(rules: Mapping[str, str], totals: Mapping[str, Agg]) -> dict[str, Decimal | None]:
    """The figure of every cell of `rules` (code → aggregate rule, e.g. `aggregated_cells(form)`)
    by its rule; None where no contribution gave the cell."""
    return {code: totals.get(code, EMPTY).figure(how) for code, how in rules.items()}
