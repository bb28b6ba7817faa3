"""Where levels meet (pure): a department's consolidated submission must equal, cell by cell,
the aggregate of its subordinates' accepted data; a difference is distortion (clause 11),
reported per cell with the subordinates behind it."""

from __future__ import annotations

from decimal import Decimal

from uise_contracts.events import FieldType, Finding, FormDefinition


def aggregate(how: str, values: list[Decimal]) -> Decimal | None:
    if not values or how == "none":
        return None
    if how == "sum":
        return sum(values, Decimal(0))
    if how == "mean":
        return sum(values, Decimal(0)) / len(values)
    return min(values) if how == "min" else max(values)


def consolidation_findings(form: FormDefinition, submitted: dict[str, Decimal | str | None],
                           subordinates: dict[str, dict[str, Decimal]]) -> list[Finding]:
    """`subordinates`: participant → its accepted exact values. Each numeric cell with an
    aggregate must equal the aggregate of theirs (a mean to the submitted value's own precision)."""
    out = []
    for f in form.cells():
        if f.type not in (FieldType.integer, FieldType.decimal) or f.aggregate == "none":
            continue
        parts = {pid: vals[f.code] for pid, vals in subordinates.items() if isinstance(vals.get(f.code), Decimal)}
        expected = aggregate(f.aggregate, list(parts.values()))
        got = submitted.get(f.code)
        if expected is None and got in (None, Decimal(0)):
            continue
        if isinstance(got, Decimal) and expected is not None:
            if f.aggregate == "mean":
                expected = expected.quantize(got) if got.as_tuple().exponent < 0 else expected.quantize(Decimal(1))
            if got == expected:
                continue
        shown = "empty" if got is None else str(got)
        want = "nothing" if expected is None else f"{expected}"
        out.append(Finding(
            rule="CONSOLIDATION_MISMATCH", severity="error", field=f.code, cells=[f.code],
            observed={f.code: None if got is None else str(got), **{f"{pid}:{f.code}": str(v) for pid, v in parts.items()}},
            expected=f"{f.code} = {f.aggregate} over {len(parts)} subordinates = {want}",
            message=f"{f.code} = {shown}, but the {f.aggregate} of the subordinates' accepted data is {want}",
            messages={
                "en": f"{f.code} = {shown}, but the {f.aggregate} of the subordinates' accepted data is {want}",
                "ru": f"{f.code} = {shown}, а {f.aggregate} по принятым данным подведомственных = {want}",
                "kk": f"{f.code} = {shown}, ал бағыныстылардың қабылданған деректері бойынша {f.aggregate} = {want}"}))
    return out
