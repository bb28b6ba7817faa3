"""Production Kafka security, checked offline (issue 7): the ACLs in infra/kafka/acls.sh against
the contracts' topic table and against what each service's code publishes and subscribes to,
and the broker, job and service settings in docker-compose.yml.

The expectation is computed here from uise_contracts.topics, independently of the generator
(uise_stack.kafka_acls), which only has to agree with it."""

from __future__ import annotations

import ast
import importlib
import shlex
from collections import defaultdict
from pathlib import Path
from types import SimpleNamespace

import pytest

from uise_common.broker import kafka_security
from uise_common.consumer import ConsumerRunner
from uise_common.settings import Settings
from uise_contracts.topics import BY_NAME, TOPICS, Topic
from uise_stack import kafka_acls

ROOT = Path(__file__).resolve().parents[2]
ACLS = ROOT / "infra" / "kafka" / "acls.sh"
ACCEPTED = "uise.submission.accepted.v1"


# ---------------------------------------------------------------------------------------------
# the committed file, read as setup-security.sh runs it
# ---------------------------------------------------------------------------------------------


def parse_acls(text: str) -> tuple[dict[str, str], list[tuple[str, str, str, str, str]]]:
    """(service -> password variable, [(service, operation, resource, pattern, name)]). Anything
    but `scram_user` and `allow` lines fails: the file must not grant by other means."""
    users: dict[str, str] = {}
    grants = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        words = shlex.split(line)
        if words[0] == "scram_user":
            assert len(words) == 3, f"acls.sh:{n}: {line}"
            assert words[1] not in users, f"acls.sh:{n}: {words[1]} twice"
            users[words[1]] = words[2]
        elif words[0] == "allow":
            assert len(words) >= 6, f"acls.sh:{n}: {line}"
            _, service, operation, resource, pattern, *names = words
            grants += [(service, operation, resource, pattern, name) for name in names]
        else:
            pytest.fail(f"acls.sh:{n}: unexpected command {words[0]!r}")
    return users, grants


@pytest.fixture(scope="module")
def acls():
    return parse_acls(ACLS.read_text(encoding="utf-8"))


def granted(grants, service: str, operation: str, resource: str = "topic") -> set[str]:
    return {name for s, op, res, _, name in grants if s == service and op == operation and res == resource}


def produced(service: str) -> set[str]:
    return {t.name for t in TOPICS if service in t.producers}


def consumed(service: str) -> set[str]:
    return {t.name for t in TOPICS if service in t.consumers}


# ---------------------------------------------------------------------------------------------
# the ACLs
# ---------------------------------------------------------------------------------------------


def test_acls_file_is_generated_from_the_topic_table():
    assert not kafka_acls.drift(), (
        "infra/kafka/acls.sh is stale: run `.venv/bin/python -m uise_stack.kafka_acls` and commit"
    )


def test_one_principal_per_service_each_with_its_own_password_variable(acls, uise_services):
    users, grants = acls
    assert set(users) == set(uise_services)
    assert {s for s, *_ in grants} <= set(users), "a grant to a principal without credentials"
    assert len(set(users.values())) == len(users), "two principals share a password variable"
    for service, variable in users.items():
        assert variable == f"UISE_KAFKA_{service.upper()}_PASSWORD"


def test_every_producer_and_consumer_in_the_table_is_a_service_or_a_known_outside_reader(uise_services):
    names = {n for t in TOPICS for n in (*t.producers, *t.consumers)}
    assert names - set(uise_services) <= set(kafka_acls.OUTSIDE)
    assert {n for t in TOPICS for n in t.producers} <= set(uise_services)


def test_the_generator_refuses_a_table_naming_an_unknown_service():
    stray = Topic("billing", "charged", 1, BY_NAME[ACCEPTED].model, "participant_id",
                  ("billing",), ("reporting",))
    with pytest.raises(ValueError, match="billing"):
        kafka_acls.render((*TOPICS, stray))


def test_service_writes_exactly_its_topics_and_the_dead_letter_topics_of_its_inputs(acls, uise_service):
    _, grants = acls
    expected = produced(uise_service) | {BY_NAME[t].dlq for t in consumed(uise_service)}
    assert granted(grants, uise_service, "Write") == expected


def test_service_reads_exactly_the_topics_it_consumes(acls, uise_service):
    _, grants = acls
    assert granted(grants, uise_service, "Read") == consumed(uise_service)


def test_service_reads_only_its_own_consumer_groups(acls, uise_service, uise_services):
    _, grants = acls
    groups = [(op, pattern, name) for s, op, res, pattern, name in grants
              if s == uise_service and res == "group"]
    if not consumed(uise_service):
        assert groups == []
        return
    prefix = f"uise-{uise_service}."
    assert groups == [("Read", "prefixed", prefix)]
    # the groups the consumer policy really joins fall under this prefix and under no other's
    for name in consumed(uise_service):
        group = ConsumerRunner(service=uise_service, topic=BY_NAME[name], handler=None, engine=None,
                               broker=None, seen=None, after_commit=None, policy=None).group
        assert group.startswith(prefix)
        others = [s for s in uise_services if s != uise_service and group.startswith(f"uise-{s}.")]
        assert not others, f"{group} is also under the prefix of {others}"


def test_only_a_topics_producers_may_write_it(acls):
    _, grants = acls
    writers = defaultdict(set)
    for service, op, res, _, name in grants:
        if op == "Write" and res == "topic":
            writers[name].add(service)
    for t in TOPICS:
        assert writers[t.name] == set(t.producers), f"{t.name} is writable by {sorted(writers[t.name])}"
    assert writers[ACCEPTED] == {"routing"}, "a forged submission.accepted must be refused"


def test_no_wildcard_or_broad_grant(acls):
    _, grants = acls
    for service, op, res, pattern, name in grants:
        assert "*" not in name and "*" not in service, (service, op, res, name)
        assert op in {"Read", "Write"}, f"{service} is granted {op}"
        assert res in {"topic", "group"}
        if res == "topic":
            assert pattern == "literal", f"{service}: prefixed topic grant {name}"
            assert name in BY_NAME or name.removesuffix(".dlq") in BY_NAME, f"{name} is no contract topic"
        else:
            assert (pattern, name) == ("prefixed", f"uise-{service}."), (service, name)
        if op == "Read" and res == "topic":
            assert not name.endswith(".dlq"), f"{service} may read {name}: only ops re-drive DLQs"


# ---------------------------------------------------------------------------------------------
# the services' code stays within its grants
# ---------------------------------------------------------------------------------------------


def service_sources(service: str) -> list[Path]:
    src = ROOT / "services" / service / "src"
    files = sorted(src.rglob("*.py"))
    assert files, f"services/{service} has no source (is the package in the workspace?)"
    return files


def test_every_event_a_service_constructs_is_on_a_topic_it_may_write(acls, uise_service):
    """An event a service's code builds goes out through its outbox to the event's topic."""
    _, grants = acls
    models = {t.model.__name__: t.name for t in TOPICS}
    built = set()
    for path in service_sources(uise_service):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call):
                fn = node.func
                name = fn.id if isinstance(fn, ast.Name) else fn.attr if isinstance(fn, ast.Attribute) else None
                if name in models:
                    built.add(models[name])
    denied = built - granted(grants, uise_service, "Write")
    assert not denied, f"{uise_service} builds events for {sorted(denied)} but may not write them"


def service_spec(service: str):
    from uise_common.service import ServiceSpec

    try:
        module = importlib.import_module(f"uise_{service}.entrypoint")
    except ModuleNotFoundError as exc:
        pytest.fail(f"uise_{service}.entrypoint cannot be imported: {exc}")
    specs = [v for v in vars(module).values() if isinstance(v, ServiceSpec)]
    assert len(specs) == 1, f"uise_{service}.entrypoint should define one ServiceSpec"
    return specs[0]


def test_every_topic_a_service_subscribes_to_is_one_it_may_read(acls, uise_service, tmp_path):
    _, grants = acls
    spec = service_spec(uise_service)
    runtime = SimpleNamespace(
        settings=Settings(service_name=uise_service, data_dir=tmp_path, trust_dir=tmp_path),
        store=SimpleNamespace(get=lambda obj: b"", put=lambda data, kind, media_type: None),
    )
    subscribed = {t.name for t in spec.consumers(runtime)}
    denied = subscribed - granted(grants, uise_service, "Read")
    assert not denied, f"{uise_service} subscribes to {sorted(denied)} but may not read them"


# ---------------------------------------------------------------------------------------------
# docker-compose.yml: the broker, the jobs and the services
# ---------------------------------------------------------------------------------------------


def listeners(value: str) -> dict[str, str]:
    """'NAME://host:port,...' -> {NAME: host:port}"""
    out = {}
    for item in value.split(","):
        name, _, address = item.strip().partition("://")
        out[name] = address
    return out


def test_no_listener_accepts_unauthenticated_clients(compose_file):
    env = compose_file.env("kafka")
    protocols = dict(p.split(":") for p in env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(","))
    declared = listeners(env["KAFKA_LISTENERS"])
    advertised = listeners(env["KAFKA_ADVERTISED_LISTENERS"])
    assert set(declared) <= set(protocols) and set(advertised) <= set(declared)
    for name in declared:
        assert protocols[name] in {"SASL_PLAINTEXT", "SASL_SSL"}, f"listener {name} is {protocols[name]}"
    assert advertised == {"CLIENT": "kafka:9092"}
    assert env["KAFKA_INTER_BROKER_LISTENER_NAME"] == "CLIENT"
    assert env["KAFKA_CONTROLLER_LISTENER_NAMES"] == "CONTROLLER" and "CONTROLLER" not in advertised


def test_clients_authenticate_with_scram_sha_512(compose_file):
    env = compose_file.env("kafka")
    assert env["KAFKA_SASL_ENABLED_MECHANISMS"] == "SCRAM-SHA-512"
    assert env["KAFKA_SASL_MECHANISM_INTER_BROKER_PROTOCOL"] == "SCRAM-SHA-512"
    # a per-listener override may relax the mechanism only on the quorum's listener
    overrides = {k: v for k, v in env.items() if k.startswith("KAFKA_LISTENER_NAME_")}
    assert overrides == {"KAFKA_LISTENER_NAME_CONTROLLER_SASL_ENABLED_MECHANISMS": "PLAIN"}
    assert env["KAFKA_SASL_MECHANISM_CONTROLLER_PROTOCOL"] == "PLAIN"


def test_the_broker_authorizes_every_request_by_acl(compose_file):
    env = compose_file.env("kafka")
    assert env["KAFKA_AUTHORIZER_CLASS_NAME"] == "org.apache.kafka.metadata.authorizer.StandardAuthorizer"
    assert env["KAFKA_ALLOW_EVERYONE_IF_NO_ACL_FOUND"] == "false"
    assert set(env["KAFKA_SUPER_USERS"].split(";")) == {"User:admin", "User:broker"}
    assert env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"


def test_the_broker_starts_through_the_security_script(compose_file):
    assert compose_file.command("kafka") == ["bash", "/opt/uise/kafka/broker-start.sh"]
    binds = compose_file.binds("kafka")
    assert binds["/opt/uise/kafka"] == ((ROOT / "infra" / "kafka").resolve(), ["ro"])
    check = " ".join(compose_file.services["kafka"]["healthcheck"]["test"])
    assert "--command-config /opt/kafka/config/uise-broker-client.properties" in check
    env = compose_file.env("kafka")
    for variable in ("UISE_KAFKA_BROKER_PASSWORD", "UISE_KAFKA_ADMIN_PASSWORD"):
        assert compose_file.only_ref(env[variable]).required


def test_service_connects_as_its_own_principal(compose_file, uise_service, monkeypatch):
    env = compose_file.env(uise_service)
    assert env["UISE_KAFKA_SECURITY_PROTOCOL"] == "SASL_PLAINTEXT"
    assert env["UISE_KAFKA_SASL_MECHANISM"] == "SCRAM-SHA-512"
    assert env["UISE_KAFKA_USERNAME"] == uise_service
    ref = compose_file.only_ref(env["UISE_KAFKA_PASSWORD"])
    assert ref.name == f"UISE_KAFKA_{uise_service.upper()}_PASSWORD" and ref.required

    # what the service's Settings make of it
    for var in list(__import__("os").environ):
        if var.startswith("UISE_"):
            monkeypatch.delenv(var)
    for key in ("UISE_KAFKA_SECURITY_PROTOCOL", "UISE_KAFKA_SASL_MECHANISM", "UISE_KAFKA_USERNAME"):
        monkeypatch.setenv(key, env[key])
    monkeypatch.setenv("UISE_KAFKA_PASSWORD", "x" * 32)
    sec = kafka_security(Settings())
    assert type(sec).__name__ == "SASLScram512" and sec.username == uise_service and not sec.use_ssl


def test_the_admin_password_goes_only_to_the_broker_and_the_init_jobs(compose_file):
    assert compose_file.services_referencing("UISE_KAFKA_ADMIN_PASSWORD") == {"kafka", "kafka-init", "kafka-acls"}
    assert compose_file.services_referencing("UISE_KAFKA_BROKER_PASSWORD") == {"kafka"}


def test_each_service_password_goes_only_to_its_service_and_the_acl_job(compose_file, uise_service):
    variable = f"UISE_KAFKA_{uise_service.upper()}_PASSWORD"
    assert compose_file.services_referencing(variable) == {uise_service, "kafka-acls"}


def test_topic_creation_runs_as_the_admin(compose_file):
    env = compose_file.env("kafka-init")
    assert compose_file.command("kafka-init") == ["python", "-m", "uise_stack.topics"]
    assert env["UISE_KAFKA_SECURITY_PROTOCOL"] == "SASL_PLAINTEXT"
    assert env["UISE_KAFKA_USERNAME"] == "admin"
    assert compose_file.only_ref(env["UISE_KAFKA_PASSWORD"]).name == "UISE_KAFKA_ADMIN_PASSWORD"


def test_the_acl_job_applies_the_generated_file_with_every_password_it_names(compose_file, acls):
    users, _ = acls
    job = "kafka-acls"
    assert compose_file.services[job]["image"] == compose_file.services["kafka"]["image"]
    assert compose_file.services[job].get("restart") == "no"
    assert compose_file.command(job) == ["bash", "/opt/uise/kafka/setup-security.sh"]
    assert compose_file.binds(job)["/opt/uise/kafka"] == ((ROOT / "infra" / "kafka").resolve(), ["ro"])
    assert compose_file.depends_on(job) == {"kafka": "service_healthy"}
    env = compose_file.env(job)
    assert compose_file.only_ref(env["UISE_KAFKA_ADMIN_PASSWORD"]).name == "UISE_KAFKA_ADMIN_PASSWORD"
    for service, variable in users.items():
        assert variable in env, f"{job} does not get {variable}"
        # the same secret the service itself connects with
        assert compose_file.only_ref(env[variable]) == compose_file.only_ref(
            compose_file.env(service)["UISE_KAFKA_PASSWORD"])
    script = (ROOT / "infra" / "kafka" / "setup-security.sh").read_text(encoding="utf-8")
    assert '. "$here/acls.sh"' in script


def test_every_kafka_client_in_compose_is_a_known_principal(compose_file, uise_services):
    principals = {
        name: compose_file.env(name).get("UISE_KAFKA_USERNAME")
        for name in compose_file.services if "UISE_KAFKA_BOOTSTRAP" in compose_file.env(name)
    }
    assert principals.pop("kafka-acls") is None  # a CLI job with its own admin configuration
    assert principals.pop("kafka-init") == "admin"
    assert principals == {s: s for s in uise_services}
