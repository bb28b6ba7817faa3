"""Apply one service's database migrations and exit: the `migrate` init container of each
Deployment in infra/k8s.

    python -m uise_stack.migrate intake

Every service migrates at start-up too (uise_common.service), which is enough for one process.
Several replicas starting together on one PostgreSQL (a first install, a rollout, KEDA adding
pods) would race: two `CREATE TABLE`s of the same table, two inserts of the same migration
version, and the loser crashes. Here the whole run (the schema included) holds a PostgreSQL
advisory lock named after the service, so replicas migrate one after the other; the later ones
find every version applied, and the service's own migrate at start-up finds nothing left to do.
On SQLite (a file per process) there is nothing to race and no lock is taken.

Reads the same settings as the service (UISE_DATABASE_URL or DATABASE_URL, else the SQLite file
under UISE_DATA_DIR).
"""

from __future__ import annotations

import importlib
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from uise_common.db import database_url, make_engine, migrate
from uise_common.logs import setup_logging
from uise_common.service import ServiceSpec, with_common
from uise_common.settings import Settings

log = logging.getLogger(__name__)

# The services that keep tables (the portal keeps none).
SERVICES = ("registry", "identity", "intake", "signature", "validation", "routing", "deadline",
            "reporting")


def spec_of(service: str) -> ServiceSpec:
    """The ServiceSpec that `python -m uise_<service>` runs."""
    if service not in SERVICES:
        raise ValueError(f"unknown service {service!r}: one of {', '.join(SERVICES)}")
    module = importlib.import_module(f"uise_{service}.entrypoint")
    specs = [v for v in vars(module).values() if isinstance(v, ServiceSpec)]
    if len(specs) != 1:
        raise RuntimeError(f"uise_{service}.entrypoint defines {len(specs)} ServiceSpecs, not one")
    return specs[0]


def lock_key(service: str) -> str:
    return f"uise-migrate:{service}"


@contextmanager
def exclusive(url: str, service: str) -> Iterator[None]:
    """Hold PostgreSQL's session advisory lock for `service` (blocking until it is free); a
    no-op on SQLite. The lock dies with its connection, so a killed migrator frees it."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "postgresql":
        yield
        return
    if parsed.drivername == "postgresql":  # plain postgresql:// means psycopg 3, as in make_engine
        parsed = parsed.set(drivername="postgresql+psycopg")
    engine = create_engine(parsed, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(hashtext(:key))"), {"key": lock_key(service)})
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(hashtext(:key))"), {"key": lock_key(service)})
    finally:
        engine.dispose()


def run(service: str, settings: Settings | None = None) -> list[int]:
    """Apply what is not applied yet of the service's migrations; returns the versions applied."""
    spec = spec_of(service)
    settings = settings or Settings(service_name=service)
    url = database_url(settings, service)
    with exclusive(url, service):
        engine = make_engine(url, service)  # creates the service's schema: inside the lock too
        try:
            return migrate(engine, with_common(spec.migrations))
        finally:
            engine.dispose()


def main(argv: list[str] | None = None) -> int:
    args = argv if argv is not None else sys.argv[1:]
    if len(args) != 1 or args[0] not in SERVICES:
        print(f"usage: python -m uise_stack.migrate <{'|'.join(SERVICES)}>", file=sys.stderr)
        return 2
    service = args[0]
    settings = Settings(service_name=service)
    setup_logging(f"{service}-migrate", settings.log_level)
    applied = run(service, settings)
    log.info("migrations done", extra={"service": service, "applied": applied})
    print(f"{service}: {len(applied)} migration(s) applied" + (f" {applied}" if applied else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
