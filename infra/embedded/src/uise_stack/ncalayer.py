"""A stand-in for NCALayer (the portal's browser tests, and a developer's machine without the
real one): a WebSocket server on 127.0.0.1 speaking
NCALayer's JSON protocol (the greeting with its version; `kz.gov.pki.knca.basics` `sign`
answering {status, body: {result: [cms]}}; the older `kz.gov.pki.knca.commonUtils`
`createCMSSignatureFromBase64` answering {code: "200", responseObject}), signing with the key the
test gives it, as the real one signs with the key the person picks in its dialog.

The tests sign in with NCA RK's own test key
(legal_ceo_valid.p12) and sign documents with a key of the project's test CA issued to the same
person, because NCA's test certificate expires on 2027-05-08 and signature judges a document at
the trusted time now (tests/e2e/test_sign_in.py explains the pinned identity replica)."""

from __future__ import annotations

import asyncio
import base64
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import websockets

from uise_common.pki import pkcs12
from uise_common.pki.cms import sign
from uise_common.testing import nca_test_pki
from uise_stack.client import Signer
from uise_stack.config import free_port

# NCA RK's test organization and its people (shared/testdata/nca-test-pki/README.md).
NCA_BIN, NCA_CEO, NCA_SIGNER = "123456789021", "123456789011", "123456789012"
# A moment inside the NCA test keys' validity (2026-05-08 to 2027-05-08), for an identity replica
# pinned there so that sign-in with them keeps working after they expire.
NCA_PINNED = "2026-11-30T12:00:00+05:00"


def nca_key(name: str) -> Signer:
    """One of NCA's test keys (password Qwerty12), e.g. `legal_ceo_valid.p12`."""
    path = nca_test_pki() / name
    if not path.exists():
        raise FileNotFoundError(f"the NCA RK test PKI is missing: expected {path} (shared/testdata/nca-test-pki)")
    container = pkcs12.load(path.read_bytes(), "Qwerty12")
    return Signer(container.key, container.certificate)


@dataclass
class StandIn:
    """`sign_in_key` signs what NCALayer is asked to sign attached (the sign-in challenge),
    `document_key` what it signs detached (a document); either stands for both when alone."""

    sign_in_key: Signer | None = None
    document_key: Signer | None = None
    port: int = field(default_factory=free_port)
    requests: list[dict] = field(default_factory=list)
    refuse_next: str | None = None  # answer the next sign with this refusal (e.g. a cancelled dialog)
    # The signingTime written into a document's signature: the person's PC clock. A rehearsal on a
    # moved business clock sets it to that clock (the signature service refuses a signingTime
    # weeks before the delivery); None: the real time.
    document_time: Callable[[], datetime] | None = None

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    async def _serve_one(self, ws) -> None:
        await ws.send(json.dumps({"result": {"version": "1.4.0.2"}}))
        async for raw in ws:
            request = json.loads(raw)
            self.requests.append(request)
            await ws.send(json.dumps(self.answer(request)))

    def answer(self, request: dict) -> dict:
        module, method = request.get("module"), request.get("method")
        if module == "kz.gov.pki.knca.basics" and method == "sign":
            if self.refuse_next:
                code, self.refuse_next = self.refuse_next, None
                return {"status": False, "code": code, "message": code}
            args = request["args"]
            attached = bool(args.get("signingParams", {}).get("encapsulate"))
            return {"status": True, "body": {"result": [self._sign(args["data"], attached, request)]}}
        if module == "kz.gov.pki.knca.commonUtils" and method == "createCMSSignatureFromBase64":
            _storage, _kind, data, attached = request["args"]
            return {"code": "200", "responseObject": self._sign(data, bool(attached), request)}
        return {"status": False, "code": "MODULE_NOT_FOUND", "message": f"{module}.{method}"}

    def _sign(self, data_b64: str, attached: bool, request: dict) -> str:
        signer = (self.sign_in_key or self.document_key) if attached else (self.document_key or self.sign_in_key)
        if signer is None:
            raise RuntimeError("the NCALayer stand-in was given no key")
        at = self.document_time() if self.document_time is not None and not attached else None
        cms = sign(base64.b64decode(data_b64), signer.key, signer.cert, detached=not attached, signing_time=at)
        return base64.b64encode(cms).decode()

    def start(self) -> StandIn:
        ready = threading.Event()
        self._loop = asyncio.new_event_loop()

        async def run() -> None:
            self._stop = asyncio.Event()
            async with websockets.serve(self._serve_one, "127.0.0.1", self.port, max_size=64 * 2**20):
                ready.set()
                await self._stop.wait()

        self._thread = threading.Thread(target=lambda: self._loop.run_until_complete(run()), daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("the NCALayer stand-in did not start")
        return self

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)
