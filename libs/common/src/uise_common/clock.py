"""The time UISE acts on (deliveries, deadlines, reminders, the day of the registry).

Production reads the real clock. Tests and rehearsals of a deadline night move it:

- `UISE_CLOCK_OFFSET_SECONDS`: the real clock shifted (e.g. to the eve of a deadline);
- `UISE_CLOCK_FIXED`: a frozen instant;
- `UISE_CLOCK_FILE`: a JSON file a rehearsal changes while the system runs
  (`uise-stack clock …` writes it): `{"fixed": "<ISO time>"}` or `{"offset_seconds": n}`; read
  again whenever it changes, so every service on the machine moves together.

What is not business time stays on the real clock: certificate validity at sign-in and the expiry
of access tokens (security does not rehearse)."""

from __future__ import annotations

import json
import logging
import os
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

log = logging.getLogger(__name__)
ALMATY = ZoneInfo("Asia/Almaty")


class Clock:
    def __init__(self, offset_seconds: float = 0.0, fixed: datetime | None = None,
                 control_file: Path | None = None) -> None:
        self._offset = timedelta(seconds=offset_seconds)
        self._fixed = _aware(fixed) if fixed else None
        self._file = control_file
        self._seen: tuple[int, int, int] | None = None  # (inode, mtime_ns, size) of the file last read
        self._file_offset = timedelta(0)
        self._file_fixed: datetime | None = None

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


_process_clock = Clock()


def process_clock() -> Clock:
    """The clock of this process (one service per process: its runtime installs it); code deep in
    a domain asks it for "today" instead of the machine's clock."""
    return _process_clock


def install(clock: Clock) -> None:
    global _process_clock
    _process_clock = clock
