"""Intake's paths on the real stack: who may read what (with identity's tokens), an idempotent
retry, a correction chain of three versions, documents read through the API, a paper
registration by the recipient, and load shedding with 429 under a burst."""

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

from uise_common.pki.cms import sign
from uise_common.settings import Settings
from uise_registry.demo import DEMO_FORM, DISTRICT, REGION, SCHOOLS
from uise_registry.identifiers import make_valid
from uise_stack.client import (
    bearer,
    client_token,
    data_office_token,
    get_submission,
    list_submissions,
    new_client,
    register_paper,
    submit,
    token_for,
    wait_final,
    wait_for_steps,
)
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
    # a retry resends the very bytes: the first receipt, nothing new
    signature = sign(doc, *_key_and_cert(head_signer(ca, SCHOOL1)))
    first_again = submit(intake, SCHOOL1, DEMO_FORM.code, "2026", doc, head_signer(ca, SCHOOL1),
                         idempotency_key=f"{key}-bytes", signature=signature)
    again = submit(intake, SCHOOL1, DEMO_FORM.code, "2026", doc, head_signer(ca, SCHOOL1),
                   idempotency_key=f"{key}-bytes", signature=signature)
    assert (again.status_code, again.json()) == (202, first_again.json())
    assert again.headers["Idempotent-Replayed"] == "true"
    # a new signature over the same document is a new submission, not a retry of the first
    resigned = submit(intake, SCHOOL1, DEMO_FORM.code, "2026", doc, head_signer(ca, SCHOOL1), idempotency_key=key)
    assert (resigned.status_code, resigned.json()["error"]["code"]) == (422, "IDEMPOTENCY_KEY_REUSED")
    mine = list_submissions(intake, token_for(SCHOOL1), form_code=DEMO_FORM.code, limit=500)["items"]
    replayed = first_again.json()["submission_id"]
    assert [i["submission_id"] for i in mine].count(replayed) == 1
    assert not any(i["supersedes"] == replayed for i in mine)  # the replay made no second version
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
    # the district reads the same chain; each version's bytes are still stored, untouched, and
    # come out through the API (as a file, or by a short-lived link), each read on record
    district = get_submission(intake, ids[0], token_for(DISTRICT)).json()
    assert [c["submission_id"] for c in district["chain"]] == ids
    reader = bearer(token_for(DISTRICT))
    for n, body in zip((300, 301, 302), finals, strict=True):
        stored = httpx.get(f"{intake}/v1/submissions/{body['submission_id']}/document", headers=reader).content
        assert stored == mon_q(n) and hashlib.sha256(stored).hexdigest() == body["document_sha256"]
    link = httpx.get(f"{intake}/v1/submissions/{ids[0]}/document", params={"as": "link"}, headers=reader).json()
    assert httpx.get(link["url"]).content == mon_q(300)
    reads = httpx.get(f"{intake}/v1/submissions/{ids[0]}/reads", headers=bearer(token_for(SCHOOL2))).json()
    assert [(r["part"], r["how"]) for r in reads] == [("document", "file"), ("document", "link")]
    assert all(r["reader"].endswith(f"@{DISTRICT}/head") for r in reads)


def test_the_district_registers_a_paper_submission_for_its_school(ca, intake, paper_school):
    today = datetime.now(ALMATY).date()
    doc = json.dumps(figures(205, 210)).encode()
    school3 = paper_school
    resp = register_paper(intake, DISTRICT, school3, DEMO_FORM.code, "2026", doc, SCAN, today)
    assert resp.status_code == 202, resp.text
    receipt = resp.json()
    assert receipt["channel"] == "paper" and receipt["registered_by"].endswith(f"@{DISTRICT}/head")
    assert receipt["delivered_at"] == f"{today.isoformat()}T00:00:00+05:00"
    from uise_intake.receipts import verify_receipt

    assert verify_receipt(receipt, httpx.get(f"{intake}/v1/receipts/public-key").json()["pem"])
    # the district follows what it registered the whole way
    final = wait_for_steps(intake, receipt["submission_id"], {"signature_checked", "accepted"},
                           token=token_for(DISTRICT))  # outcomes arrive on separate topics
    assert final["status"] == "accepted", final["timeline"]
    steps = [t["step"] for t in final["timeline"]]
    assert steps[:2] == ["received", "registered_on_paper"] and "signature_checked" in steps
    # a school cannot register for its sibling, nor a region for a school that is not its child
    for who in (SCHOOL2, REGION):
        refused = register_paper(intake, who, school3, DEMO_FORM.code, "2026", doc, SCAN, today, wait_reference=0)
        assert (refused.status_code, refused.json()["error"]["code"]) == (403, "NOT_RECIPIENT")
    not_pdf = register_paper(intake, DISTRICT, school3, DEMO_FORM.code, "2026", doc, b"\x89PNG\r\n\x1a\n", today)
    assert (not_pdf.status_code, not_pdf.json()["error"]["code"]) == (422, "SCAN_NOT_PDF")
    # a school that delivered electronically is not overwritten by a paper registration
    signed = submit(intake, SCHOOL1, DEMO_FORM.code, "2026", json.dumps(figures(1, 2)).encode(),
                    head_signer(ca, SCHOOL1))
    assert signed.status_code == 202, signed.text
    paper_over = register_paper(intake, DISTRICT, SCHOOL1, DEMO_FORM.code, "2026", doc, SCAN, today)
    assert (paper_over.status_code, paper_over.json()["error"]["code"]) == (409, "PAPER_AFTER_ELECTRONIC")


def test_a_submission_is_read_by_its_submitter_and_the_departments_above_it_only(ca, intake):
    resp = submit(intake, SCHOOL1, DEMO_FORM.code, "2026", json.dumps(figures(50, 50)).encode(),
                  head_signer(ca, SCHOOL1))
    sid = resp.json()["submission_id"]
    for who, status in ((SCHOOL1, 200), (DISTRICT, 200), (REGION, 200), (SCHOOL2, 404)):
        got = get_submission(intake, sid, token_for(who))
        assert got.status_code == status, (who, got.text)
    assert get_submission(intake, sid, "uise_nobody").status_code == 401
    district = list_submissions(intake, token_for(DISTRICT), limit=500)["items"]
    assert {SCHOOL1, SCHOOL2} <= {i["participant_id"] for i in district}
    school2 = list_submissions(intake, token_for(SCHOOL2), limit=500)["items"]
    assert {i["participant_id"] for i in school2} <= {SCHOOL2}
    region = list_submissions(intake, token_for(REGION), limit=500)["items"]
    assert {i["participant_id"] for i in region} >= {i["participant_id"] for i in district}  # its subtree
    accepted = list_submissions(intake, token_for(DISTRICT), status="accepted", participant_id=SCHOOL1)
    assert all(i["status"] == "accepted" and i["participant_id"] == SCHOOL1 for i in accepted["items"])


def _key_and_cert(signer):
    return signer.key, signer.cert


@pytest.fixture(scope="module")
def paper_school(stack) -> str:
    """A third school the data office registers under the demo district; it reports on paper."""
    bin_ = "220440000049"
    resp = httpx.put(f"{stack.config.url('registry')}/v1/participants/{bin_}", headers=bearer(data_office_token()),
                     json={"bin": bin_, "level": "organization", "kind": "school", "parent_id": DISTRICT,
                           "name_kk": "№3 ауыл мектебі", "name_ru": "Сельская школа №3"}, timeout=30)
    assert resp.status_code == 200, resp.text
    return bin_


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
    per_participant = Settings().intake_participant_max_in_flight
    token = token_for(SCHOOL1)
    signer = head_signer(ca, SCHOOL1)
    doc = json.dumps(figures(10, 10)).encode()
    files = {"document": ("r.json", doc), "signature": ("r.p7s", sign(doc, signer.key, signer.cert))}

    def post_once(_n: int) -> httpx.Response:
        # refused after its slot is taken (no such form), so the burst leaves nothing in the pipeline
        return httpx.post(f"{intake}/v1/submissions", data={"form_code": "NOPE-1", "period": "2026"},
                          files=files, headers=bearer(token), timeout=30)

    # one school cannot hold more than its own share of intake
    own = [_hold(intake, token) for _ in range(per_participant)]
    try:
        time.sleep(1.0)
        busy = post_once(0)
        assert (busy.status_code, busy.json()["error"]["code"]) == (429, "PARTICIPANT_BUSY")
    finally:
        for sock in own:
            sock.close()
    # many organizations' stalled uploads together fill the process: then everyone is shed at once
    others = [new_client("system", f"stalling system {n}", make_valid(f"2299{n:07d}"), ["submissions:write"])
              for n in range(limit)]
    holders = [_hold(intake, client_token(o["client_id"], o["client_secret"]).json()["access_token"]) for o in others]
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
    # the slots come back; a burst of this school's is answered or shed, never failed
    time.sleep(1.0)
    with ThreadPoolExecutor(2 * limit) as pool:
        statuses = [r.status_code for r in pool.map(post_once, range(2 * limit))]
    assert set(statuses) <= {422, 429}, statuses
    assert 422 in statuses
    served = submit(intake, SCHOOL1, DEMO_FORM.code, "2026", doc, signer)
    assert served.status_code == 202, served.text
