from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from uise_contracts import TOPICS, make_envelope, topic_for
from uise_contracts import events as e
from uise_contracts.envelope import Envelope
from uise_contracts.generate import build_asyncapi, drift


def test_committed_asyncapi_and_schemas_match_the_models():
    stale = drift()
    assert not stale, f"run `make contracts` and commit: {stale}"


def test_topic_names_follow_the_convention_and_are_unique():
    names = [t.name for t in TOPICS]
    assert len(names) == len(set(names))
    for t in TOPICS:
        assert t.name.startswith("uise.") and t.name.endswith(f".v{t.version}")
        assert t.partitions >= 1
        assert t.key in t.model.model_fields, f"{t.name} key {t.key} is not a field"


def test_every_model_has_exactly_one_topic():
    assert len({t.model for t in TOPICS}) == len(TOPICS)
    assert topic_for(e.SubmissionReceived).name == "uise.submission.received.v1"


def test_asyncapi_lists_every_topic_with_partitions():
    doc = build_asyncapi()
    assert set(doc["channels"]) == {t.name for t in TOPICS}
    assert doc["channels"]["uise.formlist.approved.v1"]["bindings"]["kafka"]["topicConfiguration"] == {
        "cleanup.policy": ["compact"]
    }


def test_envelope_round_trips_through_headers():
    env = make_envelope("kz.edu.uise.x.v1", "urn:uise:intake", "sub-1")
    back = Envelope.from_headers(env.headers())
    assert back == env
    with pytest.raises(KeyError):
        Envelope.from_headers({"ce_type": "x"})


def test_consumers_ignore_fields_added_by_a_newer_producer():
    body = {
        "submission_id": "s", "participant_id": "p", "form_code": "F", "period": "2026",
        "delivered_at": datetime.now(UTC).isoformat(), "deadline_at": None, "on_time": None,
        "added_later": 1,
    }
    assert e.TimelinessRecorded.model_validate(body).submission_id == "s"


def test_bad_bin_is_refused():
    with pytest.raises(ValidationError):
        e.ParticipantUpserted(participant_id="x", bin="12", level="region", kind="region",
                              parent_id=None, name_kk="a", name_ru="a")


def test_every_topic_has_an_example_that_round_trips():
    from uise_contracts.examples import EXAMPLES

    assert set(EXAMPLES) == {t.model for t in TOPICS}
    for model, example in EXAMPLES.items():
        again = model.model_validate_json(example.model_dump_json())
        assert again == example
        assert str(getattr(example, topic_for(model).key))  # the key field is set


def test_a_claimed_event_round_trips_and_claims_only_fields_it_has_with_empty_defaults():
    from uise_contracts.examples import CLAIMED_EXAMPLE

    assert e.SubmissionAccepted.model_validate_json(CLAIMED_EXAMPLE.model_dump_json()) == CLAIMED_EXAMPLE
    assert CLAIMED_EXAMPLE.values == {} and CLAIMED_EXAMPLE.claim.key.startswith("claims/")
    claimable = [t.model for t in TOPICS if issubclass(t.model, e.Claimable)]
    assert {m.__name__ for m in claimable} == {"SubmissionValidated", "SubmissionQueried", "SubmissionAccepted"}
    for model in claimable:
        for name in model.CLAIMED:
            assert not model.model_fields[name].is_required(), f"{model.__name__}.{name} needs a default"
    # routing passes submission.validated's claim on as submission.accepted's
    assert e.SubmissionAccepted.CLAIMED == e.SubmissionValidated.CLAIMED


def test_docs_list_every_topic_as_the_table_declares_it():
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "contracts.md").read_text()
    for t in TOPICS:
        row = (f"| `{t.name}` | `{t.key}` | {t.partitions} | {t.cleanup} | {', '.join(t.producers)} | "
               f"{', '.join(t.consumers)} | {t.description} |")
        assert row in doc, f"docs/contracts.md is out of step with topics.py for {t.name}"


def test_every_service_consuming_submission_events_may_announce_a_processing_failure():
    """The consumer policy publishes submission.processing-failed when it dead-letters an event
    of a submission topic, from whichever service consumed it: each such service is a producer
    (its Kafka ACLs are generated from this table), and every such event names its submission."""
    failed = topic_for(e.SubmissionProcessingFailed)
    about_submissions = {c for t in TOPICS if t.entity == "submission" and t is not failed
                         for c in t.consumers} - {"external", "audit"}
    assert set(failed.producers) == about_submissions
    for t in TOPICS:
        if t.entity == "submission":
            assert {"submission_id", "participant_id"} <= set(t.model.model_fields), t.name
    assert failed.consumers == ("intake",)
