"""Pure consolidation, exactly (docs/consolidation.md).

A consolidated cell stands for the organizations (the leaves) beneath the node, never for the
departments in between: each contribution gives, per cell, an `Agg` (sum, count, min, max over
its leaves) and the node combines them — sum of sums, sum of counts, min of mins, max of maxes.
A cell's figure follows the form field's `aggregate`: a mean is sum / count over the leaves, so
a region's mean is the mean of its schools, not the mean of its districts' means.

Everything is Decimal; a float never enters (values arrive as exact decimal strings, and a
JSON float is read through its shortest repr, which is the number the submitter wrote)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Context, Decimal, InvalidOperation

from uise_contracts.events import CellAggregate, FieldType, FormDefinition, FormField

NUMERIC = (FieldType.integer, FieldType.decimal)
MEAN_PLACES = Decimal("0.000001")  # a mean is shown to 6 decimal places (the exact one is sum/count)
# Plenty of digits: 30-digit cells summed over 20,000 leaves stay exact; a mean is quantized.
_EXACT = Context(prec=60, rounding=ROUND_HALF_EVEN, traps=[InvalidOperation])


@dataclass(frozen=True)
class Agg:
    """A cell over some leaves: their exact sum, how many, the smallest and the largest."""

    sum: Decimal
    count: int
    min: Decimal
    max: Decimal

    @classmethod
    def leaf(cls, value: Decimal) -> Agg:
        return cls(value, 1, value, value)

    def __add__(self, other: Agg) -> Agg:
        return Agg(_EXACT.add(self.sum, other.sum), self.count + other.count,
                   min(self.min, other.min), max(self.max, other.max))

    def contract(self) -> CellAggregate:
        return CellAggregate(sum=plain(self.sum), count=self.count, min=plain(self.min), max=plain(self.max))


def plain(d: Decimal) -> str:
    """Plain decimal notation, no exponent, no trailing zeros: 100, 0.3, -12.5."""
    if d == d.to_integral_value():
        return format(d.quantize(Decimal(1), context=_EXACT), "f")
    return format(d.normalize(_EXACT), "f")


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


def aggregated_cells(form: FormDefinition) -> list[FormField]:
    """The cells a consolidation carries: numbers whose field aggregates."""
    return [f for f in form.cells() if f.type in NUMERIC and f.aggregate != "none"]


def _from_contract(a: CellAggregate) -> Agg | None:
    total = number(a.sum)
    low, high = number(a.min), number(a.max)
    if total is None or a.count < 1:
        return None
    return Agg(total, a.count, total if low is None else low, total if high is None else high)


def contribution(form: FormDefinition, values: Mapping[str, object],
                 aggregates: Mapping[str, CellAggregate] | None = None) -> dict[str, Agg]:
    """What one accepted submission gives each aggregated cell. An organization's value v is a
    leaf (v, 1, v, v); a department's consolidated submission gives its exact aggregates, and
    where a cell lacks one its value stands as one leaf (exact for sum, min and max cells)."""
    out: dict[str, Agg] = {}
    for f in aggregated_cells(form):
        if aggregates and f.code in aggregates and (agg := _from_contract(aggregates[f.code])) is not None:
            out[f.code] = agg
        elif (v := number(values.get(f.code))) is not None:
            out[f.code] = Agg.leaf(v)
    return out


def combine(parts: Iterable[Mapping[str, Agg]]) -> dict[str, Agg]:
    out: dict[str, Agg] = {}
    for part in parts:
        for code, agg in part.items():
            out[code] = out[code] + agg if code in out else agg
    return out


def figure(agg: Agg, aggregate: str) -> Decimal | None:
    """The cell's figure as the form says: sum, mean (6 places, half-even), min or max."""
    if aggregate == "sum":
        return agg.sum
    if aggregate == "mean":
        if agg.count == 0:
            return None
        return _EXACT.divide(agg.sum, Decimal(agg.count)).quantize(MEAN_PLACES, rounding=ROUND_HALF_EVEN)
    if aggregate == "min":
        return agg.min
    if aggregate == "max":
        return agg.max
    return None


def figures(form: FormDefinition, aggs: Mapping[str, Agg]) -> dict[str, Decimal | None]:
    """Every aggregated cell's figure (None where no contribution gave the cell)."""
    return {f.code: figure(aggs[f.code], f.aggregate) if f.code in aggs else None
            for f in aggregated_cells(form)}


def as_number(d: Decimal | None) -> int | Decimal | None:
    """An integral figure as int (integers stay integers), else the normalized Decimal."""
    if d is None:
        return None
    return int(d) if d == d.to_integral_value() else Decimal(plain(d))


def consolidate(form: FormDefinition, contributions: list[Mapping[str, object]]) -> dict[str, int | Decimal | None]:
    """The figures over organizations' plain values (each one leaf)."""
    return {code: as_number(v) for code, v in figures(form, combine(contribution(form, c) for c in contributions)).items()}


# --- deterministic JSON with exact numbers ------------------------------------------------


def dumps(value: object) -> str:
    """JSON with sorted keys where a Decimal is a number in plain notation (never an exponent,
    never through a float)."""
    import json

    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(str(k))}: {dumps(value[k])}" for k in sorted(value)) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(dumps(v) for v in value) + "]"
    if isinstance(value, Decimal):
        return plain(value)
    if isinstance(value, float):
        raise TypeError("floats are not written: pass a Decimal")
    return json.dumps(value)
