"""Replicas on the embedded stack (`uise-stack up --replicas intake=2,signature=2`): a submission
through either intake replica reaches its final state, and the two signature processes share the
work, the broker having given each some of the partitions of their consumer group."""

from __future__ import annotations

import json
from datetime import date

import pytest
from aiokafka.partitioner import murmur2

from uise_common.pki.cms import sign
from uise_common.telemetry import SUBMISSION_ATTR
from uise_contracts.events import SubmissionReceived
from uise_contracts.topics import topic_for
from uise_stack import client
from uise_stack.campaign import Campaign, campaign_form, school_figures, small_hierarchy
from uise_stack.config import StackConfig
from uise_stack.stack import Stack
from uise_stack.traces import load_spans

pytestmark = pytest.mark.e2e
RECEIVED = topic_for(SubmissionReceived)


def partition_of(participant_id: str) -> int:
    """Where the producer's default partitioner puts a participant's events (the key)."""
    return (murmur2(participant_id.encode()) & 0x7FFFFFFF) % RECEIVED.partitions


@pytest.fixture(scope="module")
def replicated(tmp_path_factory):
    config = StackConfig.ephemeral(tmp_path_factory.mktemp("replicas"), database_url=None, redis_url=None,
                                   replicas={"intake": 2, "signature": 2})
    stack = Stack(config)
    with client.another_stack():
        stack.start()
        try:
            yield stack
        finally:
            stack.stop()
    assert not [name for name, proc in stack.procs.items() if proc.alive()]


def test_stack_json_status_and_processes_name_every_replica(replicated):
    state = json.loads((replicated.config.base_dir / "stack.json").read_text())
    assert len(state["replicas"]["intake"]) == 2 and len(set(state["replicas"]["intake"])) == 2
    assert len(state["replicas"]["signature"]) == 2
    assert state["replicas"]["validation"] == [state["services"]["validation"]]
    assert {"intake", "intake-2", "signature", "signature-2"} <= set(state["processes"])
    assert replicated.urls("intake") == state["replicas"]["intake"]
    for name in ("intake-2", "signature-2"):  # each its own log and trace file
        assert (replicated.config.log_dir / f"{name}.log").exists()
        assert (replicated.config.base_dir / "traces" / f"{name}.jsonl").exists()


def test_either_intake_replica_takes_a_submission_to_its_final_state_and_both_signatures_work(replicated):
    year = date.today().year
    hierarchy = small_hierarchy(regions=1, districts=1, schools=12, series=43)
    campaign = Campaign(replicated.config, replicated.prepare_pki(), hierarchy, form=campaign_form("RPL-1"),
                        year=year, log=lambda _line: None)
    campaign.seed()  # the client talks to this stack (the fixture set it aside for the module)
    # one school for each partition of submission.received, and one more: whichever partitions
    # each signature replica holds, it gets work
    schools = [u.participant_id for u in hierarchy.at("organization")]
    chosen = [next(s for s in schools if partition_of(s) == p) for p in range(RECEIVED.partitions)]
    chosen.append(next(s for s in schools if s not in chosen))
    urls = replicated.urls("intake")
    via: dict[str, str] = {}  # submission → the intake replica that took it
    for n, school in enumerate(chosen):
        document = json.dumps(school_figures(n)).encode()
        signer = campaign.signers[school]
        resp = client.submit(urls[n % 2], school, "RPL-1", str(year), document, signer,
                             signature=sign(document, signer.key, signer.cert))
        assert resp.status_code == 202, resp.text
        via[resp.json()["submission_id"]] = urls[n % 2]
    for n, submission_id in enumerate(via):
        # read back half through the replica that took it, half through the other one
        final = client.wait_final(urls[(n // 2) % 2], submission_id, timeout=120)
        assert final["status"] == "accepted", final

    spans = load_spans(replicated.config.base_dir / "traces")
    ours = [s for s in spans if s["attributes"].get(SUBMISSION_ATTR) in via]
    took = {s["instance"] for s in ours if s["name"] == "POST /v1/submissions"}
    assert took == {"intake", "intake-2"}
    checked = {s["instance"] for s in ours if s["name"] == f"{RECEIVED.name} process" and s["service"] == "signature"}
    assert checked == {"signature", "signature-2"}
