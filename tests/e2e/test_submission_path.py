"""A submission through all the path's services on the real embedded stack; failures on the way."""

from __future__ import annotations

import json
import sqlite3
import threading
import time

import httpx
import pytest

from uise_common.pki.oids import EKU_LEGAL_ENTITY, EKU_RIGHT_TO_SIGN
from uise_registry.demo import DEMO_FORM, DISTRICT, SCHOOLS
from uise_stack.client import (
    Signer,
    bearer,
    client_token,
    new_client,
    submit,
    token_for,
    wait_final,
    wait_for_steps,
)
from uise_stack.demo import figures, head_signer
from uise_stack.traces import load_spans, traces_of_submission

pytestmark = pytest.mark.e2e
SCHOOL1, SCHOOL2 = list(SCHOOLS)
PATH_SERVICES = {"intake", "signature", "deadline", "validation", "routing", "reporting"}
FINAL_STEPS = {"accepted", "rejected"}


def post(intake, ca, school, values, **kw):
    resp = submit(intake, school, DEMO_FORM.code, "2026", json.dumps(values).encode(), head_signer(ca, school), **kw)
    assert resp.status_code == 202, resp.text
    return resp.json()


def test_accepted_with_every_service_on_its_timeline_and_one_trace(stack, ca, intake):
    receipt = post(intake, ca, SCHOOL1, figures(300, 310))
    assert receipt["recipient_id"] == DISTRICT
    assert receipt["delivered_at"].endswith("+05:00")  # clause 10: Asia/Almaty
    key = httpx.get(f"{intake}/v1/receipts/public-key").json()
    from uise_intake.receipts import verify_receipt

    assert verify_receipt(receipt, key["pem"])
    assert not verify_receipt({**receipt, "period": "2025"}, key["pem"])

    sid = receipt["submission_id"]
    body = wait_for_steps(intake, sid, {"received", "signature_checked", "timeliness_recorded", "validated",
                                  "accepted", "aggregated"})
    assert body["status"] == "accepted" and body["final"]
    assert body["delivered_at"] == receipt["delivered_at"]
    assert {t["service"] for t in body["timeline"]} == PATH_SERVICES
    signer = next(t for t in body["timeline"] if t["step"] == "signature_checked")["detail"]["signer"]
    assert signer["bin"] == SCHOOL1 and signer["iin"] == SCHOOLS[SCHOOL1]

    spans = load_spans(stack.config.base_dir / "traces")
    trace_ids = traces_of_submission(spans, sid)
    assert len(trace_ids) == 1, f"spans of {sid} are spread over {trace_ids}"
    trace_id = trace_ids.pop()
    services = {s["service"] for s in spans if s["trace_id"] == trace_id}
    assert services >= PATH_SERVICES


def test_refusals_end_rejected_with_their_reason(ca, intake):
    bad_sums = post(intake, ca, SCHOOL2, figures(5, 5, total=11))
    deputy_key, deputy_cert = ca.issue(iin="850505400033", name="Deputy", bin_=SCHOOL2,
                                       eku=(EKU_LEGAL_ENTITY, EKU_RIGHT_TO_SIGN))
    deputy = submit(intake, SCHOOL2, DEMO_FORM.code, "2026", json.dumps(figures(1, 1)).encode(),
                    Signer(deputy_key, deputy_cert))
    other_school = submit(intake, SCHOOL2, DEMO_FORM.code, "2026", json.dumps(figures(1, 1)).encode(),
                          head_signer(ca, SCHOOL1))
    validated = wait_for_steps(intake, bad_sums["submission_id"], {"validated", "rejected"})
    assert (validated["status"], validated["reason_code"]) == ("rejected", "VALIDATION_FAILED")
    findings = next(t for t in validated["timeline"] if t["step"] == "validated")["detail"]["findings"]
    assert [f["rule"] for f in findings] == ["R1"]
    assert wait_final(intake, deputy.json()["submission_id"])["reason_code"] == "NOT_FIRST_HEAD"
    assert wait_final(intake, other_school.json()["submission_id"])["reason_code"] == "WRONG_ORGANIZATION"


def test_a_2_mb_text_field_is_rejected_with_its_reason_and_no_outbox_stops(stack, ca, intake):
    """Issue 14: a signed JSON document whose text field holds 2 MB made a 2,000,212-byte
    submission.validated that the broker refused, and validation's outbox retried it forever.
    Now the cell is refused (TEXT_TOO_LONG, shown cut short), the submission ends rejected, the
    submissions behind it are accepted, and no service set an outbox row aside."""
    hostile = post(intake, ca, SCHOOL2, {**figures(300, 310), "comment": "ж" * 1_000_000})
    after = post(intake, ca, SCHOOL1, figures(301, 309))
    body = wait_final(intake, hostile["submission_id"], timeout=180)
    assert (body["status"], body["reason_code"]) == ("rejected", "VALIDATION_FAILED")
    findings = next(t for t in body["timeline"] if t["step"] == "validated")["detail"]["findings"]
    [too_long] = [f for f in findings if f["rule"] == "TEXT_TOO_LONG"]
    assert too_long["field"] == "comment" and len(too_long["observed"]["comment"]) < 100
    assert wait_final(intake, after["submission_id"], timeout=180)["status"] == "accepted"
    for service in PATH_SERVICES | {"registry"}:
        scraped = httpx.get(f"{stack.config.url(service)}/metrics").text
        assert f'uise_outbox_set_aside{{service="{service}"}} 0.0' in scraped, service


def test_edge_refusals_are_specific_and_never_500(intake, ca):
    signer = head_signer(ca, SCHOOL1)
    # a machine client for a participant the registry lacks
    made = new_client("system", "unregistered", "999999999990", ["submissions:write"])
    stranger = client_token(made["client_id"], made["client_secret"]).json()["access_token"]
    cases = [
        (bearer(stranger), b'{"a": 1}', 403, "UNKNOWN_PARTICIPANT"),
        (bearer(token_for(SCHOOL1)), b"\x00\x01binary", 415, "DOCUMENT_TYPE_UNSUPPORTED"),
        ({}, b'{"a": 1}', 401, "UNAUTHENTICATED"),
        ({"X-Participant-Id": SCHOOL1}, b'{"a": 1}', 401, "UNAUTHENTICATED"),  # no header is believed
        (bearer("uise_forged"), b'{"a": 1}', 401, "TOKEN_INVALID"),
    ]
    for headers, doc, status, code in cases:
        from uise_common.pki.cms import sign

        resp = httpx.post(f"{intake}/v1/submissions", data={"form_code": "SCH-1", "period": "2026"},
                          files={"document": ("d", doc), "signature": ("s.p7s", sign(doc, signer.key, signer.cert))},
                          headers=headers)
        assert (resp.status_code, resp.json()["error"]["code"]) == (status, code)
        assert set(resp.json()["error"]["message"]) == {"kk", "ru", "en"}
    missing = httpx.post(f"{intake}/v1/submissions", data={"form_code": "SCH-1", "period": "last year"},
                         files={"document": ("d", b"{}")}, headers=bearer(token_for(SCHOOL1)))
    assert (missing.status_code, missing.json()["error"]["code"]) == (422, "REQUEST_INVALID")
    assert {f["field"] for f in missing.json()["error"]["fields"]} == {"signature"}
    unknown_form = submit(intake, SCHOOL1, "NOPE-9", "2026", b'{"a": 1}', signer, wait_reference=0)
    assert (unknown_form.status_code, unknown_form.json()["error"]["code"]) == (422, "UNKNOWN_FORM")


def test_a_service_killed_mid_batch_loses_nothing_and_decides_once(stack, ca, intake):
    ids: list[str] = []
    errors: list[str] = []

    def send_batch():
        for n in range(12):
            school = SCHOOL1 if n % 2 else SCHOOL2
            values = figures(100 + n, 100, total=None if n % 3 else 1)  # every third one is wrong
            try:
                ids.append(post(intake, ca, school, values)["submission_id"])
            except AssertionError as exc:
                errors.append(str(exc))
            time.sleep(0.15)

    sender = threading.Thread(target=send_batch)
    sender.start()
    while len(ids) < 4:
        time.sleep(0.05)
    stack.kill_service("routing")  # SIGKILL: no shutdown, no flush, no commit
    time.sleep(2)
    sender.join()
    stack.start_service("routing")
    assert not errors and len(ids) == 12
    for sid in ids:
        body = wait_final(intake, sid, timeout=120)
        finals = [t for t in body["timeline"] if t["step"] in FINAL_STEPS]
        assert len(finals) == 1, f"{sid}: {finals}"
    decisions = sqlite3.connect(stack.config.base_dir / "routing.db").execute(
        f"SELECT submission_id, outcome FROM routing_decision WHERE submission_id IN ({','.join('?' * len(ids))})",
        ids).fetchall()
    assert sorted(s for s, _ in decisions) == sorted(ids)  # one decision row each, none twice
    assert [o for s, o in sorted(decisions, key=lambda d: ids.index(d[0]))] == [
        "rejected" if n % 3 == 0 else "accepted" for n in range(12)]


def test_kafka_down_means_503_and_no_receipt_then_recovery(stack, ca, intake):
    db = stack.config.base_dir / "intake.db"
    before = sqlite3.connect(db).execute("SELECT count(*) FROM intake_submission").fetchone()[0]
    stack.procs["kafka"].kill()
    stack.procs["kafka"].popen.wait(10)
    time.sleep(2)  # let the cached health answer expire
    signer = head_signer(ca, SCHOOL1)
    resp = submit(intake, SCHOOL1, DEMO_FORM.code, "2026", json.dumps(figures(7, 7)).encode(), signer)
    assert resp.status_code == 503, resp.text
    assert resp.json()["error"]["code"] == "KAFKA_UNAVAILABLE"
    assert int(resp.headers["Retry-After"]) > 0
    assert "submission_id" not in resp.json()
    assert sqlite3.connect(db).execute("SELECT count(*) FROM intake_submission").fetchone()[0] == before

    stack.start_kafka()  # tansu keeps its log on S3: topics and offsets survive
    deadline = time.monotonic() + 60
    while True:
        resp = submit(intake, SCHOOL1, DEMO_FORM.code, "2026", json.dumps(figures(7, 7)).encode(), signer)
        if resp.status_code == 202 or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert resp.status_code == 202, resp.text
    assert wait_final(intake, resp.json()["submission_id"], timeout=180)["status"] == "accepted"


def test_a_certificate_revoked_by_the_test_ca_is_refused_once_its_crl_is_published(stack, ca, intake):
    from uise_stack.client import Signer

    key, cert = ca.issue(iin=SCHOOLS[SCHOOL2], name="Head of school 2", bin_=SCHOOL2)
    signer = Signer(key, cert)

    def send() -> dict:
        resp = submit(intake, SCHOOL2, DEMO_FORM.code, "2026", json.dumps(figures(40, 41)).encode(), signer)
        assert resp.status_code == 202, resp.text
        return wait_final(intake, resp.json()["submission_id"])

    assert send()["status"] == "accepted"
    ca.revoke(cert)
    ca.publish_crl(stack.config.trust_dir)
    refused = send()
    assert (refused["status"], refused["reason_code"]) == ("rejected", "CERT_REVOKED")
