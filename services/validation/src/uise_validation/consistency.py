"""Where levels meet (pure): a department's consolidated submission must equal, cell by cell,
the aggregate of its subordinates' accepted data; a difference is distortion (clause 11),
reported per cell with the subordinates behind it.

The subordinates' data are what each one stands for (uise_common.aggregates): a school its own
values, a district its consolidation's exact aggregates. So a region's mean is checked against
the mean over its schools, never the mean of its districts' means."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from uise_common.aggregates import EMPTY, Agg, aggregated_cells, combine, plain
from uise_contracts.events import Finding, FormDefinition

Subordinates = Mapping[str, Mapping[str, Agg]]  # participant -> cell -> what it stands for


def consolidated(form: FormDefinition, subordinates: Subordinates) -> dict[str, Agg]:
    """The exact aggregates a department's consolidation carries on: its subordinates' combined."""
    cells = aggregated_cells(form)
    return {c: a for c, a in combine(subordinates.values()).items() if c in cells}


def consolidation_findings(form: FormDefinition, submitted: Mapping[str, Decimal | str | None],
                           subordinates: Subordinates) -> list[Finding]:
    """Each numeric cell with an aggregate must equal the aggregate of the subordinates' (a mean
    to the submitted value's own precision)."""
    out = []
    totals = combine(subordinates.values())
    for code, how in aggregated_cells(form).items():
        expected = totals.get(code, EMPTY).figure(how)
        got = submitted.get(code)
        if expected is None and got in (None, Decimal(0)):
            continue
        if isinstance(got, Decimal) and expected is not None:
            if how == "mean":
                expected = expected.quantize(got) if got.as_tuple().exponent < 0 else expected.quantize(Decimal(1))
            if got == expected:
                continue
        parts = {pid: cells[code] for pid, cells in subordinates.items() if code in cells}
        shown = "empty" if got is None else str(got)
        want = "nothing" if expected is None else plain(expected)
        out.append(Finding(
            rule="CONSOLIDATION_MISMATCH", severity="error", field=code, cells=[code],
            observed={code: None if got is None else str(got),
                      **{f"{pid}:{code}": plain(a.figure(how)) for pid, a in parts.items() if a.count}},
            expected=f"{code} = {how} over {sum(a.count for a in parts.values())} organizations = {want}",
            message=f"{code} = {shown}, but the {how} of the subordinates' accepted data is {want}",
            messages={
                "en": f"{code} = {shown}, but the {how} of the subordinates' accepted data is {want}",
                "ru": f"{code} = {shown}, а {how} по принятым данным подведомственных = {want}",
                "kk": f"{code} = {shown}, ал бағыныстылардың қабылданған деректері бойынша {how} = {want}"}))
    return out
