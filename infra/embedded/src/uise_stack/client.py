"""A participant's client for the demo and the end-to-end tests: sign a document with a head's
certificate as NCALayer would, post it to intake with the participant's API key, follow it to
its final state.

Keys: pass `token=`; otherwise the key this process holds for the participant is used, issued
through intake's ops endpoint when the stack registered its admin token (`use_admin_token`)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import date

import httpx
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from uise_common.pki import gost
from uise_common.pki.cms import sign

NOT_READY_YET = {"UNKNOWN_PARTICIPANT", "UNKNOWN_FORM"}  # intake's read model still catching up

_admin_tokens: dict[str, str] = {}  # intake URL → its admin token
_keys: dict[tuple[str, str], str] = {}  # (intake URL, participant) → API key
_readers: dict[str, str] = {}  # submission id → the key that may read it


@dataclass
class Signer:
    key: rsa.RSAPrivateKey | gost.PrivateKey  # GOST 34.10-2015, as NCA RK issues; RSA too
    cert: x509.Certificate


def use_admin_token(intake_url: str, admin_token: str) -> None:
    """Let this process issue API keys on `intake_url` as it needs them."""
    _admin_tokens[intake_url] = admin_token


def remember_key(intake_url: str, participant_id: str, token: str) -> None:
    _keys[(intake_url, participant_id)] = token


def issue_key(intake_url: str, participant_id: str, admin_token: str | None = None, label: str | None = None) -> dict:
    """A new API key from intake's ops endpoint: {key_id, participant_id, token, created_at}."""
    admin = admin_token or _admin_tokens.get(intake_url)
    if admin is None:
        raise LookupError(f"no admin token for {intake_url}: call use_admin_token() or pass token=")
    resp = httpx.post(f"{intake_url}/v1/ops/api-keys", json={"participant_id": participant_id, "label": label},
                      headers={"X-UISE-Admin-Token": admin}, timeout=30.0)
    resp.raise_for_status()
    return resp.json()


def revoke_key(intake_url: str, key_id: str, admin_token: str | None = None) -> httpx.Response:
    admin = admin_token or _admin_tokens[intake_url]
    return httpx.delete(f"{intake_url}/v1/ops/api-keys/{key_id}", headers={"X-UISE-Admin-Token": admin}, timeout=30.0)


def key_for(intake_url: str, participant_id: str) -> str:
    """The participant's API key in this process, issued on first use."""
    if (intake_url, participant_id) not in _keys:
        remember_key(intake_url, participant_id, issue_key(intake_url, participant_id, label="stack client")["token"])
    return _keys[(intake_url, participant_id)]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _post_retrying(url: str, deadline: float, **kw) -> httpx.Response:
    """POST until intake knows the participant and form (the registry's events are on their way)
    and is not shedding load (429, after its Retry-After), or until `deadline`."""
    while True:
        resp = httpx.post(url, timeout=30.0, **kw)
        code = resp.json().get("error", {}).get("code") if resp.status_code >= 400 else None
        if time.monotonic() > deadline:
            return resp
        if resp.status_code == 429:
            time.sleep(min(float(resp.headers.get("Retry-After", "1")), 5.0))
            continue
        if code not in NOT_READY_YET:
            return resp
        time.sleep(0.5)


def submit(intake_url: str, participant_id: str, form_code: str, period: str, document: bytes,
           signer: Signer, filename: str = "report.json", wait_reference: float = 60.0,
           headers: dict[str, str] | None = None, token: str | None = None,
           idempotency_key: str | None = None) -> httpx.Response:
    """POST one signed submission as `participant_id` (with `token`, or the key this process holds
    for it). Retries while intake does not know the participant or form yet, up to
    `wait_reference` seconds."""
    token = token or key_for(intake_url, participant_id)
    signature = sign(document, signer.key, signer.cert)
    extra = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
    resp = _post_retrying(
        f"{intake_url}/v1/submissions", time.monotonic() + wait_reference,
        data={"form_code": form_code, "period": period},
        files={"document": (filename, document), "signature": ("report.p7s", signature)},
        headers={**bearer(token), **extra, **(headers or {})},
    )
    if resp.status_code == 202:
        _readers[resp.json()["submission_id"]] = token
    return resp


def register_paper(intake_url: str, recipient_id: str, participant_id: str, form_code: str, period: str,
                   document: bytes, scan: bytes, delivered_on: date, user: str = "registrar",
                   filename: str = "data.json", token: str | None = None, wait_reference: float = 60.0,
                   idempotency_key: str | None = None) -> httpx.Response:
    """The recipient registers a submission delivered on paper (clause 8): scan plus data."""
    token = token or key_for(intake_url, recipient_id)
    extra = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
    resp = _post_retrying(
        f"{intake_url}/v1/paper-submissions", time.monotonic() + wait_reference,
        data={"participant_id": participant_id, "form_code": form_code, "period": period,
              "delivered_on": delivered_on.isoformat()},
        files={"scan": ("scan.pdf", scan), "document": (filename, document)},
        headers={**bearer(token), "X-UISE-User": user, **extra},
    )
    if resp.status_code == 202:
        _readers[resp.json()["submission_id"]] = token
    return resp


def get_submission(intake_url: str, submission_id: str, token: str | None = None) -> httpx.Response:
    """GET a submission with `token`, or the key that delivered it from this process."""
    token = token or _readers.get(submission_id)
    return httpx.get(f"{intake_url}/v1/submissions/{submission_id}",
                     headers=bearer(token) if token else {}, timeout=10.0)


def list_submissions(intake_url: str, token: str, **filters) -> dict:
    resp = httpx.get(f"{intake_url}/v1/submissions", params=filters, headers=bearer(token), timeout=10.0)
    resp.raise_for_status()
    return resp.json()


def wait_for_steps(intake_url: str, submission_id: str, steps: set[str], timeout: float = 90.0,
                   token: str | None = None) -> dict:
    """The submission once its timeline holds all of `steps`."""
    deadline = time.monotonic() + timeout
    body: dict = {}
    while time.monotonic() < deadline:
        body = get_submission(intake_url, submission_id, token).json()
        if steps <= {t["step"] for t in body.get("timeline", [])}:
            return body
        time.sleep(0.3)
    raise TimeoutError(f"{submission_id} never reached {steps}: {[t['step'] for t in body.get('timeline', [])]}")


def wait_final(intake_url: str, submission_id: str, timeout: float = 90.0, token: str | None = None) -> dict:
    deadline = time.monotonic() + timeout
    last: dict = {}
    while time.monotonic() < deadline:
        resp = get_submission(intake_url, submission_id, token)
        if resp.status_code == 200:
            last = resp.json()
            if last["final"]:
                return last
        time.sleep(0.3)
    raise TimeoutError(f"submission {submission_id} not final after {timeout}s: {last.get('status')}")
