"""The business clock: real, shifted, frozen, or moved while running through a control file."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from uise_common.clock import Clock, clear_control, write_control

ALMATY = ZoneInfo("Asia/Almaty")


def test_the_real_clock_is_real():
    clock = Clock()
    assert clock.is_real() and abs(clock.now() - datetime.now(UTC)) < timedelta(seconds=1)


def test_an_offset_and_a_fixed_instant():
    shifted = Clock(offset_seconds=86400)
    assert abs(shifted.now() - datetime.now(UTC) - timedelta(days=1)) < timedelta(seconds=1)
    fixed = Clock(fixed=datetime(2027, 1, 11, 23, 59, 59, tzinfo=ALMATY))
    assert fixed.now() == datetime(2027, 1, 11, 18, 59, 59, tzinfo=UTC)
    assert fixed.today().isoformat() == "2027-01-11" and fixed.almaty().hour == 23
    with pytest.raises(ValueError, match="offset"):
        Clock(fixed=datetime(2027, 1, 11))


def test_the_control_file_moves_every_reader_while_it_runs(tmp_path):
    path = tmp_path / "clock.json"
    a, b = Clock(control_file=path), Clock(control_file=path)
    assert abs(a.now() - datetime.now(UTC)) < timedelta(seconds=1)  # no file: real time
    midnight = datetime(2027, 1, 12, 0, 0, tzinfo=ALMATY)
    write_control(path, fixed=midnight - timedelta(seconds=1))
    assert a.today().isoformat() == b.today().isoformat() == "2027-01-11"
    write_control(path, fixed=midnight)
    assert a.now() == b.now() == midnight.astimezone(UTC)
    write_control(path, offset_seconds=-3600)
    assert abs(a.now() - (datetime.now(UTC) - timedelta(hours=1))) < timedelta(seconds=1)
    path.write_text("{half a fil")  # a torn write keeps the last good setting
    assert abs(a.now() - (datetime.now(UTC) - timedelta(hours=1))) < timedelta(seconds=1)
    path.unlink()
    assert abs(a.now() - datetime.now(UTC)) < timedelta(seconds=1)


def test_the_history_tells_the_business_time_at_any_past_instant(tmp_path):
    """What a replay asks: the business time when a message was published, although the clock
    has moved since (set, offset, back to real)."""
    path = tmp_path / "clock.json"
    clock = Clock(control_file=path)
    before = datetime.now(UTC)
    frozen = datetime(2034, 1, 5, 10, 0, tzinfo=ALMATY)
    write_control(path, fixed=frozen)
    while_frozen = datetime.now(UTC)
    write_control(path, offset_seconds=86400)
    while_shifted = datetime.now(UTC)
    clear_control(path)
    after = datetime.now(UTC)
    assert not path.exists()
    assert clock.at(before - timedelta(seconds=1)) == before - timedelta(seconds=1)  # nobody had moved it
    assert clock.at(while_frozen) == frozen
    assert clock.at(while_shifted) == while_shifted + timedelta(days=1)
    assert clock.at(after) == after
    write_control(path, offset_seconds=-60)  # a change later is read too
    assert clock.at(datetime.now(UTC) + timedelta(seconds=1)) < datetime.now(UTC)
    assert clock.at(while_frozen) == frozen


def test_without_a_history_the_setting_now_stands_for_the_past(tmp_path):
    path = tmp_path / "clock.json"
    path.write_text('{"offset_seconds": 3600}')  # written by hand, not remembered
    long_ago = datetime(2030, 1, 1, tzinfo=UTC)
    assert Clock(control_file=path).at(long_ago) == long_ago + timedelta(hours=1)
    assert Clock(offset_seconds=60).at(long_ago) == long_ago + timedelta(minutes=1)
