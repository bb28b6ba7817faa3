"""Create every contract topic (and its DLQ) on the configured Kafka cluster.

Run once before the services start, e.g. as the `kafka-init` job in docker-compose.yml:
`python -m uise_stack.topics` (reads UISE_KAFKA_BOOTSTRAP). Topics that already exist are left
alone, so it is safe to run again.
"""

from __future__ import annotations

import asyncio

from uise_common.broker import ensure_topics
from uise_common.settings import Settings


def main() -> None:
    bootstrap = Settings().kafka_bootstrap
    created = asyncio.run(ensure_topics(bootstrap))
    if created:
        print(f"created {len(created)} topic(s) on {bootstrap}:")
        for name in created:
            print(f"  {name}")
    else:
        print(f"all topics already exist on {bootstrap}")


if __name__ == "__main__":
    main()
