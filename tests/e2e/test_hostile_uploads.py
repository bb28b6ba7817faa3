"""Every upload of the hostile corpus (tests/fixtures/hostile/manifest.json) posted to the running
intake: each gets its 4xx and reason code, none a 500, and intake goes on serving (issue 4)."""

from __future__ import annotations

import importlib.util
import json
import socket
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from uise_common.pki.cms import sign
from uise_common.settings import Settings
from uise_registry.demo import DISTRICT, REGION, SCHOOLS
from uise_stack.client import (
    bearer,
    client_token,
    identity_url,
    new_client,
    sign_in,
    submit,
    token_for,
    wait_final,
)
from uise_stack.demo import head_signer

pytestmark = pytest.mark.e2e
SCHOOL1 = next(iter(SCHOOLS))
STRANGER = "999999999990"  # has a machine client's token, but the registry never heard of it
HOSTILE = Path(__file__).resolve().parents[1] / "fixtures" / "hostile"


def _corpus():
    spec = importlib.util.spec_from_file_location("hostile_corpus", HOSTILE / "corpus.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


CORPUS = _corpus()
CASES = [c for c in CORPUS.cases() if not c.get("in_process_only")]
LIMITS = Settings()


@pytest.fixture(scope="module")
def ready(stack, ca, intake):
    """Intake knows the demo participants and forms, and accepts a good submission."""
    good = (HOSTILE / "good.json").read_bytes()
    resp = submit(intake, SCHOOL1, "SCH-1", "2026", good, head_signer(ca, SCHOOL1), filename="good.json")
    assert resp.status_code == 202, resp.text
    return head_signer(ca, SCHOOL1)


def headers_for(case: dict, ca) -> dict[str, str]:
    who = {"school": SCHOOL1, "district": DISTRICT}[case["as"]]
    auth = case["auth"]
    if auth == "token":
        return bearer(token_for(who))
    if auth == "none":
        return {}
    if auth == "forged":
        return bearer("eyJhbGciOiJFUzI1NiIsImtpZCI6ImZvcmdlZCJ9.e30." + "A" * 86)
    if auth == "stranger":
        made = new_client("system", "a system of an unregistered school", STRANGER, ["submissions:write"])
        return bearer(client_token(made["client_id"], made["client_secret"]).json()["access_token"])
    if auth == "gateway-header":
        return {"X-Participant-Id": who}
    if auth == "revoked":  # a session signed out: its still unexpired token is refused
        tokens = sign_in(head_signer(ca, who)).json()
        signed_out = httpx.post(f"{identity_url()}/v1/auth/sign-out", headers=bearer(tokens["access_token"]))
        assert signed_out.status_code == 204
        return bearer(tokens["access_token"])
    raise KeyError(auth)


def declared_huge(intake: str, headers: dict[str, str]) -> tuple[int, dict]:
    """A POST that claims a 1 GB body and sends a few bytes: the answer must come before the body."""
    url = urlsplit(intake)
    lines = ["POST /v1/submissions HTTP/1.1", f"Host: {url.netloc}", "Content-Type: multipart/form-data; boundary=x",
             "Content-Length: 1000000000", "Connection: close", *(f"{k}: {v}" for k, v in headers.items())]
    with socket.create_connection((url.hostname, url.port), timeout=10) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n--x\r\n").encode())
        raw = b""
        while b"\r\n\r\n" not in raw or len(raw.split(b"\r\n\r\n", 1)[1]) < _length(raw):
            chunk = sock.recv(65536)
            if not chunk:
                break
            raw += chunk
    head, body = raw.split(b"\r\n\r\n", 1)
    return int(head.split()[1]), json.loads(body[:_length(raw)])


def _length(raw: bytes) -> int:
    for line in raw.split(b"\r\n\r\n", 1)[0].split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return int(line.split(b":", 1)[1])
    return 0


@pytest.mark.parametrize("case", CASES, ids=lambda c: c["name"])
def test_a_hostile_upload_is_refused_with_its_reason(ready, ca, intake, case):
    signer = ready
    headers = {**headers_for(case, ca), **case.get("headers", {})}
    if case.get("generate") == "declared_huge":
        status, body = declared_huge(intake, headers)
    else:
        data, files = CORPUS.request_parts(case, lambda doc: sign(doc, signer.key, signer.cert),
                                           LIMITS.max_document_bytes, LIMITS.intake_max_signature_bytes)
        if "to" in case:
            data["recipient_id"] = {"region": REGION}[case["to"]]
        resp = httpx.post(f"{intake}/v1/submissions", data=data, files=files, headers=headers, timeout=60)
        status, body = resp.status_code, resp.json()
    assert status < 500, body
    assert (status, body["error"]["code"]) == (case["status"], case["code"]), body
    assert set(body["error"]["message"]) == {"kk", "ru", "en"}


def test_the_corpus_is_large_and_every_file_is_used():
    assert len(CASES) >= 30
    every = CORPUS.cases()
    used = {c.get("document") for c in every} | {c["signature"] for c in every if isinstance(c["signature"], str)}
    on_disk = {p.name for p in HOSTILE.iterdir() if p.is_file() and p.name not in ("manifest.json", "corpus.py")}
    assert on_disk <= used, on_disk - used
    assert all(p.stat().st_size <= 128 * 1024 for p in HOSTILE.iterdir() if p.is_file())  # big ones are generated


def test_intake_still_serves_after_the_corpus(stack, ready, intake):
    signer = ready
    assert stack.procs["intake"].alive()
    assert httpx.get(f"{intake}/readyz", timeout=10).status_code == 200
    good = (HOSTILE / "good.json").read_bytes()
    resp = submit(intake, SCHOOL1, "SCH-1", "2026", good, signer, filename="good.json")
    assert resp.status_code == 202, resp.text
    assert wait_final(intake, resp.json()["submission_id"])["status"] == "accepted"
