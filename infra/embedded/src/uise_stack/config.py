"""Where each part of the embedded stack listens, and the environment the services get."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass, field
from pathlib import Path

from uise_stack.s3server import S3Principal, new_principals

SERVICES = ("registry", "intake", "signature", "validation", "routing", "deadline", "reporting", "identity")
# The web edge: no business data, no Kafka; it calls the services above (docs/portal.md).
EDGE = ("portal",)
EVERYTHING = SERVICES + EDGE
DOCUMENT_BUCKET = "uise-documents"
KAFKA_BUCKET = "uise-kafka"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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
    # Extra environment per service (tests pin identity's PKI time, admit the NCA test ids, …).
    extra_env: dict[str, dict[str, str]] = field(default_factory=dict)
    # Further CA certificates to trust beside the stack's own test CA (e.g. NCA RK's test CA).
    extra_trust: tuple[Path, ...] = ()
    # The embedded S3's principals, fresh random keys for each run: the services may use the
    # documents bucket, the broker its log's bucket (uise_stack.s3server; docs/operations.md).
    s3_principals: dict[str, S3Principal] = field(repr=False, default_factory=lambda: new_principals(
        {"services": [DOCUMENT_BUCKET], "broker": [KAFKA_BUCKET]}))

    @classmethod
    def ephemeral(cls, base_dir: Path, **overrides) -> StackConfig:
        """Free ports everywhere, so tests can run beside a `make run`."""
        return cls(base_dir=base_dir, kafka_port=free_port(), s3_port=free_port(), redis_port=free_port(),
                   service_ports={name: free_port() for name in EVERYTHING}, **overrides)

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
        return f"http://127.0.0.1:{self.service_ports[service]}"

    def service_env(self, service: str) -> dict[str, str]:
        env = {
            "UISE_SERVICE_NAME": service,
            "UISE_HTTP_PORT": str(self.service_ports[service]),
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
        if self.database_url:
            env["UISE_DATABASE_URL"] = self.database_url
        if self.otlp_endpoint:
            env["UISE_OTLP_ENDPOINT"] = self.otlp_endpoint
        env.update(self.extra_env.get(service, {}))
        return env
