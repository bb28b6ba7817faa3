"""Settings from the environment, all with the UISE_ prefix (DATABASE_URL and REDIS_URL are
also read without it, as the usual names deployments set)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="UISE_", extra="ignore")

    service_name: str = "uise"
    # This process among the service's replicas (`intake-2`); unset for a lone process. Its local
    # trace and metrics files take this name, so replicas never append to one file.
    instance_name: str | None = None
    http_host: str = "127.0.0.1"
    http_port: int = 8000
    data_dir: Path = Path("var")

    kafka_bootstrap: str = "127.0.0.1:9092"
    kafka_ping_seconds: float = 1.5  # how long a health answer is reused
    kafka_ping_timeout_seconds: float = 3.0

    # Kafka security (issue 7; docs/operations.md). PLAINTEXT is for the embedded stack, whose
    # broker listens on 127.0.0.1 only. In production every client authenticates with SCRAM as
    # its own principal (SASL_PLAINTEXT inside the private compose network, SASL_SSL across
    # hosts), and the broker's ACLs let that principal write only the topics it produces and
    # read only those it consumes. The admin principal is for the init job and the ops tools.
    kafka_security_protocol: Literal["PLAINTEXT", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    kafka_sasl_mechanism: Literal["SCRAM-SHA-512", "SCRAM-SHA-256"] = "SCRAM-SHA-512"
    kafka_username: str | None = None
    kafka_password: SecretStr | None = None
    kafka_ssl_cafile: Path | None = None  # PEM CAs for SASL_SSL; unset: the system's CAs

    @field_validator("kafka_security_protocol", "kafka_sasl_mechanism", mode="before")
    @classmethod
    def _kafka_names_are_upper_case(cls, value: object) -> object:
        return value.strip().upper() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _kafka_credentials_match_the_protocol(self) -> Settings:
        # A half-configured client would connect anonymously or not at all; say which
        # variable is missing at start-up instead.
        protocol = self.kafka_security_protocol
        password = self.kafka_password.get_secret_value() if self.kafka_password else ""
        if protocol.startswith("SASL_") and not (self.kafka_username and password):
            raise ValueError(f"UISE_KAFKA_SECURITY_PROTOCOL={protocol} needs UISE_KAFKA_USERNAME "
                             "and UISE_KAFKA_PASSWORD (the service's SCRAM credentials)")
        if protocol == "PLAINTEXT" and (self.kafka_username or password):
            raise ValueError("UISE_KAFKA_USERNAME/UISE_KAFKA_PASSWORD are set but "
                             "UISE_KAFKA_SECURITY_PROTOCOL is PLAINTEXT, which sends no "
                             "credentials: set SASL_PLAINTEXT or SASL_SSL")
        if self.kafka_ssl_cafile is not None and protocol != "SASL_SSL":
            raise ValueError("UISE_KAFKA_SSL_CAFILE is used only with "
                             f"UISE_KAFKA_SECURITY_PROTOCOL=SASL_SSL, not {protocol}")
        return self

    s3_endpoint: str = "127.0.0.1:9000"
    s3_access_key: str = "uise"
    s3_secret_key: str = "uise-secret"
    s3_bucket: str = "uise-documents"
    s3_secure: bool = False
    s3_region: str = "us-east-1"
    # Where callers reach object storage for presigned download links (default: s3_endpoint).
    s3_public_endpoint: str | None = None
    s3_public_secure: bool = False

    database_url: str | None = Field(
        default=None, validation_alias=AliasChoices("UISE_DATABASE_URL", "DATABASE_URL")
    )
    redis_url: str | None = Field(
        default=None, validation_alias=AliasChoices("UISE_REDIS_URL", "REDIS_URL")
    )

    otlp_endpoint: str | None = Field(
        default=None,
        validation_alias=AliasChoices("UISE_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT"),
    )
    log_level: str = "INFO"

    # The business clock (uise_common.clock): real unless a test or a rehearsal moves it.
    clock_offset_seconds: float = 0.0
    clock_fixed: datetime | None = None
    clock_file: Path | None = None

    # Authentication (issue 7; docs/identity.md). Every service verifies bearer tokens locally
    # against the issuer's JWKS; the issuer is the identity service unless a ministry's own
    # identity provider is configured here instead (its tokens then carry the claims below).
    auth_issuer: str = "http://127.0.0.1:8008"
    auth_jwks_url: str | None = None  # default: <issuer>/.well-known/jwks.json
    auth_audience: str = "uise"
    auth_leeway_seconds: float = 30.0
    auth_participant_claim: str = "uise_participant"
    auth_role_claim: str = "uise_role"

    # Identity service (issue 7).
    identity_access_token_seconds: int = 300  # short: services verify locally, revocation is a list
    identity_session_hours: float = 10.0  # a working day; refresh tokens die with the session
    identity_challenge_seconds: int = 300
    # Judge sign-in certificates at this time instead of now. For test installations only (the
    # NCA RK test keys expire on 2027-05-08); unset in production.
    identity_pki_time: datetime | None = None
    # Where the token-signing key is kept is the identity database; this passphrase, when set,
    # encrypts it there.
    identity_key_passphrase: str | None = None

    # Consumer policy (uise_common.failures): a deterministic failure goes to the DLQ at once; a
    # transient one (database, object storage, Redis, Kafka, a read model behind) is retried in
    # place while its partition waits, the backoff doubling from `retry_backoff_seconds` up to
    # `retry_max_backoff_seconds`, until it succeeds or the cap sends it to the DLQ:
    # `dlq_after_seconds` after its first failure (generous: an outage of a database or of
    # object storage is over well within it), or after `dlq_after_attempts` attempts when set.
    retry_backoff_seconds: float = 0.25
    retry_max_backoff_seconds: float = 30.0
    dlq_after_seconds: float = 1800.0
    dlq_after_attempts: int | None = None
    # Sent outbox rows and processed-event ids are pruned after this many days: longer than the
    # broker keeps a message (7 days), so a redelivery still finds its id (uise_common.retention).
    retention_days: float = 14.0
    # The largest record the outbox relay hands to the producer; a larger row is set aside
    # (uise_common.outbox). Keep it under the broker's max.message.bytes (1 MiB by default).
    outbox_max_record_bytes: int = 900 * 1024

    # Intake limits (issue 4 deepens these).
    max_document_bytes: int = 20 * 1024 * 1024

    # Intake (issue 4; docs/intake.md).
    intake_max_in_flight: int = 32  # uploads processed at once per process; beyond: 429
    intake_retry_after_seconds: int = 1
    intake_max_signature_bytes: int = 1024 * 1024
    intake_max_scan_bytes: int = 20 * 1024 * 1024
    intake_xlsx_max_uncompressed_bytes: int = 50 * 1024 * 1024
    intake_xlsx_max_ratio: int = 100
    # A period may be submitted from its start (minus `opens_days_before`) until
    # `closes_days_after` days after its end.
    intake_window_opens_days_before: int = 0
    intake_window_closes_days_after: int = 365
    # How long after the delivery date a recipient may still register a paper submission.
    intake_paper_max_age_days: int = 31

    # Intake abuse limits (issue 7; docs/intake.md "Abuse limits"), per process.
    # A body read is cut off (408) when no bytes arrive for `idle` seconds, or when, once `grace`
    # seconds have passed, its average rate is under `min_bytes_per_second`. Sized for a school on
    # a slow rural line: 64 kbit/s is 8,000 B/s at best, so a 20 MB workbook takes ~45 minutes.
    # The floor, 1 KiB/s (8 kbit/s), is an eighth of that, which leaves room for a line shared
    # with the rest of the school, for retransmissions, and for a 20 MB upload to take up to 5.7
    # hours. 60 s of silence outlasts TCP's retransmission back-off (1+2+4+8+16 s) on a lossy
    # link; 30 s of grace covers connecting and slow start. A client trickling 1 byte/s holds a
    # slot for 30 s at most.
    intake_body_idle_timeout_seconds: float = 60.0
    intake_body_min_bytes_per_second: float = 1024.0  # 0 = no rate floor (the idle timeout stays)
    intake_body_grace_seconds: float = 30.0
    # One participant's share: uploads in progress at once (beyond: 429 PARTICIPANT_BUSY) and a
    # token bucket of uploads (beyond: 429 RATE_LIMITED): `per_minute` sustained, `burst` at once.
    # A school sends a handful of forms a period and a district registers paper ones by hand;
    # a school information system sending a period's forms in one go fits in the burst.
    intake_participant_max_in_flight: int = 4
    intake_participant_uploads_per_minute: float = 60.0  # 0 = no rate limit
    intake_participant_upload_burst: int = 30

    # Deadline (issue 8; docs/deadline.md): reminders before a deadline (ISO 8601 durations), an
    # escalation to the superior after it, and the timers' tick and lease.
    deadline_reminder_leads: str = "P7D,P1D,PT3H"
    deadline_escalation_after: str = "P1D"
    deadline_tick_seconds: float = 1.0
    deadline_lease_seconds: float = 30.0

    # Validation (issue 9; docs/validation.md): outliers against a participant's own history and
    # its district's peers, raised as queries.
    validation_outlier_method: str = "auto"  # auto | z | modified_z | minmax
    validation_outlier_z: float = 3.0
    validation_outlier_modified_z: float = 3.5
    validation_outlier_minmax_tolerance: float = 0.5
    validation_outlier_min_peers: int = 5  # fewer accepted peers say nothing about what is usual

    # Registry: admit the NCA RK test identifiers (BIN 123456789021, IIN 123456789011/012),
    # which carry no valid control digit. For test and demo installations only.
    registry_test_identifiers: bool = False
    # Registry (issue 10): how often it looks for participants whose event changes by the calendar
    # (a close date passed, a dated move took effect) to publish them again.
    registry_tick_seconds: float = 5.0

    # Signature: where trusted CA certificates (PEM or DER) are read from.
    trust_dir: Path | None = None
    # CRLs fetched over HTTP (comma-separated URLs; NCA RK publishes base and delta), cached
    # under <data_dir>/crl-cache and refreshed this often.
    crl_urls: str = ""
    crl_refresh_seconds: float = 3600.0

    # Signature (issue 7): the trusted time. A signer's certificate is judged at the delivery time
    # intake recorded (or at the genTime of a valid RFC 3161 timestamp token), never at the
    # signingTime the signer writes himself. That signingTime may run ahead of the delivery by
    # the clock skew (school PCs' clocks drift) and lag behind it by at most max_age_days.
    signature_max_age_days: float = 14.0
    signature_clock_skew_seconds: float = 300.0

    @property
    def trace_dir(self) -> Path:
        return self.data_dir / "traces"

    # Reporting (issue 11; docs/integrators.md): report documents are fetched by systems outside
    # UISE through short-lived signed links to the reporting API. The base URL is where they reach
    # that API (a public host name behind the gateway); the key signs the links (HMAC-SHA256) and is
    # generated under <data_dir>/reporting-link.key when not set. Replicas must share one key: set
    # it (or share the data_dir) when running more than one.
    reporting_public_base_url: str = "http://127.0.0.1:8007"
    reporting_link_key: SecretStr | None = None
    reporting_link_ttl_seconds: int = 3600
