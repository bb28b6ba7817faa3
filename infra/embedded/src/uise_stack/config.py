"""Where each part of the embedded stack listens, and the environment the services get."""

from __future__ import annotations

import os
import secrets
import socket
from dataclasses import dataclass, field
from pathlib import Path

SERVICES = ("registry", "intake", "signature", "validation", "routing", "deadline", "reporting")
S3_ACCESS_KEY = "uise"
S3_SECRET_KEY = "uise-secret"
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
        default_factory=lambda: {name: 8001 + i for i, name in enumerate(SERVICES)}
    )
    database_url: str | None = field(default_factory=lambda: os.environ.get("DATABASE_URL") or os.environ.get("UISE_DATABASE_URL"))
    redis_url: str | None = field(default_factory=lambda: os.environ.get("REDIS_URL") or os.environ.get("UISE_REDIS_URL"))
    otlp_endpoint: str | None = field(default_factory=lambda: os.environ.get("UISE_OTLP_ENDPOINT"))
    # Intake's ops endpoint (API keys) is enabled with a token made for this run; the stack uses
    # it to issue the demo participants' keys (docs/intake.md).
    intake_admin_token: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    # Submissions are authenticated by API keys, not by a header (there is no gateway here).
    # The per-participant abuse limits are loosened here: the demo has two schools, and the e2e
    # tests play one school posting the hostile corpus and a load-shedding burst beyond the
    # process's in-flight limit in seconds. intake's own tests cover those limits on a real server.
    intake_env: dict[str, str] = field(default_factory=lambda: {
        "UISE_INTAKE_TRUST_GATEWAY_HEADER": "false",
        "UISE_INTAKE_PARTICIPANT_MAX_IN_FLIGHT": "64",
        "UISE_INTAKE_PARTICIPANT_UPLOADS_PER_MINUTE": "0",
    })

    @classmethod
    def ephemeral(cls, base_dir: Path, **overrides) -> StackConfig:
        """Free ports everywhere, so tests can run beside a `make run`."""
        return cls(base_dir=base_dir, kafka_port=free_port(), s3_port=free_port(), redis_port=free_port(),
                   service_ports={name: free_port() for name in SERVICES}, **overrides)

    @property
    def kafka_bootstrap(self) -> str:
        return f"127.0.0.1:{self.kafka_port}"

    @property
    def s3_endpoint(self) -> str:
        return f"127.0.0.1:{self.s3_port}"

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
    def intake_keys_file(self) -> Path:
        """The demo participants' API keys, written at start (mode 0600)."""
        return self.base_dir / "intake-keys.json"

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.service_ports[service]}"

    def service_env(self, service: str) -> dict[str, str]:
        env = {
            "UISE_SERVICE_NAME": service,
            "UISE_HTTP_PORT": str(self.service_ports[service]),
            "UISE_DATA_DIR": str(self.base_dir.resolve()),
            "UISE_KAFKA_BOOTSTRAP": self.kafka_bootstrap,
            "UISE_S3_ENDPOINT": self.s3_endpoint,
            "UISE_S3_ACCESS_KEY": S3_ACCESS_KEY,
            "UISE_S3_SECRET_KEY": S3_SECRET_KEY,
            "UISE_S3_BUCKET": DOCUMENT_BUCKET,
            "UISE_REDIS_URL": self.effective_redis_url,
            "UISE_TRUST_DIR": str(self.trust_dir.resolve()),
        }
        if self.database_url:
            env["UISE_DATABASE_URL"] = self.database_url
        if self.otlp_endpoint:
            env["UISE_OTLP_ENDPOINT"] = self.otlp_endpoint
        if service == "intake":
            env["UISE_INTAKE_ADMIN_TOKEN"] = self.intake_admin_token
            env.update(self.intake_env)
        return env
