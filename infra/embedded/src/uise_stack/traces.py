"""Read the local trace files the services write when no OTLP endpoint is set."""

from __future__ import annotations

import json
from pathlib import Path

from uise_common.telemetry import SUBMISSION_ATTR


def load_spans(trace_dir: Path) -> list[dict]:
    spans = []
    for f in sorted(trace_dir.glob("*.jsonl")):
        if f.name.endswith(".metrics.jsonl"):
            continue
        for line in f.read_text().splitlines():
            if line.strip():
                spans.append(json.loads(line))
    return spans


def traces_of_submission(spans: list[dict], submission_id: str) -> set[str]:
    return {s["trace_id"] for s in spans if s["attributes"].get(SUBMISSION_ATTR) == submission_id}


def show(trace_dir: Path, submission_id: str | None = None, trace_id: str | None = None) -> str:
    spans = load_spans(trace_dir)
    if submission_id:
        ids = traces_of_submission(spans, submission_id)
    elif trace_id:
        ids = {trace_id}
    else:
        ids = {s["trace_id"] for s in spans[-50:]}
    lines = []
    for tid in sorted(ids):
        lines.append(f"trace {tid}")
        for s in sorted((s for s in spans if s["trace_id"] == tid), key=lambda s: s["start"]):
            ms = (s["end"] - s["start"]) / 1e6
            lines.append(f"  {s['service']:<11} {s['name']:<60} {ms:8.1f} ms  {s['status']}")
    return "\n".join(lines) or "no spans"
