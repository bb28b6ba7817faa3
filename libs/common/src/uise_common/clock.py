"""The time UISE acts on (deliveries, deadlines, reminders, the day of the registry).

Production reads the real clock. Tests and rehearsals of a deadline night move it:

- `UISE_CLOCK_OFFSET_SECONDS`: the real clock shifted (e.g. to the eve of a deadline);
- `UISE_CLOCK_FIXED`: a frozen instant;
- `UISE_CLOCK_FILE`: a JSON file a rehearsal changes while the system runs
  (`uise-stack clock …` writes it): `{"fixed": "<ISO time>"}` or `{"offset_seconds": n}`; read
  again whenever it changes, so every service on the machine moves together. Each change is also
  appended to its history (`<file>.history`), from which a replay of the topics learns what the
  business time was when a message was published (`Clock.at`).

What is not business time stays on the real clock: certificate validity at sign-in and the expiry
of access tokens (security does not rehearse)."""

from __future__ import annotations

import bisect
import json
import logging
import os
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

log = logging.getLogger(__name__)
ALMATY = ZoneInfo("Asia/Almaty")


def almaty_iso(at: datetime) -> str:
    """A stored instant as Almaty time, ISO 8601 (clause 10's times are read there); a naive value
    from the database is UTC."""
    return (at if at.tzinfo else at.replace(tzinfo=UTC)).astimezone(ALMATY).isoformat()


class Clock:
    def __init__(self, offset_seconds: float = 0.0, fixed: datetime | None = None,
                 control_file: Path | None = None) -> None:
        self._offset = timedelta(seconds=offset_seconds)
        self._fixed = _aware(fixed) if fixed else None
        self._file = control_file
        self._seen: tuple[int, int, int] | None = None  # (inode, mtime_ns, size) of the file last read
        self._file_offset = timedelta(0)
        self._file_fixed: datetime | None = None
        self._history_seen: tuple[int, int, int] | None = None  # the history file as last read
        self._history_read: list[tuple[datetime, datetime | None, timedelta]] = []

    @classmethod
    def from_settings(cls, settings) -> Clock:
        clock = cls(settings.clock_offset_seconds, settings.clock_fixed, settings.clock_file)
        if settings.clock_offset_seconds or settings.clock_fixed:
            log.warning("the clock is moved (a test or a rehearsal)", extra={
                "offset_seconds": settings.clock_offset_seconds, "fixed": str(settings.clock_fixed)})
        if settings.clock_file:
            log.info("the clock follows a control file when it exists", extra={"control_file": str(settings.clock_file)})
        return clock

    def is_real(self) -> bool:
        return not self._offset and self._fixed is None and self._file is None

    def now(self) -> datetime:
        """The current instant (UTC, aware) as this installation counts it."""
        self._reload()
        if self._file_fixed is not None:
            return self._file_fixed
        if self._fixed is not None:
            return self._fixed
        return datetime.now(UTC) + self._offset + self._file_offset

    def almaty(self) -> datetime:
        return self.now().astimezone(ALMATY)

    def today(self) -> date:
        """Today in Kazakhstan (Asia/Almaty): the day that counts for deadlines and terms."""
        return self.almaty().date()

    def at(self, real: datetime) -> datetime:
        """The business time this clock showed at the real instant `real`: what a replay asks of
        a message published then. The control file's setting at that instant comes from its
        history; without a history, its setting now stands for it."""
        file_fixed, file_offset = self._setting_at(real)
        if file_fixed is not None:
            return file_fixed
        if self._fixed is not None:
            return self._fixed
        return real + self._offset + file_offset

    def _setting_at(self, real: datetime) -> tuple[datetime | None, timedelta]:
        if self._file is None:
            return None, timedelta(0)
        history = self._history()
        if not history:
            self._reload()
            return self._file_fixed, self._file_offset
        n = bisect.bisect_right([since for since, _, _ in history], real)
        if n == 0:  # before the first change anyone made: the real clock
            return None, timedelta(0)
        _, fixed, offset = history[n - 1]
        return fixed, offset

    def _history(self) -> list[tuple[datetime, datetime | None, timedelta]]:
        """The control file's history, read again only when it has changed."""
        try:
            st = os.stat(history_file(self._file))
        except FileNotFoundError:
            return []
        key = (st.st_ino, st.st_mtime_ns, st.st_size)
        if self._history_seen != key:
            self._history_seen, self._history_read = key, read_history(self._file)
        return self._history_read

    def _reload(self) -> None:
        if self._file is None:
            return
        try:
            st = os.stat(self._file)
        except FileNotFoundError:
            self._seen, self._file_fixed, self._file_offset = None, None, timedelta(0)
            return
        key = (st.st_ino, st.st_mtime_ns, st.st_size)  # a replace makes a new inode
        if key == self._seen:
            return
        try:
            control = json.loads(Path(self._file).read_text())
            fixed = control.get("fixed")
            self._file_fixed = _aware(datetime.fromisoformat(fixed)) if fixed else None
            self._file_offset = timedelta(seconds=float(control.get("offset_seconds", 0)))
        except (ValueError, OSError, AttributeError) as exc:  # a half-written file: keep the last good one
            log.warning("clock control file unreadable; keeping the previous setting", extra={"error": repr(exc)})
            return
        self._seen = key


def _aware(at: datetime) -> datetime:
    if at.tzinfo is None:
        raise ValueError(f"a time without its offset: {at.isoformat()} (write e.g. +05:00)")
    return at.astimezone(UTC)


def write_control(path: Path, *, fixed: datetime | None = None, offset_seconds: float | None = None) -> None:
    """Set the clock of every service reading `path` (atomically: readers never see half a file).
    Neither argument: back to the real clock."""
    body: dict = {}
    if fixed is not None:
        body["fixed"] = _aware(fixed).isoformat()
    if offset_seconds is not None:
        body["offset_seconds"] = offset_seconds
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(body))
    os.replace(tmp, path)
    _remember(path, body)


def clear_control(path: Path) -> None:
    """Back to the real clock: the control file removed, and the change remembered."""
    path.unlink(missing_ok=True)
    _remember(path, {})


def history_file(path: Path) -> Path:
    """Every setting the control file `path` has had, one JSON line each with the real instant
    it took effect (`from`). Kept for good: a replay may go back to the first message."""
    return path.with_name(path.name + ".history")


def _remember(path: Path, body: dict) -> None:
    line = json.dumps({"from": datetime.now(UTC).isoformat(), **body})
    with history_file(path).open("a") as out:  # one short line a write: appends do not interleave
        out.write(line + "\n")


def read_history(path: Path) -> list[tuple[datetime, datetime | None, timedelta]]:
    """(from, fixed, offset) of each setting of the control file `path`, oldest first."""
    try:
        lines = history_file(path).read_text().splitlines()
    except FileNotFoundError:
        return []
    out = []
    for line in lines:
        try:
            entry = json.loads(line)
            fixed = entry.get("fixed")
            out.append((datetime.fromisoformat(entry["from"]), _aware(datetime.fromisoformat(fixed)) if fixed else None,
                        timedelta(seconds=float(entry.get("offset_seconds", 0)))))
        except (ValueError, KeyError, TypeError, AttributeError):
            continue  # a torn last line: the settings before it stand
    return sorted(out, key=lambda e: e[0])


_process_clock = Clock()


def process_clock() -> Clock:
    """The clock of this process (one service per process: its runtime installs it); code deep in
    a domain asks it for "today" instead of the machine's clock."""
    return _process_clock


def install(clock: Clock) -> None:
    global _process_clock
    _process_clock = clock
