"""The embedded S3 server (uise_stack.s3server) refuses what it must and serves what the stack
needs: a real launcher process on a free port, spoken to over HTTP by httpx, the minio client
(as the services' ObjectStore does) and tansu (the broker keeps its log on it)."""

from __future__ import annotations

import asyncio
import io
import os
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from unittest import mock

import httpx
import pytest
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from minio import Minio
from minio.error import S3Error

from uise_common.objectstore import ObjectStore
from uise_common.settings import Settings
from uise_stack.config import DOCUMENT_BUCKET, KAFKA_BUCKET, free_port
from uise_stack.processes import Proc, port_open, spawn, wait_until
from uise_stack.s3server import (
    S3Principal,
    main,
    new_principals,
    read_credentials,
    write_credentials,
)

pytestmark = pytest.mark.integration


@dataclass
class S3:
    endpoint: str
    principals: dict[str, S3Principal]
    proc: Proc

    @property
    def url(self) -> str:
        return f"http://{self.endpoint}"

    def client(self, who: str = "services", secret: str | None = None) -> Minio:
        p = self.principals[who]
        return Minio(self.endpoint, access_key=p.access_key, secret_key=secret or p.secret_key, secure=False)


def start_s3(tmp: Path) -> S3:
    principals = new_principals({"services": [DOCUMENT_BUCKET], "broker": [KAFKA_BUCKET]})
    creds = tmp / "s3-credentials.json"
    write_credentials(creds, principals)
    port = free_port()
    proc = spawn("s3", [sys.executable, "-m", "uise_stack.s3server", "--port", str(port),
                        "--credentials-file", str(creds)], tmp / "logs")
    wait_until(lambda: port_open(port), "S3 server", proc, timeout=60)
    return S3(f"127.0.0.1:{port}", principals, proc)


@pytest.fixture(scope="module")
def s3(tmp_path_factory) -> Iterator[S3]:
    server = start_s3(tmp_path_factory.mktemp("s3"))
    try:
        yield server
    finally:
        server.proc.stop()


@pytest.fixture
def stored(s3) -> tuple[str, bytes]:
    """An object put with the right credentials."""
    key, data = f"doc/{uuid.uuid4().hex}.json", b'{"pupils": 412}'
    s3.client().put_object(DOCUMENT_BUCKET, key, io.BytesIO(data), len(data))
    return key, data


def signed_request(s3: S3, method: str, path: str, body: bytes = b"", who: str = "services",
                   at: datetime | None = None) -> dict[str, str]:
    """SigV4 headers made by botocore, independently of the server's code."""
    p = s3.principals[who]
    req = AWSRequest(method=method, url=f"{s3.url}{path}", data=body, headers={"host": s3.endpoint})
    with mock.patch("botocore.auth.get_current_datetime", return_value=at or datetime.now(UTC).replace(tzinfo=None)):
        S3SigV4Auth(Credentials(p.access_key, p.secret_key), "s3", "us-east-1").add_auth(req)
    return dict(req.headers.items())


def error_code(resp: httpx.Response) -> str:
    return resp.text.split("<Code>")[1].split("</Code>")[0] if "<Code>" in resp.text else ""


# --- refused --------------------------------------------------------------------------------------


def test_anonymous_requests_are_refused(s3, stored):
    key, data = stored
    for method, path in [("GET", "/"), ("GET", f"/{DOCUMENT_BUCKET}"), ("GET", f"/{DOCUMENT_BUCKET}?list-type=2"),
                         ("GET", f"/{DOCUMENT_BUCKET}/{key}"), ("HEAD", f"/{DOCUMENT_BUCKET}/{key}"),
                         ("DELETE", f"/{DOCUMENT_BUCKET}/{key}"), ("GET", f"/{KAFKA_BUCKET}")]:
        resp = httpx.request(method, s3.url + path)
        assert resp.status_code == 403, (method, path, resp.status_code)
        assert method == "HEAD" or error_code(resp) == "AccessDenied"
    resp = httpx.put(f"{s3.url}/{DOCUMENT_BUCKET}/{key}", content=b"forged")
    assert resp.status_code == 403
    # nothing was deleted or overwritten
    assert s3.client().get_object(DOCUMENT_BUCKET, key).read() == data


def test_a_wrong_secret_or_an_unknown_key_is_refused(s3, stored):
    key, _ = stored
    with pytest.raises(S3Error) as wrong:
        s3.client(secret="not-the-secret").get_object(DOCUMENT_BUCKET, key)
    assert wrong.value.code == "SignatureDoesNotMatch"
    stranger = Minio(s3.endpoint, access_key="AKIAUISEUNKNOWN00000", secret_key="x" * 40, secure=False)
    with pytest.raises(S3Error) as unknown:
        stranger.list_objects(DOCUMENT_BUCKET).__next__()
    assert unknown.value.code == "InvalidAccessKeyId"
    # the old fixed credentials of the embedded stack open nothing
    old = Minio(s3.endpoint, access_key="uise", secret_key="uise-secret", secure=False)
    with pytest.raises(S3Error):
        old.bucket_exists(DOCUMENT_BUCKET)


def test_moto_control_api_is_refused(s3, stored):
    key, data = stored
    for path in ("/moto-api/reset-auth", "/moto-api/reset", "/moto-api/seed?a=1", "/moto-api/data.json",
                 "/moto-api/"):
        resp = httpx.post(s3.url + path, content=b"1000") if "reset" in path else httpx.get(s3.url + path)
        assert resp.status_code == 403, (path, resp.status_code)
        assert error_code(resp) == "AccessDenied"
    # neither switched authentication off nor wiped the data
    assert httpx.get(f"{s3.url}/{DOCUMENT_BUCKET}/{key}").status_code == 403
    assert s3.client().get_object(DOCUMENT_BUCKET, key).read() == data


def test_an_account_header_is_refused(s3, stored):
    key, _ = stored
    path = f"/{DOCUMENT_BUCKET}/{key}"
    headers = {**signed_request(s3, "GET", path), "x-moto-account-id": "111111111111"}
    assert httpx.get(s3.url + path, headers=headers).status_code == 403


def test_a_body_other_than_the_signed_one_is_refused(s3):
    path = f"/{DOCUMENT_BUCKET}/doc/{uuid.uuid4().hex}"
    headers = signed_request(s3, "PUT", path, body=b"the signed bytes")
    resp = httpx.put(s3.url + path, headers=headers, content=b"other bytes")
    assert resp.status_code == 400 and error_code(resp) == "XAmzContentSHA256Mismatch"
    assert httpx.put(s3.url + path, headers=headers, content=b"the signed bytes").status_code == 200


def test_a_request_signed_long_ago_is_refused(s3, stored):
    key, _ = stored
    path = f"/{DOCUMENT_BUCKET}/{key}"
    old = datetime.now(UTC).replace(tzinfo=None) - timedelta(minutes=20)
    resp = httpx.get(s3.url + path, headers=signed_request(s3, "GET", path, at=old))
    assert resp.status_code == 403 and error_code(resp) == "RequestTimeTooSkewed"
    assert httpx.get(s3.url + path, headers=signed_request(s3, "GET", path)).status_code == 200


def test_each_principal_reaches_only_its_own_buckets(s3, stored):
    key, _ = stored
    with pytest.raises(S3Error) as services_on_log:
        list(s3.client("services").list_objects(KAFKA_BUCKET))
    assert services_on_log.value.code == "AccessDenied"
    with pytest.raises(S3Error) as broker_on_documents:
        s3.client("broker").get_object(DOCUMENT_BUCKET, key)
    assert broker_on_documents.value.code == "AccessDenied"
    with pytest.raises(S3Error) as new_bucket:
        s3.client("services").make_bucket("uise-elsewhere")
    assert new_bucket.value.code == "AccessDenied"


# --- served -------------------------------------------------------------------------------------


def test_the_services_object_store_puts_and_gets(s3):
    p = s3.principals["services"]
    store = ObjectStore.from_settings(Settings(s3_endpoint=s3.endpoint, s3_access_key=p.access_key,
                                               s3_secret_key=p.secret_key, s3_bucket=DOCUMENT_BUCKET))
    assert store.ping()
    data = os.urandom(100 * 1024)
    obj = store.put(data, "document", "application/octet-stream")
    assert store.exists(obj.key) and store.get(obj) == data
    assert store.put(data, "document", "application/octet-stream") == obj  # same bytes, same address


def test_a_presigned_link_works_until_it_expires(s3, stored):
    key, data = stored
    client = s3.client()
    url = client.presigned_get_object(DOCUMENT_BUCKET, key, expires=timedelta(seconds=3))
    issued = time.monotonic()
    assert "X-Amz-Signature=" in url
    resp = httpx.get(url)
    assert resp.status_code == 200 and resp.content == data
    # a tampered signature, or the signature moved to another object, opens nothing
    sig = url.split("X-Amz-Signature=")[1]
    flipped = sig[:-1] + ("0" if sig[-1] != "0" else "1")
    assert httpx.get(url.replace(sig, flipped)).status_code == 403
    other_key, _ = f"doc/{uuid.uuid4().hex}.json", None
    client.put_object(DOCUMENT_BUCKET, other_key, io.BytesIO(b"secret"), 6)
    moved = httpx.get(url.replace(key, other_key))
    assert moved.status_code == 403 and error_code(moved) == "SignatureDoesNotMatch"
    # a link to write is not honoured: links are for downloads
    put_url = client.presigned_put_object(DOCUMENT_BUCKET, other_key, expires=timedelta(minutes=5))
    assert httpx.put(put_url, content=b"overwritten").status_code == 403
    assert client.get_object(DOCUMENT_BUCKET, other_key).read() == b"secret"
    time.sleep(max(0.0, issued + 4.5 - time.monotonic()))
    expired = httpx.get(url)
    assert expired.status_code == 403 and "expired" in expired.text


def test_a_presigned_link_keeps_its_response_overrides(s3, stored):
    key, data = stored
    url = s3.client().presigned_get_object(
        DOCUMENT_BUCKET, key, expires=timedelta(minutes=5),
        response_headers={"response-content-disposition": 'attachment; filename="report 2026.json"'})
    resp = httpx.get(url)
    assert resp.status_code == 200 and resp.content == data
    assert resp.headers["content-disposition"] == 'attachment; filename="report 2026.json"'


def test_tansu_keeps_its_log_on_the_authenticated_s3(s3, tmp_path):
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    from uise_stack.stack import tansu_binary

    broker = s3.principals["broker"]
    port = free_port()
    listener = f"tcp://127.0.0.1:{port}"
    tansu = spawn("kafka", [tansu_binary(), "broker", "--listener-url", listener, "--advertised-listener-url",
                            listener, "--storage-engine", f"s3://{KAFKA_BUCKET}/"], tmp_path,
                  {"AWS_ENDPOINT": s3.url, "AWS_ALLOW_HTTP": "true", "AWS_ACCESS_KEY_ID": broker.access_key,
                   "AWS_SECRET_ACCESS_KEY": broker.secret_key, "AWS_DEFAULT_REGION": "us-east-1",
                   "RUST_LOG": "warn"})
    topic = f"s3auth-{uuid.uuid4().hex[:8]}"
    log_from = s3.proc.log_path.stat().st_size

    async def roundtrip() -> list[bytes]:
        bootstrap = f"127.0.0.1:{port}"
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        await admin.start()
        try:
            await admin.create_topics([NewTopic(topic, 1, 1)])
        finally:
            await admin.close()
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
        await producer.start()
        try:
            for n in range(3):
                await producer.send_and_wait(topic, f"event {n}".encode())
        finally:
            await producer.stop()
        consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                                    group_id=f"g-{topic}")
        await consumer.start()
        try:
            got: list[bytes] = []
            async with asyncio.timeout(60):
                while len(got) < 3:
                    batch = await consumer.getmany(timeout_ms=1000)
                    got += [m.value for msgs in batch.values() for m in msgs]
            return got
        finally:
            await consumer.stop()

    try:
        wait_until(lambda: port_open(port), "tansu", tansu)
        assert asyncio.run(roundtrip()) == [b"event 0", b"event 1", b"event 2"]
        stored = [o.object_name for o in s3.client("broker").list_objects(KAFKA_BUCKET, recursive=True)]
        assert any(topic in name for name in stored), stored
        # and none of its requests was refused on the way (it retries, which would hide them)
        with s3.proc.log_path.open("rb") as log:
            log.seek(log_from)
            refused = [line for line in log.read().decode().splitlines() if " 403 " in line or "refused" in line]
        assert not refused, refused
    finally:
        tansu.stop()


# --- the credentials file and the launcher's arguments ---------------------------------------


def test_credentials_are_random_and_written_for_the_owner_only(tmp_path):
    a = new_principals({"services": [DOCUMENT_BUCKET], "broker": [KAFKA_BUCKET]})
    b = new_principals({"services": [DOCUMENT_BUCKET], "broker": [KAFKA_BUCKET]})
    assert a["services"].access_key != b["services"].access_key
    assert a["services"].secret_key != b["services"].secret_key != "uise-secret"
    assert a["services"].access_key != a["broker"].access_key
    path = tmp_path / "s3-credentials.json"
    path.write_text("{}")
    path.chmod(0o644)  # an older, readable file is replaced, not reused with its mode
    write_credentials(path, a)
    assert path.stat().st_mode & 0o777 == 0o600
    assert read_credentials(path) == a


def test_the_launcher_refuses_a_readable_credentials_file_and_a_public_address(tmp_path, capsys):
    path = tmp_path / "c.json"
    write_credentials(path, new_principals({"uise": [DOCUMENT_BUCKET]}))
    path.chmod(0o644)
    with pytest.raises(SystemExit) as readable:
        main(["--port", "1", "--credentials-file", str(path)])
    assert readable.value.code == 2 and "chmod 600" in capsys.readouterr().err
    path.chmod(0o600)
    for host in ("0.0.0.0", "192.168.1.10", "localhost.example"):
        with pytest.raises(SystemExit) as public:
            main(["--host", host, "--port", "1", "--credentials-file", str(path)])
        assert public.value.code == 2
    assert "loopback" in capsys.readouterr().err


# --- cost -----------------------------------------------------------------------------------------


# moto's S3 application served alone, without the gate or IAM checks: what the launcher serves,
# minus the checking, so the difference is the checking (plain `moto.server` also dispatches
# between every AWS service on each request, which costs more than the checks do).
UNCHECKED_S3_APP = """
import sys
from moto.moto_server.werkzeug_app import MotoRequestHandler, create_backend_app
from werkzeug.serving import make_server
make_server("127.0.0.1", int(sys.argv[1]), create_backend_app("s3"), threaded=True,
            request_handler=MotoRequestHandler).serve_forever()
"""


def test_what_signature_checking_costs(s3):
    """put+get of a 100 KB object through the minio client, on plain `moto.server`, on moto's S3
    app alone, and on this launcher, interleaved in one run so machine load hits all alike.
    Printed, not asserted (timings on a shared machine are no pass/fail signal); `pytest -s`."""
    ports = [free_port(), free_port()]
    others = [subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(ports[0])],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL),
              subprocess.Popen([sys.executable, "-c", UNCHECKED_S3_APP, str(ports[1])],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    try:
        clients = {}
        for name, port in zip(("moto.server (no auth)", "moto S3 app (no auth)"), ports, strict=True):
            wait_until(lambda port=port: port_open(port), name)
            clients[name] = Minio(f"127.0.0.1:{port}", access_key="any", secret_key="any", secure=False)
            clients[name].make_bucket(DOCUMENT_BUCKET)
        clients["uise s3server (SigV4 + IAM)"] = s3.client()
        data = os.urandom(100 * 1024)
        times: dict[str, list[float]] = {name: [] for name in clients}

        def put_get(client: Minio) -> float:
            key = f"bench/{uuid.uuid4().hex}"
            t0 = time.perf_counter()
            client.put_object(DOCUMENT_BUCKET, key, io.BytesIO(data), len(data))
            resp = client.get_object(DOCUMENT_BUCKET, key)
            got = resp.read()
            resp.close()
            resp.release_conn()
            elapsed = time.perf_counter() - t0
            assert got == data
            return elapsed

        for client in clients.values():  # warm up connections and code paths
            put_get(client)
        for _ in range(60):
            for name, client in clients.items():
                times[name].append(put_get(client))
        print("\nput+get of 100 KB through the minio client, 60 rounds each, interleaved:")
        medians = {}
        for name, ts in times.items():
            ms = sorted(t * 1000 for t in ts)
            medians[name] = statistics.median(ms)
            print(f"  {name:30} median {medians[name]:6.2f} ms   p90 {ms[int(len(ms) * 0.9)]:6.2f} ms")
        base, auth = medians["moto S3 app (no auth)"], medians["uise s3server (SigV4 + IAM)"]
        print(f"  signature and policy checks add ≈ {auth - base:.2f} ms per put+get ({(auth / base - 1) * 100:+.0f} %)")
    finally:
        for proc in others:
            proc.kill()
            proc.wait()
