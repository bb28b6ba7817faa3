"""Intake's issue-4 paths on the real stack: API keys and who may read what, an idempotent
retry, a correction chain of three versions, a paper registration by the recipient, and load
shedding with 429 under a burst."""

from __future__ import annotations

import hashlib
import json
import socket
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import httpx
import pytest
from minio import Minio

from uise_common.pki.cms import sign
from uise_common.settings import Settings
from uise_registry.demo import DEMO_FORM, DISTRICT, REGION, SCHOOLS
from uise_stack.client import (
    bearer,
    get_submission,
    key_for,
    list_submissions,
    register_paper,
    submit,
    wait_final,
    wait_for_steps,
)
from uise_stack.config import DOCUMENT_BUCKET
from uise_stack.demo import figures, head_signer

pytestmark = pytest.mark.e2e
SCHOOL1, SCHOOL2 = list(SCHOOLS)
ALMATY = ZoneInfo("Asia/Almaty")
SCAN = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def test_an_idempotent_retry_returns_the_first_receipt_and_creates_nothing(ca, intake):
    key = f"e2e-{uuid.uuid4()}"
    doc = json.dumps(figures(120, 130)).encode()
    first = submit(intake, SCHOOL1, DEMO_FORM.code, "2026", doc, head_signer(ca, SCHOOL1), idempotency_key=key)
    assert first.status_code == 202, first.text
    # the retry signs again (a new signing time): the same document is the same submission
    again = submit(intake, SCHOOL1, DEMO_FORM.code, "2026", doc, head_signer(ca, SCHOOL1), idempotency_key=key)
    assert (again.status_code, again.json()) == (202, first.json())
    assert again.headers["Idempotent-Replayed"] == "true"
    mine = list_submissions(intake, key_for(intake, SCHOOL1), form_code=DEMO_FORM.code, limit=500)["items"]
    assert [i["submission_id"] for i in mine].count(first.json()["submission_id"]) == 1
    assert not any(i["supersedes"] == first.json()["submission_id"] for i in mine)  # no second version
    other = submit(intake, SCHOOL1, DEMO_FORM.code, "2026", json.dumps(figures(1, 2)).encode(),
                   head_signer(ca, SCHOOL1), idempotency_key=key)
    assert (other.status_code, other.json()["error"]["code"]) == (422, "IDEMPOTENCY_KEY_REUSED")
    assert wait_final(intake, first.json()["submission_id"])["status"] == "accepted"


def mon_q(enrolled: int) -> bytes:
    values = {}
    for group in ("g01_04", "g05_09", "g10_11"):
        values |= {f"att.{group}.enrolled": enrolled, f"att.{group}.attendance": 95.5,
                   f"att.{group}.meals": enrolled // 2}
    return json.dumps(values).encode()


def test_three_versions_form_a_chain_read_back_in_order_and_none_is_overwritten(stack, ca, intake):
    ids = []
    for n in (300, 301, 302):
        resp = submit(intake, SCHOOL2, "MON-Q", "2026-Q3", mon_q(n), head_signer(ca, SCHOOL2))
        assert resp.status_code == 202, resp.text
        assert resp.json()["supersedes"] == (ids[-1] if ids else None)
        ids.append(resp.json()["submission_id"])
    finals = [wait_final(intake, sid) for sid in ids]
    assert all(len([t for t in f["timeline"] if t["step"] in ("accepted", "rejected")]) == 1 for f in finals)
    for n, body in enumerate(finals):
        assert [c["submission_id"] for c in body["chain"]] == ids
        assert body["supersedes"] == (ids[n - 1] if n else None)
        assert body["superseded_by"] == (ids[n + 1] if n < 2 else None)
    # the district reads the same chain; each version's bytes are still in storage, untouched
    district = get_submission(intake, ids[0], key_for(intake, DISTRICT)).json()
    assert [c["submission_id"] for c in district["chain"]] == ids
    keys = stack.config.s3_principals["services"]
    s3 = Minio(stack.config.s3_endpoint, access_key=keys.access_key, secret_key=keys.secret_key, secure=False)
    for n, body in zip((300, 301, 302), finals, strict=True):
        stored = s3.get_object(DOCUMENT_BUCKET, body["document_key"]).read()
        assert stored == mon_q(n) and hashlib.sha256(stored).hexdigest() == body["document_sha256"]


def test_the_district_registers_a_paper_submission_for_its_school(ca, intake):
    today = datetime.now(ALMATY).date()
    doc = json.dumps(figures(205, 210)).encode()
    resp = register_paper(intake, DISTRICT, SCHOOL1, DEMO_FORM.code, "2026", doc, SCAN, today, user="e2e-registrar")
    assert resp.status_code == 202, resp.text
    receipt = resp.json()
    assert receipt["channel"] == "paper" and receipt["registered_by"] == f"{DISTRICT}/e2e-registrar"
    assert receipt["delivered_at"] == f"{today.isoformat()}T00:00:00+05:00"
    from uise_intake.receipts import verify_receipt

    assert verify_receipt(receipt, httpx.get(f"{intake}/v1/receipts/public-key").json()["pem"])
    # the school reads what its district registered for it, and it goes the whole way
    final = wait_for_steps(intake, receipt["submission_id"], {"signature_checked", "accepted"},
                           token=key_for(intake, SCHOOL1))  # outcomes arrive on separate topics
    assert final["status"] == "accepted", final["timeline"]
    steps = [t["step"] for t in final["timeline"]]
    assert steps[:2] == ["received", "registered_on_paper"] and "signature_checked" in steps
    # a school cannot register for its sibling, nor a region for a school that is not its child
    for who in (SCHOOL2, REGION):
        refused = register_paper(intake, who, SCHOOL1, DEMO_FORM.code, "2026", doc, SCAN, today, wait_reference=0)
        assert (refused.status_code, refused.json()["error"]["code"]) == (403, "NOT_RECIPIENT")
    not_pdf = register_paper(intake, DISTRICT, SCHOOL1, DEMO_FORM.code, "2026", doc, b"\x89PNG\r\n\x1a\n", today)
    assert (not_pdf.status_code, not_pdf.json()["error"]["code"]) == (422, "SCAN_NOT_PDF")


def test_a_submission_is_read_by_its_submitter_and_recipient_only(ca, intake):
    resp = submit(intake, SCHOOL1, DEMO_FORM.code, "2026", json.dumps(figures(50, 50)).encode(),
                  head_signer(ca, SCHOOL1))
    sid = resp.json()["submission_id"]
    for who, status in ((SCHOOL1, 200), (DISTRICT, 200), (SCHOOL2, 404), (REGION, 404)):
        got = get_submission(intake, sid, key_for(intake, who))
        assert got.status_code == status, (who, got.text)
    assert get_submission(intake, sid, "uise_nobody").status_code == 401
    district = list_submissions(intake, key_for(intake, DISTRICT), limit=500)["items"]
    assert {SCHOOL1, SCHOOL2} <= {i["participant_id"] for i in district}
    school2 = list_submissions(intake, key_for(intake, SCHOOL2), limit=500)["items"]
    assert {i["participant_id"] for i in school2} <= {SCHOOL2}
    assert list_submissions(intake, key_for(intake, REGION))["items"] == []  # schools are not its children
    accepted = list_submissions(intake, key_for(intake, DISTRICT), status="accepted", participant_id=SCHOOL1)
    assert all(i["status"] == "accepted" and i["participant_id"] == SCHOOL1 for i in accepted["items"])


def _hold(intake: str, token: str) -> socket.socket:
    """An upload that sends its headers and a little of its body, then stalls: it holds a slot."""
    url = urlsplit(intake)
    sock = socket.create_connection((url.hostname, url.port), timeout=10)
    head = (f"POST /v1/submissions HTTP/1.1\r\nHost: {url.netloc}\r\nAuthorization: Bearer {token}\r\n"
            "Content-Type: multipart/form-data; boundary=x\r\nContent-Length: 100000\r\n\r\n--x\r\n")
    sock.sendall(head.encode())
    return sock


def test_a_burst_beyond_the_in_flight_limit_gets_429s_and_no_500(ca, intake):
    limit = Settings().intake_max_in_flight
    token = key_for(intake, SCHOOL1)
    signer = head_signer(ca, SCHOOL1)
    doc = json.dumps(figures(10, 10)).encode()
    files = {"document": ("r.json", doc), "signature": ("r.p7s", sign(doc, signer.key, signer.cert))}

    def post_once(_n: int) -> httpx.Response:
        # refused after its slot is taken (no such form), so the burst leaves nothing in the pipeline
        return httpx.post(f"{intake}/v1/submissions", data={"form_code": "NOPE-1", "period": "2026"},
                          files=files, headers=bearer(token), timeout=30)

    holders = [_hold(intake, token) for _ in range(limit)]
    try:
        time.sleep(1.0)  # every stalled upload has reached intake and holds its slot
        started = time.monotonic()
        with ThreadPoolExecutor(16) as pool:
            burst = list(pool.map(post_once, range(16)))
        assert time.monotonic() - started < 10  # shed at once, not queued
        statuses = [r.status_code for r in burst]
        assert 500 not in statuses and statuses.count(429) >= 1, statuses
        shed = next(r for r in burst if r.status_code == 429)
        assert shed.json()["error"]["code"] == "OVERLOADED" and int(shed.headers["Retry-After"]) >= 1
    finally:
        for sock in holders:
            sock.close()
    # the slots come back; a plain burst at twice the limit is answered or shed, never failed
    time.sleep(1.0)
    with ThreadPoolExecutor(2 * limit) as pool:
        statuses = [r.status_code for r in pool.map(post_once, range(2 * limit))]
    assert set(statuses) <= {422, 429}, statuses
    assert 422 in statuses
    served = submit(intake, SCHOOL1, DEMO_FORM.code, "2026", doc, signer)
    assert served.status_code == 202, served.text
