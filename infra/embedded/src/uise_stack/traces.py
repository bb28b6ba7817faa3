"""Read the local trace files the services write when no OTLP endpoint is set, and show each
trace as a tree (a span under its parent) with the time each service spent on it."""

from __future__ import annotations

import json
from collections import defaultdict
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


def forest(spans: list[dict]) -> list[tuple[int, dict]]:
    """(depth, span) in display order: each span after its parent, siblings by start time. A span
    whose parent is not among `spans` (not exported yet, or in a file not read) is a root."""
    ids = {s["span_id"] for s in spans}
    children: dict[str | None, list[dict]] = defaultdict(list)
    for s in spans:
        parent = s.get("parent_id")
        children[parent if parent in ids else None].append(s)
    out: list[tuple[int, dict]] = []
    seen: set[str] = set()
    stack = [(0, s) for s in sorted(children[None], key=_start, reverse=True)]
    while stack:
        depth, span = stack.pop()
        if span["span_id"] in seen:  # a span id written twice: show it once
            continue
        seen.add(span["span_id"])
        out.append((depth, span))
        stack.extend((depth + 1, c) for c in sorted(children[span["span_id"]], key=_start, reverse=True))
    return out


def _start(span: dict) -> int:
    return span["start"]


def stage_seconds(spans: list[dict]) -> dict[str, float]:
    """Per service, the time at least one of its spans was open: nested and concurrent spans of
    one service count once, so the figures add up to no more than the service really spent."""
    by_service: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for s in spans:
        by_service[s.get("service") or "?"].append((s["start"], s["end"]))
    out = {}
    for service, intervals in by_service.items():
        busy, open_start, open_end = 0, None, None
        for start, end in sorted(intervals):
            if open_end is None or start > open_end:
                if open_end is not None:
                    busy += open_end - open_start
                open_start, open_end = start, end
            else:
                open_end = max(open_end, end)
        busy += open_end - open_start
        out[service] = busy / 1e9
    return out


def wall_seconds(spans: list[dict]) -> float:
    """From the first span's start to the last one's end."""
    return (max(s["end"] for s in spans) - min(s["start"] for s in spans)) / 1e9 if spans else 0.0


def render_trace(trace_id: str, spans: list[dict]) -> list[str]:
    t0 = min(s["start"] for s in spans)
    lines = [f"trace {trace_id}  {len(spans)} spans, wall {wall_seconds(spans) * 1e3:.1f} ms",
             f"  {'service':<11} {'span (under its parent)':<72} {'starts at':>12} {'lasts':>12}  status"]
    for depth, s in forest(spans):
        name = "  " * depth + s["name"]
        lines.append(f"  {s['service'] or '?':<11} {name:<72} {(s['start'] - t0) / 1e6:>+9.1f} ms "
                     f"{(s['end'] - s['start']) / 1e6:>9.1f} ms  {s['status']}")
    lines.append("  time per service (overlapping spans of one service counted once):")
    stages = stage_seconds(spans)
    for service, seconds in sorted(stages.items(), key=lambda kv: -kv[1]):
        lines.append(f"    {service:<11} {seconds * 1e3:9.1f} ms")
    return lines


def show(trace_dir: Path, submission_id: str | None = None, trace_id: str | None = None) -> str:
    spans = load_spans(trace_dir)
    if submission_id:
        ids = traces_of_submission(spans, submission_id)
    elif trace_id:
        ids = {trace_id}
    else:
        ids = {s["trace_id"] for s in spans[-50:]}
    lines: list[str] = []
    for tid in sorted(ids):
        of_trace = [s for s in spans if s["trace_id"] == tid]
        if of_trace:
            lines.extend(render_trace(tid, of_trace))
    return "\n".join(lines) or "no spans"
