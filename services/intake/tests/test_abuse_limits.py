"""Intake's abuse limits (issue 7): the limiters on their own, the route class in process, and a
slow-upload attack on intake served by a real uvicorn server, over raw sockets: one participant
opening many uploads that send a byte a second no longer takes intake from the others."""

from __future__ import annotations

import asyncio
import hashlib
import json
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session

from uise_common.db import migrate
from uise_common.http import ApiError
from uise_common.service import COMMON_MIGRATION, ServiceRuntime, ServiceSpec
from uise_common.settings import Settings
from uise_common.testing import TokenIssuer
from uise_contracts.events import StoredObject
from uise_intake import api, handlers
from uise_intake.adapters import MIGRATIONS, KnownForm, KnownParticipant
from uise_intake.edge import GuardedBody
from uise_intake.limits import (
    BodyTimeouts,
    InFlightLimiter,
    ParticipantSlots,
    TokenBuckets,
    UploadLimits,
)
from uise_intake.reasons import Refused

ALMATY = ZoneInfo("Asia/Almaty")
THIS_YEAR = datetime.now(ALMATY).year
DISTRICT, A, B = "D1", "S-A", "S-B"
SIGNED_DATA = bytes.fromhex("06092a864886f70d010702")
BOUNDARY = "x"
# the start of a well-formed multipart body: the parser waits for the rest, it does not fail
PREFIX = (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"document\"; filename=\"r.json\"\r\n"
          "Content-Type: application/json\r\n\r\n").encode()


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# --- the limiters ---------------------------------------------------------------------------


def test_a_bucket_gives_its_burst_then_refills_at_its_rate():
    clock = FakeClock()
    buckets = TokenBuckets(per_minute=60, burst=3, clock=clock)  # one a second
    assert [buckets.take("A") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert buckets.take("A") == pytest.approx(1.0)  # empty: the next token in a second
    assert buckets.take("B") == 0.0  # every participant has its own bucket
    clock.now += 0.25
    assert buckets.take("A") == pytest.approx(0.75)  # a refused take costs nothing
    clock.now += 0.75
    assert buckets.take("A") == 0.0 and buckets.take("A") == pytest.approx(1.0)
    clock.now += 3600  # an hour idle refills to the burst, never beyond
    assert buckets.tokens("A") == 3.0
    assert [buckets.take("A") for _ in range(4)][-1] == pytest.approx(1.0)
    buckets.give_back("A")
    assert buckets.take("A") == 0.0
    assert buckets.refused == 4


def test_full_buckets_are_forgotten_and_a_zero_rate_is_no_limit():
    clock = FakeClock()
    buckets = TokenBuckets(per_minute=60, burst=2, clock=clock)
    for n in range(100):
        buckets.take(f"P{n}")
    assert len(buckets) == 100
    clock.now += 2.0  # every bucket is full again: the same as none
    buckets.take("P0")
    assert len(buckets) == 1
    off = TokenBuckets(per_minute=0, burst=1, clock=clock)
    assert all(off.take("A") == 0.0 for _ in range(1000)) and len(off) == 0
    with pytest.raises(ValueError):
        TokenBuckets(per_minute=-1, burst=1)
    with pytest.raises(ValueError):
        TokenBuckets(per_minute=60, burst=0)


def test_participant_slots_cap_each_participant_alone():
    slots = ParticipantSlots(2)
    assert slots.try_acquire("A") and slots.try_acquire("A")
    assert not slots.try_acquire("A") and slots.refused == 1
    assert slots.try_acquire("B")  # A's cap is A's alone
    slots.release("A")
    assert slots.try_acquire("A") and slots.total == 3
    for p in ("A", "A", "B"):
        slots.release(p)
    assert slots.total == 0 and slots.in_flight("A") == 0
    with pytest.raises(RuntimeError):
        slots.release("A")
    with pytest.raises(ValueError):
        ParticipantSlots(0)


def limits(in_flight=4, per_participant=2, per_minute=60.0, burst=10, idle=1.0, min_rate=0.0, grace=0.0,
           clock=None) -> UploadLimits:
    return UploadLimits(InFlightLimiter(in_flight), ParticipantSlots(per_participant),
                        TokenBuckets(per_minute, burst, **({"clock": clock} if clock else {})),
                        BodyTimeouts(idle, min_rate, grace), retry_after=2)


def refused(block) -> Refused:
    with pytest.raises(Refused) as caught:
        block()
    return caught.value


def test_admission_checks_the_participant_first_and_releases_on_every_path():
    clock = FakeClock()
    lim = limits(in_flight=2, per_participant=1, per_minute=6, burst=2, clock=clock)

    def enter(p):
        with lim.admit(p):
            pass

    with lim.admit("A"):
        busy = refused(lambda: enter("A"))
        assert (busy.code, busy.params["seconds"], busy.params["limit"]) == ("PARTICIPANT_BUSY", 2, 1)
        assert lim.rate.tokens("A") == 1.0  # refused as busy: no token spent
        with lim.admit("B"):
            overloaded = refused(lambda: enter("C"))  # A and B hold both process slots
            assert overloaded.code == "OVERLOADED"
            assert lim.rate.tokens("C") == 2.0  # given back: capacity was not C's fault
            assert lim.participants.in_flight("C") == 0
    enter("A")  # the second token
    rate = refused(lambda: enter("A"))
    # 6 a minute = one token every 10 s; the bucket is empty
    assert (rate.code, rate.params["seconds"], rate.params["per_minute"]) == ("RATE_LIMITED", 10, "6")
    assert lim.participants.total == 0 and lim.in_flight.in_flight == 0
    clock.now += 10
    enter("A")

    with pytest.raises(RuntimeError), lim.admit("B"):
        raise RuntimeError("a handler failing half-way")
    assert lim.participants.total == 0 and lim.in_flight.in_flight == 0


def test_the_too_slow_moment_follows_the_bytes_received():
    t = BodyTimeouts(idle_seconds=60, min_bytes_per_second=1000, grace_seconds=30)
    assert t.too_slow_at(100.0, 0) == 130.0  # nothing yet: cut when the grace ends
    assert t.too_slow_at(100.0, 20_000) == 130.0  # 20 kB by 30 s is fast enough
    assert t.too_slow_at(100.0, 45_000) == 145.0  # 45 kB buys 45 s
    assert BodyTimeouts(60, 0, 30).too_slow_at(100.0, 0) == float("inf")
    with pytest.raises(ValueError):
        BodyTimeouts(0, 1000, 30)
    with pytest.raises(ValueError):
        BodyTimeouts(60, 1000, 0)  # a floor at the first instant would cut every upload


def test_the_defaults_let_a_rural_school_through_and_cut_a_trickle_soon():
    s = Settings()
    t = BodyTimeouts(s.intake_body_idle_timeout_seconds, s.intake_body_min_bytes_per_second,
                     s.intake_body_grace_seconds)
    # a school getting a quarter of a 64 kbit/s line sends a 20 MB workbook in about 3 hours,
    # ahead of the floor at every moment of it
    quarter_line, workbook = 64_000 / 8 / 4, 20 * 1024 * 1024
    assert all(t.too_slow_at(0.0, int(quarter_line * second)) > second
               for second in range(0, int(workbook / quarter_line) + 60, 10))
    assert s.intake_body_idle_timeout_seconds > 1 + 2 + 4 + 8 + 16  # TCP's retransmission back-off
    assert t.too_slow_at(0.0, 30) == s.intake_body_grace_seconds <= 60  # 1 byte/s: cut after the grace
    assert s.intake_participant_max_in_flight <= s.intake_max_in_flight / 8  # one participant: a small share


# --- the body's receive ---------------------------------------------------------------------


def chunks(*parts: tuple[float, bytes], last: bool = True):
    """A receive that gives each body part after its delay, then stalls forever (or ends)."""
    queue = list(parts)

    async def receive():
        if not queue:
            await asyncio.Event().wait()  # a client that never sends again
        delay, data = queue.pop(0)
        await asyncio.sleep(delay)
        return {"type": "http.request", "body": data, "more_body": bool(queue) or not last}

    return receive


async def read_all(body: GuardedBody) -> float:
    started = time.monotonic()
    while not body.complete:
        await body.receive()
    return time.monotonic() - started


def code_of(caught: pytest.ExceptionInfo) -> str:
    return caught.value.code


async def test_silence_is_cut_after_the_idle_timeout():
    body = GuardedBody(chunks((0.0, b"x" * 1000), last=False), 10_000, BodyTimeouts(0.3, 100, 0.1))
    started = time.monotonic()
    with pytest.raises(ApiError) as caught:
        await read_all(body)
    # 1000 bytes at 100 B/s buy 10 s; silence ends it first
    assert code_of(caught) == "REQUEST_TIMEOUT" and 0.25 < time.monotonic() - started < 1.0
    assert caught.value.status == 408 and caught.value.detail["received"] == 1000
    assert set(caught.value.messages) == {"kk", "ru", "en"}


async def test_a_trickle_is_cut_when_its_average_falls_below_the_floor():
    trickle = chunks(*[(0.05, b"x")] * 100)  # 20 B/s, never idle for long
    body = GuardedBody(trickle, 10_000, BodyTimeouts(idle_seconds=5, min_bytes_per_second=100, grace_seconds=0.4))
    started = time.monotonic()
    with pytest.raises(ApiError) as caught:
        await read_all(body)
    assert code_of(caught) == "UPLOAD_TOO_SLOW" and 0.35 < time.monotonic() - started < 1.0
    assert "100 bytes/s" in caught.value.messages["en"]


async def test_a_fast_body_passes_and_what_follows_it_is_not_timed():
    fast = chunks((0.0, b"a" * 500), (0.01, b"b" * 500))
    body = GuardedBody(fast, 1000, BodyTimeouts(idle_seconds=0.2, min_bytes_per_second=1000, grace_seconds=0.1))
    await read_all(body)
    assert body.complete and body.received == 1000
    # after the body, a receive waits for a disconnect as long as it takes: not a timeout
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.4):
            await body.receive()
    too_big = GuardedBody(chunks((0.0, b"a" * 600), (0.0, b"b" * 600)), 1000, BodyTimeouts(1, 0, 0))
    with pytest.raises(ApiError) as caught:
        await read_all(too_big)
    assert code_of(caught) == "REQUEST_TOO_LARGE"


async def test_slots_come_back_when_a_body_times_out():
    lim = limits(idle=0.1)
    body = GuardedBody(chunks(last=False), 1000, lim.body)
    with pytest.raises(ApiError) as caught, lim.admit("A"):
        await body.receive()
    assert code_of(caught) == "REQUEST_TIMEOUT"
    assert lim.participants.total == 0 and lim.in_flight.in_flight == 0


# --- intake, in process and served --------------------------------------------------------------


def cms_like(body: bytes = b"\x30\x00") -> bytes:
    content = SIGNED_DATA + b"\xa0" + bytes([len(body)]) + body
    return b"\x30" + bytes([len(content)]) + content


class MemoryStore:
    def put(self, data: bytes, kind: str, media_type: str) -> StoredObject:
        digest = hashlib.sha256(data).hexdigest()
        return StoredObject(key=f"{kind}/sha256/{digest}", sha256=digest, size=len(data), media_type=media_type)


class Healthy:
    async def ok(self) -> bool:
        return True


@dataclass
class Intake:
    rt: ServiceRuntime
    app: FastAPI
    limits: UploadLimits  # the upload route's, to watch its slots
    tokens: dict[str, str]

    def auth(self, participant: str) -> dict[str, str]:
        # the one place that knows how a participant proves who it is
        return {"Authorization": f"Bearer {self.tokens[participant]}"}


def build(tmp_path, **overrides) -> Intake:
    settings = Settings(**{"service_name": "intake", "data_dir": tmp_path, "kafka_bootstrap": "127.0.0.1:1",
                           **overrides})
    spec = ServiceSpec(name="intake", migrations=MIGRATIONS, consumers=lambda _rt: handlers.CONSUMERS,
                       router=lambda rt: api.router(rt, _signer(tmp_path)), uses_object_store=False)
    rt = ServiceRuntime(spec, settings)
    migrate(rt.engine, [COMMON_MIGRATION, *MIGRATIONS])
    rt.store = MemoryStore()
    rt.kafka_health = Healthy()
    issuer = TokenIssuer()
    rt.authenticator = issuer.authenticator()
    tokens = {}
    with Session(rt.engine) as s:
        s.add(KnownParticipant(participant_id=DISTRICT, kind="district", parent_id="R1"))
        s.add(KnownForm(code="SCH-1", year=THIS_YEAR, respondent_kinds="school", period_type="annual"))
        for school in (A, B):
            s.add(KnownParticipant(participant_id=school, kind="school", parent_id=DISTRICT))
            tokens[school] = issuer.token("head", school, "organization")
        s.commit()
    app = rt.app()
    return Intake(rt, app, upload_limits(app.routes), tokens)


def upload_limits(routes) -> UploadLimits | None:
    """The limits the upload route class was built with, found through the included routers."""
    for route in routes:
        if (found := getattr(type(route), "upload_limits", None)) is not None:
            return found
        inner = getattr(getattr(route, "original_router", None), "routes", None) or getattr(route, "routes", None)
        if inner and (found := upload_limits(inner)) is not None:
            return found
    return None


def _signer(tmp_path):
    from uise_intake.receipts import ReceiptSigner

    return ReceiptSigner.load_or_create(tmp_path / "receipt.key")


def upload(client, headers: dict[str, str], n: int = 1):
    return client.post("/v1/submissions", data={"form_code": "SCH-1", "period": str(THIS_YEAR)},
                       files={"document": ("r.json", json.dumps({"pupils": n}).encode()),
                              "signature": ("r.p7s", cms_like())}, headers=headers)


def test_the_rate_limit_answers_429_with_the_wait_its_bucket_computes(tmp_path):
    intake = build(tmp_path, intake_participant_uploads_per_minute=6, intake_participant_upload_burst=2)
    client = TestClient(intake.app)
    assert [upload(client, intake.auth(A), n).status_code for n in range(2)] == [202, 202]
    limited = upload(client, intake.auth(A), 3)
    error = limited.json()["error"]
    assert (limited.status_code, error["code"]) == (429, "RATE_LIMITED")
    assert 9 <= int(limited.headers["Retry-After"]) <= 10  # one token every 10 s
    # the upload was there at once: read to its end, so the client reads this answer, not a reset
    assert limited.headers.get("connection") != "close"
    assert set(error["message"]) == {"kk", "ru", "en"} and "6 a minute" in error["message"]["en"]
    assert upload(client, intake.auth(B)).status_code == 202  # B has its own bucket
    assert intake.limits.participants.total == 0 and intake.limits.in_flight.in_flight == 0


async def test_a_stalled_upload_in_process_is_cut_and_frees_its_slots(tmp_path):
    intake = build(tmp_path, intake_body_idle_timeout_seconds=0.3, intake_body_grace_seconds=5)

    async def stalls():
        yield PREFIX
        await asyncio.sleep(30)  # never comes

    transport = httpx.ASGITransport(app=intake.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://intake") as client:
        started = time.monotonic()
        resp = await client.post("/v1/submissions", content=stalls(), headers={
            **intake.auth(A), "Content-Type": f"multipart/form-data; boundary={BOUNDARY}"})
    assert (resp.status_code, resp.json()["error"]["code"]) == (408, "REQUEST_TIMEOUT")
    assert time.monotonic() - started < 2 and resp.headers["connection"] == "close"
    assert intake.limits.participants.total == 0 and intake.limits.in_flight.in_flight == 0


# --- the attack, on a real server -------------------------------------------------------------


@contextmanager
def served(app) -> Iterator[int]:
    """`app` served by uvicorn on a free port, in a background thread."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, lifespan="off", log_config=None, access_log=False,
                                           timeout_graceful_shutdown=1))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.01)
    try:
        yield sock.getsockname()[1]
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: dict
    after: float  # seconds from opening the upload to the answer
    closed: bool  # the server closed the connection after answering


class SlowUpload:
    """An upload over a raw socket: headers declaring a 100 kB body, the start of a multipart
    body, `first` bytes of the document at once, then (if `trickle`) one byte a second."""

    def __init__(self, port: int, headers: dict[str, str], first: bytes = b"", trickle: bool = False) -> None:
        self.opened = time.monotonic()
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        head = ["POST /v1/submissions HTTP/1.1", "Host: intake", "Content-Length: 100000",
                f"Content-Type: multipart/form-data; boundary={BOUNDARY}", *(f"{k}: {v}" for k, v in headers.items())]
        self.sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode() + PREFIX + first)
        self.done = threading.Event()
        if trickle:
            threading.Thread(target=self._trickle, daemon=True).start()

    def _trickle(self) -> None:
        while not self.done.wait(1.0):
            try:
                self.sock.send(b"1")
            except OSError:
                return

    def answer(self, timeout: float = 10) -> Answer:
        answer = read_answer(self.sock, self.opened, timeout)
        self.done.set()
        return answer


def read_answer(sock: socket.socket, opened: float, timeout: float = 10) -> Answer:
    """Read the answer, then tell whether the server closed the connection after it."""

    def recv() -> bytes:
        chunk = sock.recv(65536)
        assert chunk, "the server closed the connection without an answer"
        return chunk

    sock.settimeout(timeout)
    raw = b""
    while b"\r\n\r\n" not in raw:
        raw += recv()
    head, body = raw.split(b"\r\n\r\n", 1)
    after = time.monotonic() - opened
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in lines[1:])}
    while len(body) < int(headers["content-length"]):
        body += recv()
    sock.settimeout(1.0)
    try:
        closed = sock.recv(1) == b""
    except ConnectionResetError:
        closed = True
    except TimeoutError:
        closed = False
    sock.close()
    return Answer(int(lines[0].split()[1]), headers, json.loads(body), after, closed)


def wait_until(condition, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.01)


def test_slow_uploads_of_one_participant_do_not_take_intake_from_the_others(tmp_path):
    idle, floor, grace = 3.0, 100, 2.0
    intake = build(tmp_path, intake_max_in_flight=4, intake_participant_max_in_flight=2,
                   intake_body_idle_timeout_seconds=idle, intake_body_min_bytes_per_second=floor,
                   intake_body_grace_seconds=grace)
    lim = intake.limits
    with served(intake.app) as port, ThreadPoolExecutor(8) as pool:
        # A's first upload sends about 500 bytes, then nothing: at 100 B/s that buys 5 s, so the idle
        # timeout (3 s) ends it. Its second sends a byte a second: under the floor once the grace
        # period (2 s) is over.
        stalled = SlowUpload(port, intake.auth(A), first=b"x" * 400)
        wait_until(lambda: lim.participants.in_flight(A) == 1)
        trickling = SlowUpload(port, intake.auth(A), trickle=True)
        wait_until(lambda: lim.participants.in_flight(A) == 2)
        stalled_answer, trickled_answer = pool.submit(stalled.answer), pool.submit(trickling.answer)

        # A's uploads beyond its cap are refused at once, before their bodies, and hold nothing
        extra = [SlowUpload(port, intake.auth(A), trickle=True) for _ in range(6)]
        for answer in (u.answer(timeout=5) for u in extra):
            assert (answer.status, answer.body["error"]["code"]) == (429, "PARTICIPANT_BUSY")
            assert int(answer.headers["retry-after"]) >= 1 and answer.after < 1.0 and answer.closed
        assert lim.participants.in_flight(A) == 2 and lim.in_flight.in_flight == 2  # A holds only its share

        # meanwhile B is served as usual, not shed
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            assert [upload(client, intake.auth(B), n).status_code for n in range(4)] == [202] * 4
        assert lim.participants.in_flight(A) == 2  # A's slow uploads were still going on

        # A's slow uploads are cut off within the configured time, and the connections closed
        trickled = trickled_answer.result(timeout=10)
        assert (trickled.status, trickled.body["error"]["code"]) == (408, "UPLOAD_TOO_SLOW")
        assert grace - 0.1 < trickled.after < grace + 1.0 and trickled.closed
        stalled = stalled_answer.result(timeout=10)
        assert (stalled.status, stalled.body["error"]["code"]) == (408, "REQUEST_TIMEOUT")
        assert stalled.body["error"]["received"] >= 400 and idle - 0.1 < stalled.after < idle + 1.0 and stalled.closed
        assert set(stalled.body["error"]["message"]) == {"kk", "ru", "en"}

        # every slot is free again, and A uploads as usual
        assert lim.participants.total == 0 and lim.in_flight.in_flight == 0
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            assert upload(client, intake.auth(A), 99).status_code == 202
    assert lim.in_flight.shed == 0  # nobody was refused for lack of shared capacity


def test_a_slow_but_steady_upload_gets_through(tmp_path):
    """A school on a slow line, scaled down: 1.5 kB/s against a floor of 1 kB/s, past the grace
    period, with a pause shorter than the idle timeout: received, not cut."""
    intake = build(tmp_path, intake_body_idle_timeout_seconds=1.0, intake_body_min_bytes_per_second=1000,
                   intake_body_grace_seconds=1.0)
    document = json.dumps({"pupils": 1, "note": "x" * 3000}).encode()
    request = httpx.Request("POST", "http://intake/v1/submissions", headers=intake.auth(A),
                            data={"form_code": "SCH-1", "period": str(THIS_YEAR)},
                            files={"document": ("r.json", document), "signature": ("r.p7s", cms_like())})
    body = request.read()
    assert len(body) > 3300
    with served(intake.app) as port:
        sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        head = ["POST /v1/submissions HTTP/1.1", "Host: intake", f"Content-Length: {len(body)}",
                *(f"{k}: {v}" for k, v in request.headers.items() if k.lower() not in ("host", "content-length"))]
        opened = time.monotonic()
        sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode() + body[:600])
        sent = 600
        while sent < len(body):
            time.sleep(0.6 if sent == 600 + 150 * 10 else 0.1)  # one pause, shorter than the idle timeout
            sock.sendall(body[sent:sent + 150])
            sent += 150
        answer = read_answer(sock, opened)
    assert answer.status == 202, answer.body
    assert answer.after > 2.0  # it really ran past the grace period
    assert intake.limits.participants.total == 0 and intake.limits.in_flight.in_flight == 0
