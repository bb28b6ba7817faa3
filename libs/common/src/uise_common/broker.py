"""FastStream Kafka broker factory and topic administration."""

from __future__ import annotations

import asyncio
import logging

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError
from faststream.kafka import KafkaBroker
from faststream.kafka.opentelemetry import KafkaTelemetryMiddleware
from opentelemetry.metrics import MeterProvider
from opentelemetry.trace import TracerProvider

from uise_common.settings import Settings
from uise_contracts.topics import TOPICS, Topic

log = logging.getLogger(__name__)


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


async def ensure_topics(bootstrap: str, topics: tuple[Topic, ...] = TOPICS) -> list[str]:
    """Create every contract topic and its DLQ with declared partitions; returns those created."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10_000)
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
