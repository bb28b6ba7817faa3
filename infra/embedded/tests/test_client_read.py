"""A rehearsal's client reads and signs in through a busy night: a timeout, load shedding and an
outage are asked again (an hour-long national campaign died on one 30 s timeout; the fault
suite's offices met a KeyError when identity answered a challenge with 503); a refusal is not."""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from uise_common.pki.testca import TestCA
from uise_stack import client


class Scripted(BaseHTTPRequestHandler):
    """Answers each request with the next step of the server's script, the last one for good:
    ("slow", seconds) holds the answer back, (status, body) answers."""

    def do_GET(self) -> None:  # noqa: N802 (the stdlib's name)
        self._answer()

    def do_POST(self) -> None:  # noqa: N802
        self._answer()

    def _answer(self) -> None:
        self.server.seen.append((self.command, self.path))
        script = self.server.script
        step = script.pop(0) if len(script) > 1 else script[0]  # the last step answers from then on
        if step[0] == "slow":
            time.sleep(step[1])
            step = (200, b"late")
        status, body = step
        self.send_response(status)
        if status in (429, 503):
            self.send_header("Retry-After", "0")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def server() -> Iterator[ThreadingHTTPServer]:
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Scripted)
    srv.script, srv.seen = [], []
    srv.daemon_threads = True
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield srv
    srv.shutdown()
    srv.server_close()


def url(srv: ThreadingHTTPServer, path: str = "/v1/consolidations/x") -> str:
    return f"http://127.0.0.1:{srv.server_address[1]}{path}"


def test_a_timeout_shedding_and_an_outage_are_asked_again(server):
    server.script = [("slow", 1.5), (429, b"busy"), (503, b"database away"), (200, b"the document")]
    resp = client.read(url(server), timeout=0.5)
    assert (resp.status_code, resp.content) == (200, b"the document")
    assert len(server.seen) == 4


def test_a_refusal_comes_back_at_once(server):
    server.script = [(403, b"not yours"), (200, b"never asked")]
    assert client.read(url(server)).status_code == 403
    assert len(server.seen) == 1


def test_patience_runs_out_with_the_last_answer(server):
    server.script = [(503, b"away")]
    started = time.monotonic()
    assert client.read(url(server), patience=0.3).status_code == 503
    assert time.monotonic() - started < 10


def test_signed_links_are_asked_for_by_post(server):
    server.script = [(503, b"away"), (200, b"{}")]
    assert client.read(url(server, "/v1/reports/r/1/links"), method="POST").status_code == 200
    assert server.seen == [("POST", "/v1/reports/r/1/links")] * 2


def test_a_server_that_is_gone_raises_once_patience_runs_out(server):
    gone = url(server)
    server.shutdown()
    server.server_close()
    with pytest.raises(httpx.TransportError):
        client.read(gone, patience=0.5)


def test_sign_in_waits_out_identitys_outage_and_returns_its_refusal(server):
    key, cert = TestCA.create().issue(iin="800101300016", name="Director", bin_="220440000019")
    challenge = json.dumps({"challenge_id": "c-1", "data": base64.b64encode(b"nonce").decode()}).encode()
    server.script = [(503, b"database away"), (201, challenge), (200, b'{"access_token": "t"}')]
    resp = client.sign_in(client.Signer(key, cert), identity_url=url(server, ""))
    assert (resp.status_code, resp.json()) == (200, {"access_token": "t"})
    assert [path for _m, path in server.seen] == ["/v1/auth/challenges", "/v1/auth/challenges", "/v1/auth/sign-in"]
    server.seen.clear()
    server.script = [(201, challenge), (401, b"certificate revoked")]
    assert client.sign_in(client.Signer(key, cert), identity_url=url(server, "")).status_code == 401
    assert len(server.seen) == 2
