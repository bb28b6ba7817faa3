"""`make bench` keeps working: bench/peak.py in a tiny configuration runs every phase (burst,
ceiling, load, replicas) on its own stack, prints its figures, writes them as JSON and exits 0.
No figure is judged: speed belongs to the bench, not to the tests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e
BENCH = Path(__file__).resolve().parents[2] / "bench" / "peak.py"
FIGURE_LINES = (
    "intake acknowledgement latency p50", "intake acknowledgement latency p99", "acknowledged",
    "end-to-end to a final state", "S3: ", "Kafka: ", "ceiling", "end-to-end / ceiling",
    "half rate", "p99/p50", "429", "intake acknowledges again after", "acknowledged with exactly one final state",
    "1 of each: end-to-end", "2 / 1", "where the time goes", "outbox wait", "delivery wait",
)


@pytest.mark.timeout(900)
def test_the_peak_bench_runs_every_phase_and_prints_its_figures(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "UISE_DATABASE_URL")}
    figures = tmp_path / "peak.json"
    run = subprocess.run(
        [sys.executable, str(BENCH), "--submissions", "6", "--schools", "6", "--districts", "2", "--threads", "3",
         "--doc-kb", "20", "--half-seconds", "1", "--overload-seconds", "1", "--overload-max", "12",
         "--replica-submissions", "3", "--json", str(figures)],
        capture_output=True, text=True, env={**env, "PYTHONUNBUFFERED": "1"}, timeout=840)
    out = run.stdout + run.stderr
    assert run.returncode == 0, out[-6000:]
    for line in FIGURE_LINES:
        assert line in run.stdout, f"{line!r} missing from:\n{run.stdout[-6000:]}"
    result = json.loads(figures.read_text())
    assert result["burst"]["acknowledged"] == 6
    assert result["load"]["single_final"] == result["load"]["acknowledged_total"] > 6
    assert result["failures"] == []
    assert {"cores", "cpu"} <= set(result["machine"])
    assert set(result["ceiling"]["events"]) >= {"uise.submission.received.v1", "uise.submission.accepted.v1"}
