"""The analytics API's questions (clause 14), as pure query functions over reporting's tables:
an indicator at a node with drill-down to its direct subordinates, completeness and timeliness
per subordinate, and the corrections of distorted data under a node (docs/analytics.md).

Figures are the live ones (docs/consolidation.md): what each node's current accepted submissions
give, cell by cell by the form's rule, with `uise_common.aggregates`. Everything under a node is
read in a few queries (the subtree level by level, the kept submissions of the form and period)
and worked out in memory, so a national question costs one pass over the country's rows."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any, NamedTuple

from sqlmodel import Session, col, func, select

from uise_common.aggregates import EMPTY, Agg, aggregated_cells, combine, plain
from uise_common.http import ApiError
from uise_common.spreadsheets import csv_bytes
from uise_contracts.events import FormDefinition
from uise_reporting import queries, rebuild, views
from uise_reporting.adapters import (
    AcceptedSubmission,
    KnownParticipant,
    ReturnedSubmission,
    Violation,
)

CHUNK = 900  # ids per IN (...): under SQLite's old 999-variable limit
MAX_DEPTH = 6  # ministry → region → district → organization, with room; bad data cannot loop


# --- errors ------------------------------------------------------------------------------------


def cell_not_found(form_code: str, cell: str) -> ApiError:
    return ApiError(404, "CELL_NOT_FOUND", f"form {form_code} has no aggregated cell {cell}",
                    f"в форме {form_code} нет сводимой ячейки {cell}",
                    f"{form_code} нысанында {cell} жинақталатын ұяшығы жоқ")


def node_not_found(node_id: str) -> ApiError:
    return ApiError(404, "NODE_NOT_FOUND", f"participant {node_id} is not known to reporting",
                    f"участник {node_id} неизвестен службе отчётности",
                    f"{node_id} қатысушысы есеп беру қызметіне белгісіз")


def _form(session: Session, form_code: str, period: str) -> FormDefinition:
    form = queries.form_for(session, form_code, period)
    if form is None:
        raise views.form_not_known(form_code, period)
    return form


def _node(session: Session, node_id: str) -> KnownParticipant:
    node = session.get(KnownParticipant, node_id)
    if node is None:
        raise node_not_found(node_id)
    return node


# --- the subtree -------------------------------------------------------------------------------


@dataclass
class Subtree:
    """A node and everything beneath it, from the participants read model."""

    root: str
    people: dict[str, Person]  # the root included
    children: dict[str, list[str]]

    def branch_of(self) -> dict[str, str]:
        """participant -> the root's direct subordinate it lies under (that subordinate itself
        included; the root maps to nothing)."""
        out: dict[str, str] = {}
        for child in self.children.get(self.root, []):
            stack = [child]
            while stack:
                pid = stack.pop()
                out[pid] = child
                stack.extend(self.children.get(pid, []))
        return out


def _in_chunks(ids: list[str]):
    for i in range(0, len(ids), CHUNK):
        yield ids[i:i + CHUNK]


class Person(NamedTuple):
    """A participant as the subtree questions need it (plain columns: no ORM objects for 20,000
    rows)."""

    participant_id: str
    kind: str
    parent_id: str | None
    active: bool


def subtree(session: Session, root: KnownParticipant) -> Subtree:
    people = {root.participant_id: Person(root.participant_id, root.kind, root.parent_id, root.active)}
    children: dict[str, list[str]] = {}
    frontier = [root.participant_id]
    columns = (KnownParticipant.participant_id, KnownParticipant.kind, KnownParticipant.parent_id,
               KnownParticipant.active)
    for _ in range(MAX_DEPTH):
        if not frontier:
            break
        found: list[Person] = []
        for chunk in _in_chunks(frontier):
            found += [Person(*row) for row in session.exec(
                select(*columns).where(col(KnownParticipant.parent_id).in_(chunk)))]
        frontier = []
        for p in sorted(found):
            if p.participant_id in people:
                continue  # a cycle in bad data
            people[p.participant_id] = p
            children.setdefault(p.parent_id, []).append(p.participant_id)
            frontier.append(p.participant_id)
    return Subtree(root.participant_id, people, children)


def _kept_under(session: Session, tree: Subtree, form_code: str, period: str) -> tuple[list[rebuild.Kept], set[str]]:
    """The kept submissions of the form and period accepted at the root or beneath it."""
    nodes = [pid for pid in tree.people if pid in tree.children or pid == tree.root]
    if len(nodes) > CHUNK:  # the nation or a large region: one pass over the form and period
        return rebuild.load(session, form_code, period, node_ids=nodes)
    rows, returned = [], set()
    for chunk in _in_chunks(nodes):
        got, ret = _kept_at(session, chunk, form_code, period)
        rows += got
        returned |= ret
    return rows, returned


# --- an indicator, with drill-down ------------------------------------------------------------------


def _agg_of(form: FormDefinition, heads: dict[str, rebuild.Kept], cell: str) -> Agg:
    cells = {cell: aggregated_cells(form)[cell]}
    parts = [rebuild.contribution(k, cells)[0] for k in heads.values()]
    return combine(parts).get(cell, EMPTY)


def _shown(agg: Agg, how: str) -> dict:
    value = agg.figure(how)
    return {"figure": None if value is None else plain(value), "aggregate": agg.contract().model_dump()}


def indicator(session: Session, form_code: str, period: str, cell: str, node_id: str,
              limit: int = 50, offset: int = 0) -> dict:
    """The cell's live figure at the node, and at each direct subordinate (a page of them): a
    department's figure at its own node (what its subordinates' current submissions give), an
    organization's its own current submission's value; `submitted` is what the subordinate's
    current submission to the node carries (a department's consolidation), None if none is."""
    form = _form(session, form_code, period)
    rules = aggregated_cells(form)
    if cell not in rules:
        raise cell_not_found(form_code, cell)
    how = rules[cell]
    node = _node(session, node_id)
    kids = sorted(session.exec(select(KnownParticipant).where(KnownParticipant.parent_id == node_id)),
                  key=lambda p: p.participant_id)
    page = kids[offset:offset + limit]
    nodes = [node_id, *(k.participant_id for k in page)]
    rows, returned = [], set()
    for chunk in _in_chunks(nodes):
        got, ret = _kept_at(session, chunk, form_code, period)
        rows += got
        returned |= ret
    heads = rebuild.current(rows, returned)
    at_node = heads.get((node_id, form_code, period), {})
    items = []
    for kid in page:
        own = heads.get((kid.participant_id, form_code, period))
        sent = at_node.get(kid.participant_id)
        submitted = None if sent is None else _shown(_agg_of(form, {kid.participant_id: sent}, cell), how)["figure"]
        if own:  # a department: its own node's figure
            item = {**_shown(_agg_of(form, own, cell), how), "contributors": len(own)}
        else:
            item = {**_shown(_agg_of(form, {} if sent is None else {kid.participant_id: sent}, cell), how),
                    "contributors": 0 if sent is None else 1}
        items.append({"node_id": kid.participant_id, "kind": kid.kind, "active": kid.active,
                      "submitted": submitted, "submission_id": None if sent is None else sent.submission_id, **item})
    return {"node_id": node_id, "kind": node.kind, "form_code": form_code, "period": period, "cell": cell,
            "rule": how, **_shown(_agg_of(form, at_node, cell), how), "contributors": len(at_node),
            "subordinates": items, "total": len(kids), "limit": limit, "offset": offset}


def _kept_at(session: Session, nodes: list[str], form_code: str, period: str) -> tuple[list[rebuild.Kept], set[str]]:
    rows = [rebuild.Kept(*r) for r in session.exec(select(
        AcceptedSubmission.submission_id, AcceptedSubmission.node_id, AcceptedSubmission.participant_id,
        AcceptedSubmission.form_code, AcceptedSubmission.period, AcceptedSubmission.values,
        AcceptedSubmission.aggregates, AcceptedSubmission.supersedes, AcceptedSubmission.accepted_at,
        AcceptedSubmission.corrects_accepted).where(
        col(AcceptedSubmission.node_id).in_(nodes), AcceptedSubmission.form_code == form_code,
        AcceptedSubmission.period == period))]
    returned = set(session.exec(select(ReturnedSubmission.submission_id).where(
        col(ReturnedSubmission.node_id).in_(nodes), ReturnedSubmission.form_code == form_code,
        ReturnedSubmission.period == period)))
    return rows, returned


# --- completeness and timeliness ----------------------------------------------------------------

COUNTS = ("expected", "delivered", "accepted", "on_time", "late", "missing")


def _rate(on_time: int, expected: int) -> str | None:
    if expected == 0:
        return None
    return plain((Decimal(on_time) / Decimal(expected)).quantize(Decimal("0.0001"), rounding=ROUND_HALF_EVEN))


def _tally(counts: dict[str, int]) -> dict:
    return {**counts, "on_time_rate": _rate(counts["on_time"], counts["expected"])}


def completeness(session: Session, form_code: str, period: str, node_id: str,
                 limit: int = 50, offset: int = 0) -> dict:
    """Over the organizations beneath the node that must deliver the form (active, of one of
    its respondent kinds), per direct subordinate (a page of them) and for the node: expected;
    delivered (some submission of theirs was accepted, even if later returned); accepted (a
    current submission stands at their superior); late (delivered, with a `late` violation from
    deadline); on_time = delivered − late; missing = expected − delivered; on_time_rate =
    on_time / expected (4 places)."""
    form = _form(session, form_code, period)
    node = _node(session, node_id)
    tree = subtree(session, node)
    kinds = set(form.respondent_kinds)
    expected = {pid for pid, p in tree.people.items() if p.active and p.kind in kinds and pid not in tree.children}
    rows, returned = _kept_under(session, tree, form_code, period)
    delivered = {k.participant_id for k in rows}
    accepted = {p for heads in rebuild.current(rows, returned).values() for p in heads}
    late: set[str] = set()
    for chunk in _in_chunks(sorted(expected)):
        late |= set(session.exec(select(Violation.participant_id).where(
            col(Violation.participant_id).in_(chunk), Violation.form_code == form_code,
            Violation.period == period, Violation.kind == "late")))
    branch = tree.branch_of()
    kids = tree.children.get(node_id, [])
    per = {k: dict.fromkeys(COUNTS, 0) for k in kids}
    whole = dict.fromkeys(COUNTS, 0)
    for pid in expected:
        bucket = [whole] + ([per[branch[pid]]] if pid in branch else [])
        got = pid in delivered
        for b in bucket:
            b["expected"] += 1
            b["delivered"] += got
            b["accepted"] += pid in accepted
            b["late"] += got and pid in late
            b["on_time"] += got and pid not in late
            b["missing"] += not got
    items = [{"node_id": k, "kind": tree.people[k].kind, **_tally(per[k])} for k in kids[offset:offset + limit]]
    return {"node_id": node_id, "kind": node.kind, "form_code": form_code, "period": period, **_tally(whole),
            "subordinates": items, "total": len(kids), "limit": limit, "offset": offset}


# --- findings: corrections of distorted data ------------------------------------------------------


def findings(session: Session, form_code: str, period: str, node_id: str, limit: int = 50, offset: int = 0) -> dict:
    """Reporting holds no validation findings (validation keeps them): what it holds of clause
    11's distortion is the accepted corrections of data already accepted (`corrects_accepted`),
    at the node or beneath it, oldest first, each with the cells it changed against the version
    it supersedes (when reporting kept that version)."""
    _form(session, form_code, period)
    tree = subtree(session, _node(session, node_id))
    nodes = sorted(pid for pid in tree.people if pid in tree.children or pid == node_id)
    where = (AcceptedSubmission.form_code == form_code, AcceptedSubmission.period == period,
             col(AcceptedSubmission.corrects_accepted).is_(True))
    total, page = 0, []
    # paged in SQL within one chunk (every department below a region fits in one); the nation's
    # several chunks are merged in memory
    if len(nodes) <= CHUNK:
        q = select(AcceptedSubmission).where(col(AcceptedSubmission.node_id).in_(nodes), *where)
        total = session.exec(select(func.count()).select_from(q.subquery())).one()
        page = list(session.exec(q.order_by(AcceptedSubmission.accepted_at, AcceptedSubmission.submission_id)
                                 .offset(offset).limit(limit)))
    else:
        wanted = set(nodes)
        every = [r for r in session.exec(select(AcceptedSubmission).where(*where)) if r.node_id in wanted]
        every.sort(key=lambda r: (r.accepted_at, r.submission_id))
        total, page = len(every), every[offset:offset + limit]
    before = {r.submission_id: r for r in session.exec(select(AcceptedSubmission).where(
        col(AcceptedSubmission.submission_id).in_([r.supersedes for r in page if r.supersedes])))} if page else {}
    items = []
    for r in page:
        old = before.get(r.supersedes)
        after, prior = json.loads(r.values), json.loads(old.values) if old else None
        changes = None if prior is None else {
            c: {"before": prior.get(c), "after": after.get(c)}
            for c in sorted(set(after) | set(prior)) if prior.get(c) != after.get(c)}
        items.append({"submission_id": r.submission_id, "participant_id": r.participant_id, "node_id": r.node_id,
                      "supersedes": r.supersedes, "level": r.level, "accepted_at": r.accepted_at.isoformat(),
                      "changes": changes})
    return {"node_id": node_id, "form_code": form_code, "period": period,
            "source": "corrections", "items": items, "total": total, "limit": limit, "offset": offset}


# --- CSV ---------------------------------------------------------------------------------------


class _Number:
    """A figure written into CSV as the number it is (plain decimal text): spreadsheet safety
    neutralises text, and a negative figure is not text."""

    def __init__(self, text: str | None) -> None:
        self.text = text

    def __str__(self) -> str:
        return self.text or ""


def _n(text: str | None) -> Any:
    return None if text is None else _Number(text)


def indicator_csv(body: dict) -> bytes:
    header = ["node_id", "kind", "relation", "figure", "sum", "count", "min", "max", "contributors", "submitted"]

    def row(x: dict, relation: str) -> list:
        a = x["aggregate"]
        return [x["node_id"], x["kind"], relation, _n(x["figure"]), _n(a["sum"]), a["count"], _n(a["min"]),
                _n(a["max"]), x["contributors"], _n(x.get("submitted"))]

    return csv_bytes(header, [row(body, "node"), *(row(s, "subordinate") for s in body["subordinates"])])


def completeness_csv(body: dict) -> bytes:
    header = ["node_id", "kind", "relation", *COUNTS, "on_time_rate"]
    rows = [[x["node_id"], x["kind"], rel, *(x[c] for c in COUNTS), _n(x["on_time_rate"])]
            for x, rel in [(body, "node"), *((s, "subordinate") for s in body["subordinates"])]]
    return csv_bytes(header, rows)


def findings_csv(body: dict) -> bytes:
    header = ["submission_id", "participant_id", "node_id", "supersedes", "level", "accepted_at", "changed_cells"]
    rows = [[x["submission_id"], x["participant_id"], x["node_id"], x["supersedes"], x["level"], x["accepted_at"],
             None if x["changes"] is None else " ".join(x["changes"])] for x in body["items"]]
    return csv_bytes(header, rows)


# --- a brief cache for national questions ---------------------------------------------------------


class TtlCache:
    """In-process answers kept for `ttl` seconds, keyed by the whole query; invalidated by age
    only (a national figure may lag a new acceptance by up to `ttl`). Per process: replicas each
    keep their own. Bounded: the oldest entries go first."""

    def __init__(self, ttl: float = 30.0, size: int = 256, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl, self.size, self.clock = ttl, size, clock
        self._items: dict[Hashable, tuple[float, Any]] = {}
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def get_or_compute(self, key: Hashable, compute: Callable[[], Any]) -> Any:
        now = self.clock()
        with self._lock:
            hit = self._items.get(key)
            if hit is not None and hit[0] > now:
                self.hits += 1
                return hit[1]
        self.misses += 1
        value = compute()  # outside the lock: two callers may both compute, the last one stays
        with self._lock:
            self._items[key] = (now + self.ttl, value)
            while len(self._items) > self.size:
                self._items.pop(next(iter(self._items)))
        return value


def is_national(session: Session, node_id: str) -> bool:
    """The top of the hierarchy: a participant with no superior (the Ministry)."""
    node = session.get(KnownParticipant, node_id)
    return node is not None and node.parent_id is None
