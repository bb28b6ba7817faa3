"""Where each part of the embedded stack listens, and the environment the services get."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from uise_common.testing import free_port
from uise_stack.s3server import S3Principal, new_principals, read_credentials

SERVICES = ("registry", "intake", "signature", "validation", "routing", "deadline", "reporting", "identity")
# The web edge: no business data, no Kafka; it calls the services above (docs/portal.md).
EDGE = ("portal",)
EVERYTHING = SERVICES + EDGE
DOCUMENT_BUCKET = "uise-documents"
KAFKA_BUCKET = "uise-kafka"
# A replica's port on the fixed layout: its first instance's port plus this for each one more
# (intake 8002, intake-2 8102, intake-3 8202), so `make run --replicas` stays predictable.
REPLICA_PORT_STEP = 100


def instance_name(service: str, n: int) -> str:
    """The n-th replica (1-based) of a service: the first keeps the service's own name (logs,
    ports, traces as before), the others are `intake-2`, `intake-3`, …"""
    return service if n == 1 else f"{service}-{n}"


def service_of(instance: str) -> str:
    """`intake-2` → `intake` (service names hold no hyphen)."""
    return instance.split("-", 1)[0]


def parse_replicas(text: str) -> dict[str, int]:
    """`intake=2,signature=2` → {"intake": 2, "signature": 2}; any service but the portal."""
    out: dict[str, int] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, _, count = part.partition("=")
        name = name.strip()
        if name not in SERVICES:
            raise ValueError(f"--replicas: {name!r} is not one of {', '.join(SERVICES)}")
        try:
            out[name] = int(count)
        except ValueError:
            raise ValueError(f"--replicas: {part!r} is not service=count") from None
        if out[name] < 1:
            raise ValueError(f"--replicas: {name} needs at least 1 replica, not {out[name]}")
    return out


@dataclass
class StackConfig:
    base_dir: Path = Path("var")
    kafka_port: int = 9092
    s3_port: int = 9000
    redis_port: int = 6390
    service_ports: dict[str, int] = field(
        default_factory=lambda: {name: 8001 + i for i, name in enumerate(EVERYTHING)}
    )
    database_url: str | None = field(default_factory=lambda: os.environ.get("DATABASE_URL") or os.environ.get("UISE_DATABASE_URL"))
    redis_url: str | None = field(default_factory=lambda: os.environ.get("REDIS_URL") or os.environ.get("UISE_REDIS_URL"))
    otlp_endpoint: str | None = field(default_factory=lambda: os.environ.get("UISE_OTLP_ENDPOINT"))
    # Where tansu keeps the log: "s3" (the embedded S3, survives a broker restart) or "memory"
    # (nothing survives; for rehearsals and benches: tansu's S3 engine lists a partition's whole
    # log on the S3 server for each fetch, so its cost grows with the log; docs/operations.md).
    broker_storage: str = "s3"
    # How many processes run each service (default 1). Replicas share the service's database
    # (its SQLite file or its PostgreSQL schema) and its Kafka consumer groups, so the broker splits
    # the partitions between them; each has its own HTTP port, log and trace file.
    replicas: dict[str, int] = field(default_factory=dict)
    # Free ports for every process (tests, benches) rather than the fixed layout.
    ephemeral_ports: bool = False
    # Extra environment per service (tests pin identity's PKI time, admit the NCA test ids, …).
    extra_env: dict[str, dict[str, str]] = field(default_factory=dict)
    # Further CA certificates to trust beside the stack's own test CA (e.g. NCA RK's test CA).
    extra_trust: tuple[Path, ...] = ()
    # The embedded S3's principals, fresh random keys for each run: the services may use the
    # documents bucket, the broker its log's bucket (uise_stack.s3server; docs/operations.md).
    s3_principals: dict[str, S3Principal] = field(repr=False, default_factory=lambda: new_principals(
        {"services": [DOCUMENT_BUCKET], "broker": [KAFKA_BUCKET]}))

    def __post_init__(self) -> None:
        for service, count in self.replicas.items():
            if service not in SERVICES or count < 1:
                raise ValueError(f"replicas: {service}={count} (any of {', '.join(SERVICES)}, at least 1)")
            for n in range(2, count + 1):
                self.service_ports.setdefault(instance_name(service, n),
                                              self.service_ports[service] + REPLICA_PORT_STEP * (n - 1))

    @classmethod
    def ephemeral(cls, base_dir: Path, **overrides) -> StackConfig:
        """Free ports everywhere, so tests can run beside a `make run`."""
        replicas = overrides.get("replicas", {})
        names = [*EVERYTHING, *(instance_name(s, n) for s, count in replicas.items() for n in range(2, count + 1))]
        return cls(base_dir=base_dir, kafka_port=free_port(), s3_port=free_port(), redis_port=free_port(),
                   service_ports={name: free_port() for name in names}, ephemeral_ports=True, **overrides)

    @classmethod
    def running(cls, base_dir: Path) -> StackConfig | None:
        """The configuration of the stack `uise-stack up` runs in `base_dir`, as it wrote it down
        (ports, database, the S3 keys of this run); None when none runs there."""
        state_file = base_dir / "stack.json"
        if not state_file.exists():
            return None
        state = json.loads(state_file.read_text())
        try:
            os.kill(state["pid"], 0)
        except ProcessLookupError:
            return None
        ports = {name: int(url.rsplit(":", 1)[1]) for name, url in state["services"].items()}
        config = cls(base_dir=base_dir, kafka_port=int(state["kafka"].rsplit(":", 1)[1]),
                     s3_port=int(state["s3"].rsplit(":", 1)[1]), service_ports=ports,
                     database_url=None if "<service>" in state["database"] else state["database"],
                     redis_url=state["redis"])
        config.s3_principals = read_credentials(config.s3_credentials_file)
        return config

    def scale(self, service: str, count: int) -> None:
        """Run `count` processes of `service` from now on (ports for new replicas included)."""
        if service not in SERVICES or count < 1:
            raise ValueError(f"replicas: {service}={count} (any of {', '.join(SERVICES)}, at least 1)")
        self.replicas[service] = count
        for n in range(2, count + 1):
            name = instance_name(service, n)
            if name not in self.service_ports:
                self.service_ports[name] = (free_port() if self.ephemeral_ports
                                            else self.service_ports[service] + REPLICA_PORT_STEP * (n - 1))

    def instances(self, service: str) -> list[str]:
        """The service's processes by name: `intake`, then `intake-2`, … (its replicas)."""
        return [instance_name(service, n) for n in range(1, self.replicas.get(service, 1) + 1)]

    @property
    def all_instances(self) -> list[str]:
        """Every service process of the stack, first instances first (they migrate the databases)."""
        return [*EVERYTHING, *(i for s in EVERYTHING for i in self.instances(s)[1:])]

    @property
    def kafka_bootstrap(self) -> str:
        return f"127.0.0.1:{self.kafka_port}"

    @property
    def s3_endpoint(self) -> str:
        return f"127.0.0.1:{self.s3_port}"

    @property
    def s3_credentials_file(self) -> Path:
        """The S3 principals' keys, written at start (mode 0600) for the S3 server and for ops."""
        return self.base_dir / "s3-credentials.json"

    @property
    def effective_redis_url(self) -> str:
        return self.redis_url or f"redis://127.0.0.1:{self.redis_port}/0"

    @property
    def trust_dir(self) -> Path:
        return self.base_dir / "pki" / "trust"

    @property
    def log_dir(self) -> Path:
        return self.base_dir / "logs"

    @property
    def clock_file(self) -> Path:
        """The business clock every service reads (`uise-stack clock`): absent = the real clock."""
        return self.base_dir / "clock.json"

    @property
    def data_office_file(self) -> Path:
        """The first data-office credential the stack made with identity's ops command (0600)."""
        return self.base_dir / "data-office.json"

    def url(self, service: str) -> str:
        """The service's first instance (or, given an instance name, that one)."""
        return f"http://127.0.0.1:{self.service_ports[service]}"

    def urls(self, service: str) -> list[str]:
        """Every replica of the service: clients spread their requests over them (the embedded
        stack has no load balancer)."""
        return [self.url(i) for i in self.instances(service)]

    def service_env(self, service: str, instance: str | None = None) -> dict[str, str]:
        """The environment of one process: `service`'s, listening on `instance`'s port (default:
        its first instance). A replica names itself in UISE_INSTANCE_NAME, which keeps its trace
        file apart from its siblings'."""
        instance = instance or service
        env = {
            "UISE_SERVICE_NAME": service,
            "UISE_HTTP_PORT": str(self.service_ports[instance]),
            "UISE_DATA_DIR": str(self.base_dir.resolve()),
            "UISE_KAFKA_BOOTSTRAP": self.kafka_bootstrap,
            "UISE_S3_ENDPOINT": self.s3_endpoint,
            "UISE_S3_ACCESS_KEY": self.s3_principals["services"].access_key,
            "UISE_S3_SECRET_KEY": self.s3_principals["services"].secret_key,
            "UISE_S3_BUCKET": DOCUMENT_BUCKET,
            "UISE_REDIS_URL": self.effective_redis_url,
            "UISE_TRUST_DIR": str(self.trust_dir.resolve()),
            "UISE_AUTH_ISSUER": self.url("identity"),
            "UISE_CLOCK_FILE": str(self.clock_file.resolve()),
            # where report links point (reporting signs them; docs/integrators.md)
            "UISE_REPORTING_PUBLIC_BASE_URL": self.url("reporting"),
        }
        if service in EDGE:  # the portal's own settings (uise_portal.settings), not a service's
            env.update({"UISE_PORTAL_HTTP_PORT": str(self.service_ports[service]),
                        **{f"UISE_PORTAL_{s.upper()}_URL": self.url(s) for s in SERVICES if s != "signature"}})
        if instance != service:
            env["UISE_INSTANCE_NAME"] = instance
        if self.database_url:
            env["UISE_DATABASE_URL"] = self.database_url
        if self.otlp_endpoint:
            env["UISE_OTLP_ENDPOINT"] = self.otlp_endpoint
        env.update(self.extra_env.get(service, {}))
        return env
