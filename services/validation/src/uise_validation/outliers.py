"""Values far from what is known (pure): a participant's figure against its own history (the
same cell in its earlier periods) or against its peers (the same cell of the other subordinates
of its recipient, the same period). An outlier is a query: unusual but possible, so the
submitter explains it (DHIS2's outlier detection, raised as the UK census raises queries).

Methods (settings `UISE_VALIDATION_OUTLIER_*`):
- `z`: |x − mean| / standard deviation above the threshold (default 3), from 3 values up;
- `modified_z`: 0.6745 · |x − median| / MAD above 3.5 (Iglewicz and Hoaglin), from 3 values up,
  robust when the history itself holds an outlier;
- `minmax`: outside [min − t·|min|, max + t·|max|] of the values (t default 0.5), from 1 value up:
  the only one that says anything with a single earlier year.
`auto` (the default) uses modified_z with 3 values or more, else minmax."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, replace
from decimal import Decimal

from uise_contracts.events import Finding

MODIFIED_Z = Decimal("0.6745")


@dataclass(frozen=True)
class OutlierPolicy:
    method: str = "auto"  # auto | z | modified_z | minmax
    z_threshold: Decimal = Decimal(3)
    modified_z_threshold: Decimal = Decimal("3.5")
    minmax_tolerance: Decimal = Decimal("0.5")


def outlying(x: Decimal, known: list[Decimal], policy: OutlierPolicy) -> tuple[bool, str] | None:
    """(is it an outlier, the method's account) or None when too little is known to judge."""
    method = policy.method
    if method == "auto":
        method = "modified_z" if len(known) >= 3 else "minmax"
    if not known or (method in ("z", "modified_z") and len(known) < 3):
        return None
    if method == "minmax":
        low, high = min(known), max(known)
        low, high = low - policy.minmax_tolerance * abs(low), high + policy.minmax_tolerance * abs(high)
        return not (low <= x <= high), f"outside {low.normalize():f}..{high.normalize():f}"
    if method == "z":
        mean = statistics.mean(known)
        sd = statistics.pstdev(known)
        if sd == 0:
            return x != mean, f"all of them {mean}"
        score = abs(x - mean) / sd
        return score > policy.z_threshold, f"z = {score:.2f} > {policy.z_threshold}"
    median = statistics.median(known)
    mad = statistics.median([abs(v - median) for v in known])
    if mad == 0:  # most of the history is one value: only the band around it can judge
        return outlying(x, known, replace(policy, method="minmax"))
    score = MODIFIED_Z * abs(x - median) / mad
    return score > policy.modified_z_threshold, f"modified z = {score:.2f} > {policy.modified_z_threshold}"


_WORDS = {
    "history": ("its own earlier periods", "её собственных прошлых периодов", "өзінің бұрынғы кезеңдерінің"),
    "peers": ("the other organizations of its district", "других организаций её района", "ауданның басқа ұйымдарының"),
}


def outlier_findings(values: dict[str, Decimal | str | None], known: dict[str, list[tuple[str, Decimal]]],
                     against: str, policy: OutlierPolicy) -> list[Finding]:
    """Queries for each numeric cell far from `known` (cell → [(period or participant, value)])."""
    out = []
    en, ru, kk = _WORDS[against]
    for cell, x in values.items():
        if not isinstance(x, Decimal) or not known.get(cell):
            continue
        judged = outlying(x, [v for _who, v in known[cell]], policy)
        if judged is None or not judged[0]:
            continue
        seen = ", ".join(f"{who}: {v}" for who, v in known[cell])
        rule = "OUTLIER_HISTORY" if against == "history" else "OUTLIER_PEERS"
        out.append(Finding(
            rule=rule, severity="warning", field=cell, cells=[cell],
            observed={cell: str(x), **{f"{against}:{who}": str(v) for who, v in known[cell]}},
            expected=f"{cell} near {en} ({judged[1]})",
            message=f"{cell} = {x} is far from {en} ({seen}); explain it or correct it",
            messages={"en": f"{cell} = {x} is far from {en} ({seen}); explain it or correct it",
                      "ru": f"{cell} = {x} сильно отличается от значений {ru} ({seen}); поясните или исправьте",
                      "kk": f"{cell} = {x} {kk} мәндерінен қатты ерекшеленеді ({seen}); түсіндіріңіз немесе түзетіңіз"}))
    return out
