"""`make run`'s command end to end: `uise-stack up` starts everything, runs the demo to its
final states, `status` sees every service ready, `stop` leaves no process behind."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e
CLI = [sys.executable, "-m", "uise_stack.cli"]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie is not running: read its state
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except FileNotFoundError:
        return False


def test_up_runs_the_demo_status_then_stop_leaves_nothing(tmp_path):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("DATABASE_URL", None)
    env.pop("REDIS_URL", None)
    up = subprocess.Popen([*CLI, "--base-dir", str(tmp_path), "up", "--ephemeral-ports"], stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, env=env)
    lines: list[str] = []
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            line = up.stdout.readline()
            if not line:
                break
            lines.append(line.rstrip())
            if "Ctrl-C stops everything" in line:
                break
        out = "\n".join(lines)
        assert "Ctrl-C stops everything" in out, out
        assert "school 1, JSON" in out and "→ accepted" in out.split("school 1, JSON")[1].splitlines()[0]
        assert "VALIDATION_FAILED" in out and "NOT_FIRST_HEAD" in out
        assert "district 210340000013 so far: 2 schools, pupils_total 1321" in out
        assert "the portal: http://127.0.0.1:" in out

        for _ in range(5):  # a loaded machine may answer one health check late
            status = subprocess.run([*CLI, "--base-dir", str(tmp_path), "status"], capture_output=True,
                                    text=True, timeout=60)
            if sum(line.endswith(" ready") for line in status.stdout.splitlines()) == 9:
                break
            time.sleep(2)
        assert status.returncode == 0
        # the eight services and the portal
        assert sum(line.endswith(" ready") for line in status.stdout.splitlines()) == 9, status.stdout
        state = json.loads((tmp_path / "stack.json").read_text())
        pids = [p["pid"] for p in state["processes"].values()]
        assert len(pids) == 12  # s3, kafka, redis, the eight services and the portal

        stop = subprocess.run([*CLI, "--base-dir", str(tmp_path), "stop"], capture_output=True, text=True, timeout=90)
        assert stop.returncode == 0 and "stopped" in stop.stdout
        up.wait(30)
        assert up.returncode == 0
        time.sleep(0.5)
        assert [p for p in pids if alive(p)] == []
        assert not (tmp_path / "stack.json").exists()
    finally:
        if up.poll() is None:
            up.kill()
            up.wait()
