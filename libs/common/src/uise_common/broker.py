"""FastStream Kafka broker factory, the clients' security settings, and topic administration."""

from __future__ import annotations

import asyncio
import logging
import ssl
from pathlib import Path
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError
from faststream.kafka import KafkaBroker
from faststream.kafka.opentelemetry import KafkaTelemetryMiddleware
from faststream.kafka.security import parse_security
from faststream.security import BaseSecurity, SASLScram256, SASLScram512
from opentelemetry.metrics import MeterProvider
from opentelemetry.trace import TracerProvider

from uise_common.settings import Settings
from uise_contracts.topics import TOPICS, Topic

log = logging.getLogger(__name__)


class KafkaSecurityError(ValueError):
    """The Kafka security settings cannot be turned into a client configuration."""


def _ssl_context(cafile: Path | None) -> ssl.SSLContext:
    # Verifies the broker's certificate and host name; against `cafile` when the broker's
    # certificate comes from a private CA, otherwise against the system's CAs.
    try:
        return ssl.create_default_context(cafile=str(cafile) if cafile else None)
    except (OSError, ssl.SSLError) as exc:
        raise KafkaSecurityError(
            f"UISE_KAFKA_SSL_CAFILE={cafile}: cannot load CA certificates from it ({exc})"
        ) from exc


def kafka_security(settings: Settings) -> BaseSecurity | None:
    """The FastStream security object for the settings: None for PLAINTEXT (the embedded
    broker), SCRAM over plaintext or TLS otherwise. Services, the topic admin and the ops tools
    all build their clients from it, so they authenticate the same way."""
    protocol = settings.kafka_security_protocol
    if protocol == "PLAINTEXT":
        return None
    if not (settings.kafka_username and settings.kafka_password):  # Settings checks it too
        raise KafkaSecurityError(
            f"UISE_KAFKA_SECURITY_PROTOCOL={protocol} needs UISE_KAFKA_USERNAME and UISE_KAFKA_PASSWORD"
        )
    scram = SASLScram512 if settings.kafka_sasl_mechanism == "SCRAM-SHA-512" else SASLScram256
    use_ssl = protocol == "SASL_SSL"
    return scram(
        username=settings.kafka_username,
        password=settings.kafka_password.get_secret_value(),
        ssl_context=_ssl_context(settings.kafka_ssl_cafile) if use_ssl else None,
        use_ssl=use_ssl,
    )


def kafka_client_options(settings: Settings) -> dict[str, Any]:
    """aiokafka keyword arguments (security_protocol, sasl_*, ssl_context) for clients made
    outside FastStream: the same translation FastStream applies to the broker's `security`."""
    return parse_security(kafka_security(settings))


class ConcurrentStartKafkaBroker(KafkaBroker):
    """Starts its subscribers side by side. Each joins its own consumer group, and a join takes
    seconds (tansu holds it for half the session timeout); FastStream starts them one after
    another, which made a service with eight consumers take forty seconds to become ready."""

    async def start(self) -> None:
        await self.connect()
        await asyncio.gather(*(sub.start() for sub in self.subscribers))
        for pub in self.publishers:
            await pub.start()
        self.running = True


def make_broker(
    settings: Settings,
    tracer_provider: TracerProvider | None = None,
    meter_provider: MeterProvider | None = None,
) -> KafkaBroker:
    return ConcurrentStartKafkaBroker(
        settings.kafka_bootstrap,
        client_id=f"uise-{settings.service_name}",
        acks="all",  # a publish returns only once the broker has it
        allow_auto_create_topics=False,  # topics come from contracts, with their partitions
        request_timeout_ms=10_000,
        security=kafka_security(settings),
        middlewares=[
            KafkaTelemetryMiddleware(tracer_provider=tracer_provider, meter_provider=meter_provider)
        ],
        logger=logging.getLogger("uise.faststream"),  # ours propagates to the JSON handler
        log_level=logging.DEBUG,
    )


def topics_to_create(topics: tuple[Topic, ...] = TOPICS) -> list[NewTopic]:
    out = []
    for t in topics:
        out.append(NewTopic(t.name, t.partitions, 1, topic_configs={"cleanup.policy": t.cleanup, **t.extra_config}))
        out.append(NewTopic(t.dlq, 1, 1, topic_configs={"cleanup.policy": "delete"}))
    return out


async def ensure_topics(
    bootstrap: str, topics: tuple[Topic, ...] = TOPICS, *, security: BaseSecurity | None = None
) -> list[str]:
    """Create every contract topic and its DLQ with declared partitions; returns those created.
    On a secured cluster `security` must be a principal allowed to create topics (the admin)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10_000,
                                **parse_security(security))
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = [t for t in topics_to_create(topics) if t.name not in existing]
        if wanted:
            try:
                await admin.create_topics(wanted)
            except TopicAlreadyExistsError:
                pass
        return [t.name for t in wanted]
    finally:
        await admin.close()
