"""People's IINs and names never reach the logs or the traces (issue 7): after a small campaign on
the running stack (sign-ins, accepted and refused submissions, a head mismatch whose message
names two IINs, a refused sign-in), every log line and every exported span is searched for the
IINs and names of the people who took part."""

from __future__ import annotations

import json

import pytest

from uise_common.pki.oids import EKU_LEGAL_ENTITY
from uise_registry.demo import DEMO_FORM, HEADS, SCHOOLS
from uise_registry.identifiers import make_valid
from uise_stack.client import Signer, sign_in, submit, wait_final
from uise_stack.demo import figures, head_signer

pytestmark = pytest.mark.e2e
SCHOOL1, SCHOOL2 = list(SCHOOLS)
IMPOSTOR = make_valid("77121230006")  # signs for school 2 with a first-head certificate, but is not its head


def test_a_campaign_leaves_no_iin_and_no_name_in_logs_or_traces(stack, ca, intake):
    accepted = submit(intake, SCHOOL1, DEMO_FORM.code, "2026", json.dumps(figures(70, 71)).encode(),
                      head_signer(ca, SCHOOL1))
    key, cert = ca.issue(iin=IMPOSTOR, name="Самозванец Иван", bin_=SCHOOL2)
    mismatch = submit(intake, SCHOOL2, DEMO_FORM.code, "2026", json.dumps(figures(1, 2)).encode(), Signer(key, cert))
    assert accepted.status_code == mismatch.status_code == 202
    assert wait_final(intake, accepted.json()["submission_id"])["status"] == "accepted"
    refused = wait_final(intake, mismatch.json()["submission_id"])
    assert refused["reason_code"] == "HEAD_MISMATCH"  # its message names both IINs: in the timeline, not the logs
    stranger_key, stranger_cert = ca.issue(iin=IMPOSTOR, name="Самозванец Иван", bin_=SCHOOL2, eku=(EKU_LEGAL_ENTITY,))
    assert sign_in(Signer(stranger_key, stranger_cert)).json()["error"]["code"] == "NO_ROLE"

    people = {*HEADS.values(), IMPOSTOR}
    names = {"Самозванец", f"Head of {SCHOOL1}", "Директор 1", "Басшы"}
    files = [*stack.config.log_dir.glob("*.log"), *(stack.config.base_dir / "traces").glob("*.jsonl")]
    assert any(f.suffix == ".jsonl" for f in files) and any(f.suffix == ".log" for f in files)
    found = []
    for f in files:
        text = f.read_text(errors="replace")
        found += [f"{f.name}: IIN {iin}" for iin in people if iin in text]
        found += [f"{f.name}: name {name}" for name in names if name in text]
    assert not found, "personal data in logs or traces:\n" + "\n".join(found)
    traces = "".join(f.read_text(errors="replace") for f in files if f.suffix == ".jsonl")
    assert accepted.json()["submission_id"] in traces  # masking took the people out, not the story
