"""Reporting's own pure parts: how a consolidation's figures are written (docs/consolidation.md).

The exact aggregation itself (what each contribution stands for, combining them over the leaves,
a cell's figure by its rule) is `uise_common.aggregates`, the one validation checks with."""

from __future__ import annotations

import json
from decimal import Decimal

from uise_common.aggregates import plain


def as_number(d: Decimal | None) -> int | Decimal | None:
    """An integral figure as int (integers stay integers), else the normalized Decimal."""
    if d is None:
        return None
    return int(d) if d == d.to_integral_value() else Decimal(plain(d))


def dumps(value: object) -> str:
    """JSON with sorted keys where a Decimal is a number in plain notation (never an exponent,
    never through a float)."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(str(k))}: {dumps(value[k])}" for k in sorted(value)) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(dumps(v) for v in value) + "]"
    if isinstance(value, Decimal):
        return plain(value)
    if isinstance(value, float):
        raise TypeError("floats are not written: pass a Decimal")
    return json.dumps(value)
