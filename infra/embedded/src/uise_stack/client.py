"""A participant's client for the demo and the end-to-end tests: sign in with the EDS as NCALayer
would (identity's challenge, signed), sign a document with a head's certificate, post it to intake
with the access token, follow it to its final state.

Tokens: `use_identity(url)` once; `remember_signer(participant_id, signer)` for each organization
whose head (or signer) may sign in; then `token_for(participant_id)` signs in on first use and
refreshes before the five-minute access token runs out. The data office signs in with client
credentials (`use_data_office`)."""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date

import httpx
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from uise_common.pki import gost
from uise_common.pki.cms import sign

NOT_READY_YET = {"UNKNOWN_PARTICIPANT", "UNKNOWN_FORM", "PARTICIPANT_UNKNOWN"}  # read models catching up
REFRESH_MARGIN = 60.0  # seconds before expiry a token is refreshed


@dataclass
class Signer:
    key: rsa.RSAPrivateKey | gost.PrivateKey  # GOST 34.10-2015, as NCA RK issues; RSA too
    cert: x509.Certificate


@dataclass
class _Held:
    access: str
    refresh: str | None
    expires_at: float
    session_id: str | None = None


# One connection pool for the process, shared by its threads: a bare `httpx.get()` builds a
# client, and with it an SSL context (about 20 ms of CPU), for every request; a national
# campaign's offices spent more CPU on that than on signing their documents.
# An idle connection is dropped after 2 s, before the server's keep-alive (uvicorn: 5 s) closes
# it under a request that reused it (seen as "connection reset by peer").
http = httpx.Client(timeout=30.0, limits=httpx.Limits(max_connections=200, max_keepalive_connections=100,
                                                      keepalive_expiry=2.0))
_lock = threading.Lock()
_identity: dict[str, str] = {}  # "url", "client_id", "client_secret"
_signers: dict[str, Signer] = {}  # participant → whose EDS signs in for it
_locks: dict[str, threading.Lock] = {}
_held: dict[str, _Held] = {}  # participant (or "data_office") → its tokens in this process
_readers: dict[str, str] = {}  # submission id → the participant that may read it


@contextmanager
def another_stack() -> Iterator[None]:
    """Talk to a second stack for a while (a test's stack of its own beside the session's): the
    identity, the signers and the tokens this process holds are set aside and restored after,
    so the first stack's tests do not carry the second one's tokens."""
    with _lock:
        saved = [dict(d) for d in (_identity, _signers, _held, _readers)]
        for d in (_identity, _signers, _held, _readers):
            d.clear()
    try:
        yield
    finally:
        with _lock:
            for d, kept in zip((_identity, _signers, _held, _readers), saved, strict=True):
                d.clear()
                d.update(kept)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def use_identity(identity_url: str) -> None:
    _identity["url"] = identity_url


def identity_url() -> str:
    return _identity["url"]


def use_data_office(client_id: str, client_secret: str) -> None:
    _identity["client_id"], _identity["client_secret"] = client_id, client_secret


def remember_signer(participant_id: str, signer: Signer) -> None:
    _signers[participant_id] = signer


def forget_tokens() -> None:
    with _lock:
        _held.clear()


# --- signing in ------------------------------------------------------------------------------------


def sign_in(signer: Signer, role: str | None = None, identity_url: str | None = None,
            wait: float = 60.0, staff_just_named: bool = False) -> httpx.Response:
    """Sign a fresh challenge with the EDS (attached CMS, as NCALayer's `sign` makes it) and ask
    identity for tokens. Retries while identity does not know the organization yet (and, with
    `staff_just_named`, while the registry's new staff list is on its way: NO_ROLE), and while
    it sheds load or waits out an outage (429/503); identity's refusal otherwise, as it came."""
    waiting = NOT_READY_YET | ({"NO_ROLE"} if staff_just_named else set())
    url = identity_url or _identity["url"]
    deadline = time.monotonic() + wait
    while True:
        resp = http.post(f"{url}/v1/auth/challenges", timeout=10)
        if resp.status_code == 201:
            challenge = resp.json()
            cms = sign(base64.b64decode(challenge["data"]), signer.key, signer.cert, detached=False)
            body = {"challenge_id": challenge["challenge_id"], "signature": base64.b64encode(cms).decode()}
            if role:
                body["role"] = role
            resp = http.post(f"{url}/v1/auth/sign-in", json=body, timeout=30)
        if time.monotonic() > deadline:
            return resp
        if resp.status_code in PASSING:
            time.sleep(_pause(resp))
        elif _error_code(resp) in waiting:
            time.sleep(0.5)
        else:
            return resp


def _keep(who: str, answer: dict) -> str:
    _held[who] = _Held(answer["access_token"], answer.get("refresh_token"),
                       time.monotonic() + answer["expires_in"], answer.get("session_id"))
    return answer["access_token"]


def _lock_of(who: str) -> threading.Lock:
    """One lock per organization: a sign-in (a network round trip and a signature) holds up only
    the threads acting for the same organization, not a national campaign's other offices."""
    with _lock:
        return _locks.setdefault(who, threading.Lock())


def token_for(participant_id: str) -> str:
    """A valid access token for the organization, from its remembered signer."""
    with _lock_of(participant_id):
        held = _held.get(participant_id)
        if held is not None and held.expires_at - time.monotonic() > REFRESH_MARGIN:
            return held.access
        if held is not None and held.refresh:
            resp = http.post(f"{_identity['url']}/v1/auth/refresh", json={"refresh_token": held.refresh}, timeout=10)
            if resp.status_code == 200:
                return _keep(participant_id, resp.json())
        signer = _signers.get(participant_id)
        if signer is None:
            raise LookupError(f"no signer for {participant_id}: remember_signer() it first")
        resp = sign_in(signer)
        if resp.status_code != 200 or resp.json()["participant_id"] != participant_id:
            raise RuntimeError(f"sign-in for {participant_id} failed: {resp.status_code} {resp.text}")
        return _keep(participant_id, resp.json())


def client_token(client_id: str, client_secret: str, identity_url: str | None = None) -> httpx.Response:
    return http.post(f"{identity_url or _identity['url']}/v1/oauth/token", timeout=10,
                      data={"grant_type": "client_credentials"}, auth=(client_id, client_secret))


def data_office_token() -> str:
    with _lock_of("data_office"):
        held = _held.get("data_office")
        if held is not None and held.expires_at - time.monotonic() > REFRESH_MARGIN:
            return held.access
        resp = client_token(_identity["client_id"], _identity["client_secret"])
        resp.raise_for_status()
        return _keep("data_office", resp.json())


class DataOfficeAuth(httpx.Auth):
    """The data office's token on each request, refreshed before it expires: a long seeding (the
    national hierarchy takes minutes) outlives one access token."""

    def auth_flow(self, request: httpx.Request):
        request.headers["Authorization"] = f"Bearer {data_office_token()}"
        yield request


def new_client(role: str, label: str, participant_id: str | None = None, scopes: list[str] | None = None) -> dict:
    """A machine client made by the data office: {client_id, client_secret, ...}."""
    resp = http.post(f"{_identity['url']}/v1/clients", headers=bearer(data_office_token()), timeout=10,
                      json={"role": role, "label": label, "participant_id": participant_id, "scopes": scopes or []})
    resp.raise_for_status()
    return resp.json()


# --- submitting -------------------------------------------------------------------------------------


PASSING = {429, 502, 503, 504}  # shedding load or an outage: the answer says when to come back
RETRY_PAUSE_MAX = 5.0


def _pause(resp: httpx.Response) -> float:
    """How long to wait before asking again: the server's Retry-After, within reason."""
    try:
        return min(float(resp.headers.get("Retry-After", "1")), RETRY_PAUSE_MAX)
    except ValueError:  # an HTTP date instead of seconds
        return 1.0


def _error_code(resp: httpx.Response) -> str | None:
    if resp.status_code < 400 or not resp.headers.get("content-type", "").startswith("application/json"):
        return None
    body = resp.json()
    return body.get("error", {}).get("code") if isinstance(body, dict) else None


def _post_retrying(url: str, deadline: float, **kw) -> httpx.Response:
    """POST until intake knows the participant and form (the registry's events are on their way)
    and is not shedding load or waiting out an outage (429/503, after its Retry-After), or until
    `deadline`. A refusal like that stored nothing, so the same POST again is safe."""
    while True:
        resp = http.post(url, timeout=30.0, **kw)
        if time.monotonic() > deadline:
            return resp
        if resp.status_code in PASSING:
            time.sleep(_pause(resp))
            continue
        if _error_code(resp) not in NOT_READY_YET:
            return resp
        time.sleep(0.5)


def read(url: str, patience: float = 120.0, method: str = "GET", **kw) -> httpx.Response:
    """GET `url` (or a POST that stores nothing, such as asking for signed links), asking again
    through a broken connection, a timeout, load shedding or an outage (429/502/503/504) for up
    to `patience` seconds, as an office's browser would retry a page on a busy night; then the
    last answer (or the last transport error). Any other answer, a 403 say, comes back at once."""
    deadline = time.monotonic() + patience
    while True:
        try:
            resp = http.request(method, url, **{"timeout": 30.0, **kw})
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            time.sleep(1.0)
            continue
        if resp.status_code not in PASSING or time.monotonic() > deadline:
            return resp
        time.sleep(_pause(resp))


def submit(intake_url: str, participant_id: str, form_code: str, period: str, document: bytes,
           signer: Signer, filename: str = "report.json", wait_reference: float = 60.0,
           headers: dict[str, str] | None = None, token: str | None = None,
           idempotency_key: str | None = None, signature: bytes | None = None) -> httpx.Response:
    """POST one signed submission for `participant_id` (with `token`, or the organization's own
    signed-in token). Retries while intake does not know the participant or form yet, up to
    `wait_reference` seconds."""
    token = token or token_for(participant_id)
    signature = signature or sign(document, signer.key, signer.cert)
    extra = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
    resp = _post_retrying(
        f"{intake_url}/v1/submissions", time.monotonic() + wait_reference,
        data={"form_code": form_code, "period": period},
        files={"document": (filename, document), "signature": ("report.p7s", signature)},
        headers={**bearer(token), **extra, **(headers or {})},
    )
    if resp.status_code == 202:
        _readers[resp.json()["submission_id"]] = participant_id
    return resp


def register_paper(intake_url: str, recipient_id: str, participant_id: str, form_code: str, period: str,
                   document: bytes, scan: bytes, delivered_on: date, filename: str = "data.json",
                   token: str | None = None, wait_reference: float = 60.0,
                   idempotency_key: str | None = None) -> httpx.Response:
    """The recipient registers a submission delivered on paper (clause 8): scan plus data."""
    token = token or token_for(recipient_id)
    extra = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
    resp = _post_retrying(
        f"{intake_url}/v1/paper-submissions", time.monotonic() + wait_reference,
        data={"participant_id": participant_id, "form_code": form_code, "period": period,
              "delivered_on": delivered_on.isoformat()},
        files={"scan": ("scan.pdf", scan), "document": (filename, document)},
        headers={**bearer(token), **extra},
    )
    if resp.status_code == 202:
        _readers[resp.json()["submission_id"]] = recipient_id
    return resp


def get_submission(intake_url: str, submission_id: str, token: str | None = None) -> httpx.Response:
    """GET a submission with `token`, or as the organization that delivered it from this process."""
    if token is None and submission_id in _readers:
        token = token_for(_readers[submission_id])
    return http.get(f"{intake_url}/v1/submissions/{submission_id}",
                     headers=bearer(token) if token else {}, timeout=10.0)


def list_submissions(intake_url: str, token: str, **filters) -> dict:
    resp = http.get(f"{intake_url}/v1/submissions", params=filters, headers=bearer(token), timeout=10.0)
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
