"""Rebuild every node's figures from the kept accepted submissions, from scratch, and compare them
with the live figures the API serves (docs/analytics.md, "Rebuild").

Written apart from the live path (queries.current_submissions, views.live_figures) on purpose: the
rules are the same (docs/consolidation.md: a submission is current when no accepted submission at
the node supersedes it and it was not returned; of two candidates of one participant the later
accepted one stands; a department contributes its exact aggregates, an organization its values as
one leaf), but the code is not, so a regression on either side shows as a difference. The exact
arithmetic is the one shared implementation, `uise_common.aggregates`.

The rebuild reads everything in one pass (one query per table) and works in memory, so it grows
with the number of kept submissions and nothing else (bench/reporting.py). It is stricter than
the live path: a stored row whose values or aggregates are not exact numbers, or whose aggregate
contradicts itself (min above max, a sum outside count × [min, max]), is reported as corrupt."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from sqlmodel import Session, select

from uise_common.aggregates import EMPTY, Agg, aggregated_cells, exact, figures, plain
from uise_contracts.events import FormDefinition
from uise_reporting import queries, views
from uise_reporting.adapters import AcceptedSubmission, ReturnedSubmission

Scope = tuple[str, str, str]  # node_id, form_code, period


@dataclass(frozen=True)
class Kept:
    """One kept accepted submission, as the rebuild reads it."""

    submission_id: str
    node_id: str
    participant_id: str
    form_code: str
    period: str
    values: str
    aggregates: str
    supersedes: str | None
    accepted_at: datetime
    corrects_accepted: bool = False


@dataclass
class Problem:
    kind: str  # figure | aggregate | contributors | submissions | corrupt_row | form_unknown
    node_id: str
    form_code: str
    period: str
    detail: str

    def line(self) -> str:
        return f"{self.kind} {self.node_id} {self.form_code} {self.period}: {self.detail}"


@dataclass
class Rebuilt:
    """One node's figures for one form and period, recomputed."""

    current: dict[str, Kept]  # participant -> its current submission
    aggregates: dict[str, Agg]
    figures: dict[str, Decimal | None]


@dataclass
class Outcome:
    nodes: dict[Scope, Rebuilt] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    submissions: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems


def load(session: Session, form_code: str | None = None, period: str | None = None,
         node_ids: Iterable[str] | None = None) -> tuple[list[Kept], set[str]]:
    """The kept accepted submissions (of one form / period / set of nodes, if given) and the ids
    of the returned ones, one query each."""
    q = select(AcceptedSubmission.submission_id, AcceptedSubmission.node_id, AcceptedSubmission.participant_id,
               AcceptedSubmission.form_code, AcceptedSubmission.period, AcceptedSubmission.values,
               AcceptedSubmission.aggregates, AcceptedSubmission.supersedes, AcceptedSubmission.accepted_at,
               AcceptedSubmission.corrects_accepted)
    r = select(ReturnedSubmission.submission_id)
    if form_code:
        q, r = q.where(AcceptedSubmission.form_code == form_code), r.where(ReturnedSubmission.form_code == form_code)
    if period:
        q, r = q.where(AcceptedSubmission.period == period), r.where(ReturnedSubmission.period == period)
    rows = [Kept(*row) for row in session.exec(q)]
    if node_ids is not None:
        wanted = set(node_ids)
        rows = [k for k in rows if k.node_id in wanted]
    return rows, set(session.exec(r))


def current(rows: Iterable[Kept], returned: set[str]) -> dict[Scope, dict[str, Kept]]:
    """(node, form, period) -> participant -> its current submission, by walking each scope's
    supersession links: the heads of the chains (what nothing at the node supersedes) that were
    not returned; a participant with two heads (a broken chain) keeps the later accepted."""
    scopes: dict[Scope, list[Kept]] = defaultdict(list)
    for k in rows:
        scopes[(k.node_id, k.form_code, k.period)].append(k)
    out: dict[Scope, dict[str, Kept]] = {}
    for scope, kept in scopes.items():
        replaced = {k.supersedes for k in kept if k.supersedes is not None}
        heads: dict[str, Kept] = {}
        for k in kept:
            if k.submission_id in replaced or k.submission_id in returned:
                continue
            best = heads.get(k.participant_id)
            if best is None or (k.accepted_at, k.submission_id) > (best.accepted_at, best.submission_id):
                heads[k.participant_id] = k
        out[scope] = heads
    return out


def _strict_agg(raw: object) -> Agg:
    """A stored CellAggregate, refused unless it is exact and consistent with itself."""
    if not isinstance(raw, dict):
        raise ValueError("not an object")
    count = raw.get("count")
    if not isinstance(count, int) or isinstance(count, bool) or count < 0:
        raise ValueError(f"count {count!r}")
    total = exact(raw.get("sum"))
    if count == 0:
        if total != 0 or raw.get("min") is not None or raw.get("max") is not None:
            raise ValueError("an aggregate over no leaves with a sum, min or max")
        return EMPTY
    lo, hi = exact(raw.get("min")), exact(raw.get("max"))
    if lo > hi or not count * lo <= total <= count * hi:
        raise ValueError(f"sum {plain(total)} over {count} outside [{plain(lo)}, {plain(hi)}]")
    return Agg(total, count, lo, hi)


def contribution(k: Kept, cells: dict[str, str]) -> tuple[dict[str, Agg], list[str]]:
    """What one kept submission stands for by cell, and what in it is unreadable (reported;
    an unreadable cell is left out)."""
    bad: list[str] = []
    try:
        values = json.loads(k.values)
        aggregates = json.loads(k.aggregates or "{}")
        if not isinstance(values, dict) or not isinstance(aggregates, dict):
            raise ValueError("not an object")
    except ValueError as exc:
        return {}, [f"unreadable JSON ({exc})"]
    out: dict[str, Agg] = {}
    for code in cells:
        try:
            if code in aggregates:
                out[code] = _strict_agg(aggregates[code])
            elif values.get(code) is not None:
                value = values[code]
                if isinstance(value, bool) or not isinstance(value, str | int):
                    raise ValueError(f"{value!r}")
                out[code] = Agg.leaf(exact(str(value)))
        except (ValueError, TypeError) as exc:
            bad.append(f"cell {code}: {exc}")
    return out, bad


def rebuild(session: Session, form_code: str | None = None, period: str | None = None,
            rows: tuple[list[Kept], set[str]] | None = None) -> Outcome:
    """Every node's figures recomputed from the kept submissions (no comparison)."""
    kept, returned = rows if rows is not None else load(session, form_code, period)
    result = Outcome(submissions=len(kept))
    forms: dict[tuple[str, str], FormDefinition | None] = {}
    for (node, code, per), heads in sorted(current(kept, returned).items()):
        if (code, per) not in forms:
            forms[(code, per)] = queries.form_for(session, code, per)
        form = forms[(code, per)]
        if form is None:
            result.problems.append(Problem("form_unknown", node, code, per, "form not on an approved list"))
            continue
        cells = aggregated_cells(form)
        total: dict[str, Agg] = {}
        for participant in sorted(heads):
            part, bad = contribution(heads[participant], cells)
            for why in bad:
                result.problems.append(Problem("corrupt_row", node, code, per,
                                               f"submission {heads[participant].submission_id}: {why}"))
            for cell, agg in part.items():
                total[cell] = total.get(cell, EMPTY) + agg
        result.nodes[(node, code, per)] = Rebuilt(heads, total, figures(cells, total))
    return result


def check(session: Session, form_code: str | None = None, period: str | None = None) -> Outcome:
    """Rebuild, then compare each node with the live figures (`GET /v1/nodes/{node}/figures`)."""
    result = rebuild(session, form_code, period)
    for (node, code, per), mine in result.nodes.items():
        live = views.live_figures(session, node, code, per)

        def differ(kind: str, detail: str, node=node, code=code, per=per) -> None:
            result.problems.append(Problem(kind, node, code, per, detail))

        if live["contributors"] != len(mine.current):
            differ("contributors", f"live {live['contributors']}, rebuilt {len(mine.current)}")
        rebuilt_subs = {p: k.submission_id for p, k in sorted(mine.current.items())}
        if live["submissions"] != rebuilt_subs:
            changed = sorted(set(live["submissions"].items()) ^ set(rebuilt_subs.items()))
            differ("submissions", f"differ in {changed[:5]}")
        for cell, value in mine.figures.items():
            shown = None if value is None else plain(value)
            if live["figures"].get(cell) != shown:
                differ("figure", f"{cell}: live {live['figures'].get(cell)}, rebuilt {shown}")
        rebuilt_aggs = {c: a.contract().model_dump() for c, a in mine.aggregates.items()}
        for cell in sorted(set(rebuilt_aggs) | set(live["aggregates"])):
            if live["aggregates"].get(cell) != rebuilt_aggs.get(cell):
                differ("aggregate", f"{cell}: live {live['aggregates'].get(cell)}, rebuilt {rebuilt_aggs.get(cell)}")
    return result
