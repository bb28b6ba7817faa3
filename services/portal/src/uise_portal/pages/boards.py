"""What the departments' and the Ministry's pages show, worked out from the services' answers:
pure functions (no I/O), so the arithmetic of a board is tested on its own.

A board is one node's view of one form and period: routing's inbox says, per subordinate, where
its own submission to the node stands (expected, delivered, accepted, reviewed, returned,
rejected; late; missing); reporting's completeness says, for a department below, how its schools
beneath stand; deadline's timeliness gives the node's DHIS2 rates."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from zoneinfo import ZoneInfo

from uise_common.periods import parse_period

# A subordinate's own submission, in the order the board sorts by: who needs chasing first.
STATUS_ORDER = ("rejected", "returned", "expected", "delivered", "accepted", "reviewed")
DELIVERED = frozenset({"delivered", "accepted", "reviewed", "returned"})
ACCEPTED = frozenset({"accepted", "reviewed"})
DEPARTMENTS = frozenset({"district", "region", "ministry"})
ALMATY = ZoneInfo("Asia/Almaty")


@dataclass
class Counts:
    expected: int = 0
    delivered: int = 0
    accepted: int = 0
    returned: int = 0
    late: int = 0
    missing: int = 0
    on_time: int = 0

    @property
    def reporting_rate(self) -> Decimal | None:
        """delivered / expected (DHIS2's reporting rate)."""
        return ratio(self.delivered, self.expected)

    @property
    def on_time_rate(self) -> Decimal | None:
        """on time / expected (DHIS2's reporting rate on time)."""
        return ratio(self.on_time, self.expected)

    def add(self, other: Counts) -> None:
        for name in ("expected", "delivered", "accepted", "returned", "late", "missing", "on_time"):
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass
class Row:
    participant_id: str
    name: str
    level: str | None
    status: str
    late: bool
    missing: bool
    expected: bool
    counts: Counts
    submission_id: str | None = None
    returned_comment: str | None = None
    history: list[dict] = field(default_factory=list)

    @property
    def is_department(self) -> bool:
        return self.level in DEPARTMENTS


def ratio(part: int, whole: int) -> Decimal | None:
    if not whole:
        return None
    return (Decimal(part) / Decimal(whole)).quantize(Decimal("0.0001"), rounding=ROUND_HALF_EVEN)


def percent(rate: Decimal | str | float | None) -> str:
    """A rate (0..1) as a percentage with at most one decimal: 0.6667 → "66.7"."""
    if rate is None:
        return "—"
    try:
        value = (Decimal(str(rate)) * 100).quantize(Decimal("0.1"), rounding=ROUND_HALF_EVEN)
    except InvalidOperation:
        return "—"
    text = f"{value:f}"
    return text[:-2] if text.endswith(".0") else text


def own_counts(entry: dict) -> Counts:
    """An organization's own submission to the node, as counts of one."""
    status = entry.get("status", "expected")
    delivered = status in DELIVERED
    late = bool(entry.get("late"))
    return Counts(expected=1, delivered=int(delivered), accepted=int(status in ACCEPTED),
                  returned=int(status == "returned"), late=int(late), missing=int(bool(entry.get("missing"))),
                  on_time=int(delivered and not late))


def beneath_counts(item: dict) -> Counts:
    """A department's schools beneath it (reporting's completeness of one subordinate)."""
    return Counts(expected=item.get("expected", 0), delivered=item.get("delivered", 0),
                  accepted=item.get("accepted", 0), late=item.get("late", 0), missing=item.get("missing", 0),
                  on_time=item.get("on_time", 0))


def last_return(history: list[dict]) -> str | None:
    for item in reversed(history):
        if item.get("state") == "returned" and item.get("return_comment"):
            return item["return_comment"]
    return None


def board_rows(inbox: dict, completeness: dict | None, names: dict[str, str]) -> list[Row]:
    """One row per expected subordinate (and any other that delivered), the ones to chase first.
    A department's counts are its schools' beneath it; an organization's, its own submission."""
    beneath = {i["node_id"]: i for i in (completeness or {}).get("subordinates", [])}
    rows = []
    for entry in inbox.get("participants", []):
        pid = entry["participant_id"]
        level = entry.get("level")
        counts = own_counts(entry)
        if level in DEPARTMENTS and pid in beneath:
            counts = beneath_counts(beneath[pid])
            counts.returned = int(entry.get("status") == "returned")
        if not entry.get("expected"):
            counts = Counts(delivered=counts.delivered, accepted=counts.accepted, returned=counts.returned)
        history = entry.get("history", [])
        rows.append(Row(participant_id=pid, name=names.get(pid, pid), level=level, status=entry.get("status", "expected"),
                        late=bool(entry.get("late")), missing=bool(entry.get("missing")),
                        expected=bool(entry.get("expected")), counts=counts,
                        submission_id=entry.get("current_submission_id"), returned_comment=last_return(history),
                        history=history))
    rank = {s: n for n, s in enumerate(STATUS_ORDER)}
    return sorted(rows, key=lambda r: (not r.missing, not r.late, rank.get(r.status, 99), r.name))


def totals(inbox: dict) -> Counts:
    """The node's own figures: its expected subordinates' submissions to it."""
    out = Counts()
    for entry in inbox.get("participants", []):
        if entry.get("expected"):
            out.add(own_counts(entry))
    return out


def to_chase(inbox: dict) -> list[dict]:
    """Who to chase: expected subordinates that are missing, late, returned, refused or have
    delivered nothing yet (the on-time and accepted ones are left alone)."""
    out = []
    for entry in inbox.get("participants", []):
        if not entry.get("expected"):
            continue
        status = entry.get("status", "expected")
        why = [w for w, hit in (("missing", entry.get("missing")), ("returned", status == "returned"),
                                ("rejected", status == "rejected"),
                                ("expected", status == "expected" and not entry.get("missing")),
                                ("late", entry.get("late"))) if hit]
        if why:
            out.append({**entry, "why": why})
    return sorted(out, key=lambda e: (not e.get("missing"), e["participant_id"]))


# --- charts --------------------------------------------------------------------------------------------


@dataclass
class Bar:
    label: str
    value: Decimal
    shown: str  # the value as written beside the bar
    tone: str = ""  # a CSS class: ok, warn, bad
    href: str | None = None
    width: float = 0.0  # of the plot area, 0..1


def bars(items: list[Bar], top: Decimal | None = None) -> list[Bar]:
    """Each bar's width as a share of the largest value (or `top`, e.g. 1 for rates)."""
    biggest = top if top is not None else max((b.value for b in items), default=Decimal(0))
    for b in items:
        b.width = float(b.value / biggest) if biggest and b.value > 0 else 0.0
    return items


def number(text: str | int | float | None) -> Decimal | None:
    if text is None:
        return None
    try:
        return Decimal(str(text))
    except InvalidOperation:
        return None


# --- periods -------------------------------------------------------------------------------------------


def year_of(period: str | None) -> int | None:
    try:
        return parse_period(period).start.year if period else None
    except ValueError:
        return None


# --- times -------------------------------------------------------------------------------------------


def when(text: str | None, seconds: bool = False) -> str:
    """A service's time in Almaty, as people read it: `2030-01-11 00:01`. The services answer in
    Almaty (intake, deadline) or in UTC (routing, reporting; a time without a zone is UTC, as
    SQLite gives it back)."""
    if not text:
        return "—"
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        return text
    at = (at if at.tzinfo else at.replace(tzinfo=UTC)).astimezone(ALMATY)
    return at.strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")
