"""`uise-stack replay SERVICE [--into DATABASE_URL]`: rebuild a service's read model from its
input topics, from offset zero, into a fresh database, and compare it with the live one.

The rebuild is uise_common.replay's (no consumer group: the live offsets are untouched; nothing
re-emitted; the business clock of each message's time); the comparison uise_common.readmodel's,
table by table as the service declares its read model (docs/runbook.md, "Replay a read model").
Without `--into`, the fresh database is a new SQLite file under <base-dir>/replay/. Exit status:
0 equal, 1 different, 2 it could not run.
"""

from __future__ import annotations

import asyncio
import importlib
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.engine import make_url
from sqlmodel import col

from uise_common.db import database_url, make_engine
from uise_common.outbox import OutboxRow
from uise_common.readmodel import Comparison, compare
from uise_common.replay import ReplayError, ReplayResult, input_topics, live_lag, rebuild
from uise_common.service import ServiceSpec
from uise_common.settings import Settings
from uise_contracts.topics import BY_NAME
from uise_stack.config import SERVICES, StackConfig


def spec_of(service: str) -> ServiceSpec:
    return importlib.import_module(f"uise_{service}.entrypoint").SPEC


def settings_of(config: StackConfig, service: str) -> Settings:
    """The service's settings as the stack gives them to its first process, with no Redis: a
    replay marks nothing in the live services' caches (seen events, revoked sessions)."""
    env = config.service_env(service)
    settings = Settings(**{k.removeprefix("UISE_").lower(): v for k, v in env.items()
                           if k.startswith("UISE_") and k not in ("UISE_DATABASE_URL", "UISE_REDIS_URL")})
    settings.database_url, settings.redis_url = config.database_url, None
    return settings


def unpublished(config: StackConfig) -> int:
    """Events the services' outboxes hold and their relays have still to publish (set-aside rows,
    which no relay will publish, left out)."""
    total = 0
    for service in SERVICES:
        engine = make_engine(database_url(settings_of(config, service), service), service)
        try:
            with engine.connect() as conn:
                total += conn.execute(select(func.count()).select_from(OutboxRow.__table__).where(
                    col(OutboxRow.sent_at).is_(None), col(OutboxRow.set_aside_at).is_(None))).scalar_one()
        finally:
            engine.dispose()
    return total


def behind(config: StackConfig) -> dict[str, int | None]:
    """{"service topic": how far its live consumer group is behind} where it is not caught up."""
    out = {}
    for service in SERVICES:
        spec = spec_of(service)
        if spec.read_model is None:  # consumes nothing
            continue
        settings = settings_of(config, service)
        lag = asyncio.run(live_lag(settings, service, input_topics(spec, settings)))
        out |= {f"{service} {t}": n for t, n in lag.items() if n != 0}
    return out


def wait_quiet(config: StackConfig, timeout: float = 180.0) -> None:
    """Until every outbox is published and every live consumer has committed to its topics' ends,
    twice in a row a few seconds apart: nothing left in flight (before a replay's marks, before
    the fault suite reads what the services made of its submissions)."""
    deadline, calm = time.monotonic() + timeout, 0
    while calm < 2:
        late = unpublished(config), behind(config)
        calm = calm + 1 if late == (0, {}) else 0
        if time.monotonic() > deadline:
            raise TimeoutError(f"the stack is still busy: {late[0]} events unpublished, behind: {late[1]}")
        time.sleep(3)


def fresh_sqlite(config: StackConfig, service: str) -> str:
    path = config.base_dir.resolve() / "replay" / f"{service}-{datetime.now(UTC):%Y%m%dT%H%M%S%f}.db"
    path.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{path}"


def _same_database(a: str, b: str) -> bool:
    ua, ub = make_url(a), make_url(b)
    return (ua.get_backend_name(), ua.host, ua.port, ua.database) == (ub.get_backend_name(), ub.host, ub.port,
                                                                      ub.database)


def replay(config: StackConfig, service: str, into: str | None = None,
           out: Callable[[str], None] = print) -> tuple[ReplayResult, Comparison]:
    """Rebuild `service`'s read model into `into` (default: a fresh SQLite file) and compare it
    with the live database; prints what it did and found. Raises ReplayError when it cannot."""
    spec = spec_of(service)
    if spec.read_model is None:
        raise ReplayError(f"{service} consumes no topic: its tables are the source of truth, nothing to replay")
    settings = settings_of(config, service)
    live_url = database_url(settings, service)
    into = into or fresh_sqlite(config, service)
    if _same_database(live_url, into):
        raise ReplayError(f"--into is the live database of {service}: replay into a fresh one")
    out(f"replaying {service} from its input topics: live {make_url(live_url).render_as_string()} "
        f"-> fresh {make_url(into).render_as_string()}")
    live, fresh = make_engine(live_url, service), make_engine(into, service)
    try:
        result = asyncio.run(rebuild(spec, settings, live, fresh))
        for line in result.lines():
            out(line)
        topics = [BY_NAME[name] for name in result.counts]
        behind = {t: n for t, n in asyncio.run(live_lag(settings, service, topics)).items() if n != 0}
        if behind:
            out("  live is still consuming (a difference may be what it has not applied yet): "
                + ", ".join(f"{t} {'?' if n is None else n} behind" for t, n in behind.items()))
        comparison = compare(live, fresh, spec.read_model)
        out(f"read model of {service}, live against rebuilt:")
        out(comparison.report())
        if spec.read_model.note:
            out(f"  (left out: {spec.read_model.note})")
        out("EQUAL" if comparison.equal else "DIFFERENT")
        return result, comparison
    finally:
        live.dispose()
        fresh.dispose()


def main(base_dir: str, service: str, into: str | None) -> int:
    if service not in SERVICES:
        print(f"replay: {service!r} is not one of {', '.join(SERVICES)}")
        return 2
    config = StackConfig.running(Path(base_dir))
    if config is None:
        print(f"no stack runs in {base_dir} (`uise-stack up` first, or give its --base-dir)")
        return 2
    try:
        _, comparison = replay(config, service, into)
    except ReplayError as exc:
        print(f"replay: {exc}")
        return 2
    return 0 if comparison.equal else 1
