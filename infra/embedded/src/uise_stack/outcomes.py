"""What became of acknowledged submissions, read back from intake as the data office reads them:
whether each reached exactly one final state, and whether any step of its way was recorded twice.
The deadline-night bench (bench/peak.py) and the fault suite (tests/faults) judge their runs
with these."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

from uise_stack import client
from uise_stack.client import bearer

FINAL_STEPS = {"accepted", "rejected", "returned"}
# Steps a submission's timeline holds at most once: each is one service's one announcement about
# it. Twice means a service processed the same input twice and announced it again under a new
# event id (a consumer redelivered after a crash, with no record that it had been processed).
ONCE_STEPS = ("received", "signature_checked", "validated", "accepted", "rejected", "returned",
              "timeliness_recorded", "aggregated")


def wait_final(intake: str, forms: Iterable[str], expected: int, period: str, timeout: float,
               say: Callable[[str], None] = print) -> int:
    """Poll intake's list, one query per form (a form holds each school at most once, so at most
    `schools` rows), until `expected` submissions of `forms` are final; returns how many are."""
    forms = list(forms)
    deadline = time.monotonic() + timeout
    shown = time.monotonic()
    while True:
        final = 0
        for code in forms:
            resp = client.http.get(f"{intake}/v1/submissions", params={"form_code": code, "period": period, "limit": 500},
                                   headers=bearer(client.data_office_token()), timeout=60.0)
            resp.raise_for_status()
            final += sum(1 for s in resp.json()["items"] if s["final"])
        if final >= expected or time.monotonic() > deadline:
            return final
        if time.monotonic() - shown > 20:
            say(f"    … {final}/{expected} final")
            shown = time.monotonic()
        time.sleep(1.0)


def details(intake: str, ids: Iterable[str]) -> dict[str, dict]:
    """Every submission with its timeline, as the data office reads it."""

    def one(sid: str) -> tuple[str, dict]:
        resp = client.http.get(f"{intake}/v1/submissions/{sid}", headers=bearer(client.data_office_token()),
                               timeout=60.0)
        resp.raise_for_status()
        return sid, resp.json()

    with ThreadPoolExecutor(8) as pool:
        return dict(pool.map(one, list(ids)))


def final_at(sub: dict) -> float | None:
    """When intake recorded the submission's final step (epoch seconds)."""
    times = [datetime.fromisoformat(t["at"]).timestamp() for t in sub["timeline"] if t["step"] in FINAL_STEPS]
    return min(times) if times else None


def single_final_state(sub: dict) -> str | None:
    """None when the submission has exactly one final state; else what is wrong. One decision
    (accepted or rejected), and at most one return, only of what was accepted (clause 9)."""
    if not sub["final"]:
        return f"not final ({sub['status']})"
    steps = [t["step"] for t in sub["timeline"]]
    decisions = [s for s in steps if s in ("accepted", "rejected")]
    returns = steps.count("returned")
    if len(decisions) != 1 or returns > 1 or (returns and decisions != ["accepted"]):
        return f"{len(decisions) + returns} terminal steps {[s for s in steps if s in FINAL_STEPS]}"
    return None


def repeated_steps(sub: dict) -> list[str]:
    """The steps of ONCE_STEPS the submission's timeline holds more than once."""
    counts = Counter(t["step"] for t in sub["timeline"])
    return [step for step in ONCE_STEPS if counts[step] > 1]
