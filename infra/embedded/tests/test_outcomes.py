"""What the bench and the fault suite count as one final state, and as a step recorded twice
(uise_stack.outcomes), on timelines as intake serves them."""

from __future__ import annotations

from uise_stack.outcomes import repeated_steps, single_final_state


def sub(*steps: str, final: bool = True, status: str = "accepted") -> dict:
    return {"final": final, "status": status,
            "timeline": [{"step": s, "at": f"2026-12-01T10:00:0{n}+05:00"} for n, s in enumerate(steps)]}


WAY = ("received", "signature_checked", "validated")


def test_one_decision_is_one_final_state():
    assert single_final_state(sub(*WAY, "accepted", "timeliness_recorded", "aggregated")) is None
    assert single_final_state(sub(*WAY, "rejected", status="rejected")) is None
    assert single_final_state(sub("received", "rejected", status="rejected")) is None  # refused at signature


def test_a_return_of_what_was_accepted_is_still_one_final_state():
    assert single_final_state(sub(*WAY, "accepted", "returned", status="returned")) is None


def test_two_decisions_or_a_second_return_are_not():
    assert single_final_state(sub(*WAY, "accepted", "accepted")) == "2 terminal steps ['accepted', 'accepted']"
    assert single_final_state(sub(*WAY, "accepted", "rejected")) is not None
    assert single_final_state(sub(*WAY, "rejected", "returned", status="returned")) is not None
    assert single_final_state(sub(*WAY, "accepted", "returned", "returned", status="returned")) is not None


def test_not_final_is_said_so():
    assert single_final_state(sub(*WAY, final=False, status="validated")) == "not final (validated)"


def test_a_step_announced_twice_is_repeated():
    assert repeated_steps(sub(*WAY, "accepted", "timeliness_recorded", "aggregated")) == []
    assert repeated_steps(sub("received", "signature_checked", "signature_checked", "validated", "accepted",
                              "aggregated", "aggregated")) == ["signature_checked", "aggregated"]
    # steps that may come more than once (a correction asked for again, explanations) are not judged
    assert repeated_steps(sub(*WAY, "accepted", "correction_needed", "correction_needed")) == []
