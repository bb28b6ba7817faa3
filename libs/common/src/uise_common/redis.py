"""Redis client from REDIS_URL / UISE_REDIS_URL (the embedded stack starts Valkey when unset)."""

from __future__ import annotations

from redis.asyncio import Redis

from uise_common.settings import Settings


def make_redis(settings: Settings) -> Redis | None:
    if not settings.redis_url:
        return None
    return Redis.from_url(settings.redis_url, socket_timeout=1.0, socket_connect_timeout=1.0)
