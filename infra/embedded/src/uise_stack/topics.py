"""Create every contract topic (and its DLQ) on the configured Kafka cluster.

Run once before the services start, e.g. as the `kafka-init` job in docker-compose.yml:
`python -m uise_stack.topics` (reads UISE_KAFKA_BOOTSTRAP, and on a secured cluster the admin's
UISE_KAFKA_SECURITY_PROTOCOL, UISE_KAFKA_USERNAME and UISE_KAFKA_PASSWORD: the services'
principals may not create topics). Topics that already exist are left alone, so it is safe to
run again.
"""

from __future__ import annotations

import asyncio
import sys

from aiokafka.errors import KafkaError

from uise_common.broker import ensure_topics, kafka_security
from uise_common.settings import Settings


def main() -> int:
    settings = Settings()
    bootstrap = settings.kafka_bootstrap
    try:
        created = asyncio.run(ensure_topics(bootstrap, security=kafka_security(settings)))
    except KafkaError as exc:
        who = settings.kafka_username or "an anonymous client"
        print(f"cannot create the topics on {bootstrap} as {who}: {exc!r}", file=sys.stderr)
        return 1
    if created:
        print(f"created {len(created)} topic(s) on {bootstrap}:")
        for name in created:
            print(f"  {name}")
    else:
        print(f"all topics already exist on {bootstrap}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
