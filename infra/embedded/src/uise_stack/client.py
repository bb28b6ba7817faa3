"""A participant's client for the demo and the end-to-end tests: sign a document with a head's
certificate as NCALayer would, post it to intake, follow it to its final state."""

from __future__ import annotations

import time
from dataclasses import dataclass

import httpx
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from uise_signature.cms import sign

NOT_READY_YET = {"UNKNOWN_PARTICIPANT", "UNKNOWN_FORM"}  # intake's read model still catching up


@dataclass
class Signer:
    key: rsa.RSAPrivateKey
    cert: x509.Certificate


def submit(intake_url: str, participant_id: str, form_code: str, period: str, document: bytes,
           signer: Signer, filename: str = "report.json", wait_reference: float = 60.0,
           headers: dict[str, str] | None = None) -> httpx.Response:
    """POST one signed submission. Retries while intake does not know the participant or form
    yet (the registry's events are still on their way), up to `wait_reference` seconds."""
    signature = sign(document, signer.key, signer.cert)
    deadline = time.monotonic() + wait_reference
    while True:
        resp = httpx.post(
            f"{intake_url}/v1/submissions",
            data={"form_code": form_code, "period": period},
            files={"document": (filename, document), "signature": ("report.p7s", signature)},
            headers={"X-Participant-Id": participant_id, **(headers or {})},
            timeout=30.0,
        )
        code = resp.json().get("error", {}).get("code") if resp.status_code >= 400 else None
        if code not in NOT_READY_YET or time.monotonic() > deadline:
            return resp
        time.sleep(0.5)


def wait_for_steps(intake_url: str, submission_id: str, steps: set[str], timeout: float = 90.0) -> dict:
    """The submission once its timeline holds all of `steps`."""
    deadline = time.monotonic() + timeout
    body: dict = {}
    while time.monotonic() < deadline:
        body = httpx.get(f"{intake_url}/v1/submissions/{submission_id}", timeout=10).json()
        if steps <= {t["step"] for t in body.get("timeline", [])}:
            return body
        time.sleep(0.3)
    raise TimeoutError(f"{submission_id} never reached {steps}: {[t['step'] for t in body.get('timeline', [])]}")


def wait_final(intake_url: str, submission_id: str, timeout: float = 90.0) -> dict:
    deadline = time.monotonic() + timeout
    last: dict = {}
    while time.monotonic() < deadline:
        resp = httpx.get(f"{intake_url}/v1/submissions/{submission_id}", timeout=10.0)
        if resp.status_code == 200:
            last = resp.json()
            if last["final"]:
                return last
        time.sleep(0.3)
    raise TimeoutError(f"submission {submission_id} not final after {timeout}s: {last.get('status')}")
