"""`uise-stack traces`: a trace as a tree, and the time per service, from a span file made here."""

from __future__ import annotations

import json

from uise_stack.traces import forest, show, stage_seconds, wall_seconds

MS = 1_000_000  # nanoseconds


def span(span_id, parent_id, service, name, start_ms, end_ms, trace_id="t1", **attributes):
    return {"trace_id": trace_id, "span_id": span_id, "parent_id": parent_id, "name": name, "kind": "INTERNAL",
            "service": service, "start": start_ms * MS, "end": end_ms * MS, "status": "UNSET",
            "status_description": None, "attributes": attributes, "events": []}


# intake answers a POST (0-40 ms) and publishes (35-38); signature consumes (50-250) with a nested
# check (60-240); deadline and validation consume side by side; validation has two concurrent spans
# (300-400, 350-450); one span's parent was never written (a root of its own).
SPANS = [
    span("a", None, "intake", "POST /v1/submissions", 0, 40, **{"uise.submission_id": "S1"}),
    span("b", "a", "intake", "uise.submission.received.v1 publish", 35, 38),
    span("c", "b", "signature", "uise.submission.received.v1 process", 50, 250),
    span("d", "c", "signature", "verify CMS", 60, 240),
    span("e", "b", "deadline", "uise.submission.received.v1 process", 52, 60),
    span("f", "c", "validation", "uise.submission.signature-checked.v1 process", 300, 400),
    span("g", "c", "validation", "read workbook", 350, 450),
    span("h", "lost", "routing", "uise.submission.validated.v1 process", 460, 470),
    span("x", None, "intake", "GET /v1/submissions/{submission_id}", 0, 5, trace_id="t2"),
]


def test_spans_are_shown_under_their_parents_and_orphans_are_roots():
    order = [(depth, s["span_id"]) for depth, s in forest([s for s in SPANS if s["trace_id"] == "t1"])]
    assert order == [(0, "a"), (1, "b"), (2, "c"), (3, "d"), (3, "f"), (3, "g"), (2, "e"), (0, "h")]


def test_time_per_service_counts_overlaps_once_and_wall_time_spans_the_trace():
    t1 = [s for s in SPANS if s["trace_id"] == "t1"]
    stages = stage_seconds(t1)
    assert {k: round(v * 1e3, 3) for k, v in stages.items()} == {
        "intake": 40.0, "signature": 200.0, "deadline": 8.0, "validation": 150.0, "routing": 10.0}
    assert round(wall_seconds(t1) * 1e3, 3) == 470.0


def test_the_command_prints_the_tree_and_the_stages_of_a_submission(tmp_path):
    (tmp_path / "intake.jsonl").write_text("".join(json.dumps(s) + "\n" for s in SPANS if s["service"] == "intake"))
    (tmp_path / "rest.jsonl").write_text("".join(json.dumps(s) + "\n" for s in SPANS if s["service"] != "intake"))
    (tmp_path / "intake.metrics.jsonl").write_text("{}\n")  # not spans
    out = show(tmp_path, submission_id="S1")
    lines = out.splitlines()
    assert lines[0] == "trace t1  8 spans, wall 470.0 ms"
    signature = next(line for line in lines if "verify CMS" in line)
    assert signature.split()[0] == "signature"
    assert signature.index("verify CMS") - lines[2].index("POST /v1") == 6  # three levels down
    assert "GET /v1/submissions/{submission_id}" not in out  # another trace
    stages = lines[lines.index("  time per service (overlapping spans of one service counted once):") + 1:]
    assert [line.split()[0] for line in stages] == ["signature", "validation", "intake", "routing", "deadline"]
    assert stages[0].split()[1:] == ["200.0", "ms"]
    assert show(tmp_path / "nothing") == "no spans"
