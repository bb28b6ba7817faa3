"""`python -m uise_stack.migrate <service>`, the migrate init container of infra/k8s: replicas
starting together on one PostgreSQL migrate one after the other, on the machine's real
PostgreSQL (UISE_TEST_POSTGRES_URL)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text

from uise_common.service import with_common
from uise_common.settings import Settings
from uise_common.testing import scratch_postgres
from uise_stack import migrate


@pytest.fixture
def database() -> Iterator[str]:
    """A fresh database: the URL the services would be given."""
    with scratch_postgres("migrate") as url:
        yield url


def migrator(url: str, service: str) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("UISE_") and k != "DATABASE_URL"}
    env["UISE_DATABASE_URL"] = url
    return subprocess.Popen([sys.executable, "-m", "uise_stack.migrate", service], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def applied_versions(url: str, service: str) -> list[int]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return list(conn.execute(text(
                f'SELECT version FROM "uise_{service}".uise_schema_migration ORDER BY version')).scalars())
    finally:
        engine.dispose()


def expected_versions(service: str) -> list[int]:
    return [m.version for m in with_common(migrate.spec_of(service).migrations)]


@pytest.mark.integration
def test_replicas_starting_together_all_succeed_and_migrate_once(database):
    procs = [migrator(database, "intake") for _ in range(3)]
    results = [(p.wait(timeout=120), p.stdout.read(), p.stderr.read()) for p in procs]
    for code, _out, err in results:
        assert code == 0, err[-2000:]
    outs = sorted(out.strip() for _, out, _ in results)
    # one did the work, the others found it done
    assert sum(1 for o in outs if o.startswith("intake: 0 migration(s)")) == 2, outs
    assert applied_versions(database, "intake") == expected_versions("intake")
    # and the next start (the service's own migrate, a later pod) finds nothing to do
    assert migrate.run("intake", Settings(service_name="intake", database_url=database)) == []


@pytest.mark.integration
def test_a_migrator_waits_for_the_lock_holder(database):
    """While another session holds the service's advisory lock, the migrator waits for it (seen
    in pg_locks) and applies nothing; once it is released, it completes."""
    holder = create_engine(database, isolation_level="AUTOCOMMIT")
    with holder.connect() as conn:
        conn.execute(text("SELECT pg_advisory_lock(hashtext(:k))"), {"k": migrate.lock_key("routing")})
        proc = migrator(database, "routing")
        try:
            for _ in range(600):  # bounded: until the migrator shows up waiting, or it exits
                waiting = conn.execute(text(
                    "SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database "
                    "WHERE l.locktype = 'advisory' AND NOT l.granted AND d.datname = current_database()"
                )).scalar()
                if waiting or proc.poll() is not None:
                    break
                time.sleep(0.1)
            assert proc.poll() is None, f"the migrator did not wait: {proc.stderr.read()[-2000:]}"
            assert waiting == 1
            schema = conn.execute(text("SELECT count(*) FROM pg_namespace WHERE nspname = 'uise_routing'")).scalar()
            assert schema == 0, "it created the schema without the lock"
        finally:
            conn.execute(text("SELECT pg_advisory_unlock(hashtext(:k))"), {"k": migrate.lock_key("routing")})
    holder.dispose()
    assert proc.wait(timeout=120) == 0, proc.stderr.read()[-2000:]
    assert applied_versions(database, "routing") == expected_versions("routing")


def test_on_sqlite_it_migrates_the_services_file(tmp_path):
    applied = migrate.run("deadline", Settings(service_name="deadline", data_dir=tmp_path))
    assert applied == expected_versions("deadline")
    assert (tmp_path / "deadline.db").is_file()
    assert migrate.run("deadline", Settings(service_name="deadline", data_dir=tmp_path)) == []


def test_every_service_with_tables_has_a_spec():
    for service in migrate.SERVICES:
        assert migrate.spec_of(service).name == service


def test_an_unknown_service_is_refused(capsys):
    assert migrate.main(["portal"]) == 2
    assert "usage" in capsys.readouterr().err
    with pytest.raises(ValueError, match="billing"):
        migrate.spec_of("billing")
