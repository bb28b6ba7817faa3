"""Pure consolidation: combine the latest accepted figures of a node's subordinates cell by
cell, as each field of the form says (sum, mean, min, max, none)."""

from __future__ import annotations

from uise_contracts.events import FormDefinition


def consolidate(form: FormDefinition, contributions: list[dict]) -> dict[str, float | int | None]:
    totals: dict[str, float | int | None] = {}
    for f in form.cells():
        if f.aggregate == "none":
            continue
        nums = [c[f.code] for c in contributions if isinstance(c.get(f.code), int | float)]
        if not nums:
            totals[f.code] = None
        elif f.aggregate == "sum":
            totals[f.code] = sum(nums)
        elif f.aggregate == "mean":
            totals[f.code] = sum(nums) / len(nums)
        elif f.aggregate == "min":
            totals[f.code] = min(nums)
        else:
            totals[f.code] = max(nums)
    return totals
