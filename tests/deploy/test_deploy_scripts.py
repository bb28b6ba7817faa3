"""The deployment's shell scripts, run for real against stand-ins for the Kafka and MinIO command
line tools (which record what they are asked and answer like the real ones), with the
environment docker-compose.yml gives them. No Docker, broker or MinIO is needed."""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
KAFKA_DIR = ROOT / "infra" / "kafka"
MINIO_DIR = ROOT / "infra" / "minio"
PASSWORD_RE = re.compile(r"[A-Za-z0-9._~-]{20,}")

pytestmark = pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")


def secret(name: str) -> str:
    return f"{name.lower().replace('_', '-')}-0123456789abcdef"[:40]


def resolved_env(compose_file, service: str) -> dict[str, str]:
    """The service's environment with each secret variable set to a test value."""
    out = {}
    for key, value in compose_file.env(service).items():
        for ref in compose_file.refs(value):
            replacement = secret(ref.name) if ref.required else ref.default
            value = re.sub(r"\$\{" + ref.name + r"[^}]*\}", replacement, value)
        out[key] = value
    return out


def tool(path: Path, body: str) -> None:
    """A stand-in command: a Python script that appends its argv to calls.jsonl."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"#!{sys.executable} -S\n" + textwrap.dedent("""
        import json, os, sys
        from pathlib import Path
        state = Path(os.environ["STUB_STATE"])
        with (state / "calls.jsonl").open("a") as f:
            f.write(json.dumps([Path(sys.argv[0]).name, *sys.argv[1:]]) + "\\n")
        args = sys.argv[1:]
    """) + textwrap.dedent(body))
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


def calls(state: Path) -> list[list[str]]:
    path = state / "calls.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def run(argv: list[str], env: dict[str, str], state: Path, path_dirs: list[Path] | None = None):
    base = {"PATH": os.pathsep.join([*(str(p) for p in path_dirs or []), os.environ["PATH"]]),
            "STUB_STATE": str(state), "HOME": str(state)}
    return subprocess.run(argv, env={**base, **env}, capture_output=True, text=True, timeout=60)


# ---------------------------------------------------------------------------------------------
# infra/kafka/broker-start.sh
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def kafka_home(tmp_path):
    home = tmp_path / "kafka"
    (home / "config").mkdir(parents=True)
    tool(home / "bin" / "kafka-storage.sh", "")
    tool(home / "bin" / "kafka-server-start.sh", "")
    return home


def start_broker(compose_file, kafka_home, tmp_path, **overrides):
    env = {**resolved_env(compose_file, "kafka"), "UISE_KAFKA_HOME": str(kafka_home), **overrides}
    return run(["bash", str(KAFKA_DIR / "broker-start.sh")], env, tmp_path)


def properties(path: Path) -> dict[str, str]:
    out = {}
    for line in path.read_text().splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            assert key not in out, f"{key} twice"
            out[key] = value
    return out


def test_broker_configuration_has_sasl_and_acls_on_every_listener(compose_file, kafka_home, tmp_path):
    result = start_broker(compose_file, kafka_home, tmp_path)
    assert result.returncode == 0, result.stderr
    config = kafka_home / "config" / "uise-server.properties"
    props = properties(config)
    broker_pw, admin_pw = secret("UISE_KAFKA_BROKER_PASSWORD"), secret("UISE_KAFKA_ADMIN_PASSWORD")

    assert props["listeners"] == "CLIENT://:9092,CONTROLLER://:9093"
    assert props["listener.security.protocol.map"] == "CLIENT:SASL_PLAINTEXT,CONTROLLER:SASL_PLAINTEXT"
    assert props["sasl.enabled.mechanisms"] == "SCRAM-SHA-512"
    assert props["listener.name.controller.sasl.enabled.mechanisms"] == "PLAIN"
    assert props["sasl.mechanism.controller.protocol"] == "PLAIN"
    assert props["sasl.mechanism.inter.broker.protocol"] == "SCRAM-SHA-512"
    assert props["authorizer.class.name"] == "org.apache.kafka.metadata.authorizer.StandardAuthorizer"
    assert props["allow.everyone.if.no.acl.found"] == "false"
    assert props["super.users"] == "User:admin;User:broker"
    assert props["node.id"] == "1" and props["process.roles"] == "broker,controller"
    assert props["listener.name.client.scram-sha-512.sasl.jaas.config"] == (
        "org.apache.kafka.common.security.scram.ScramLoginModule required "
        f'username="broker" password="{broker_pw}";')
    assert props["listener.name.controller.plain.sasl.jaas.config"] == (
        "org.apache.kafka.common.security.plain.PlainLoginModule required "
        f'username="broker" password="{broker_pw}" user_broker="{broker_pw}";')
    # only KAFKA_* variables become properties; the admin password is no broker setting
    assert admin_pw not in config.read_text()
    assert not any(k.startswith(("uise", "cluster")) for k in props)
    assert stat.S_IMODE(config.stat().st_mode) == 0o600

    client = properties(kafka_home / "config" / "uise-broker-client.properties")
    assert client["security.protocol"] == "SASL_PLAINTEXT" and client["sasl.mechanism"] == "SCRAM-SHA-512"
    assert f'username="broker" password="{broker_pw}"' in client["sasl.jaas.config"]

    (storage, *format_args), (server, server_config) = calls(tmp_path)
    assert storage == "kafka-storage.sh" and server == "kafka-server-start.sh"
    assert server_config == str(config)
    assert format_args[:2] == ["format", "--ignore-formatted"]
    cluster_id = resolved_env(compose_file, "kafka")["CLUSTER_ID"]
    assert format_args[format_args.index("--cluster-id") + 1] == cluster_id
    assert format_args[format_args.index("--config") + 1] == str(config)
    scram = [format_args[i + 1] for i, a in enumerate(format_args) if a == "--add-scram"]
    assert sorted(scram) == sorted([f"SCRAM-SHA-512=[name=broker,password={broker_pw}]",
                                    f"SCRAM-SHA-512=[name=admin,password={admin_pw}]"])


def test_the_image_naming_rule_for_properties(compose_file, kafka_home, tmp_path):
    result = start_broker(compose_file, kafka_home, tmp_path, KAFKA_LOG_CLEANER___THREADS__X="2",
                          KAFKA_HEAP_OPTS="-Xmx1g")
    assert result.returncode == 0, result.stderr
    props = properties(kafka_home / "config" / "uise-server.properties")
    assert props["log.cleaner-threads_x"] == "2"
    assert "heap.opts" not in props


@pytest.mark.parametrize("variable", ["UISE_KAFKA_BROKER_PASSWORD", "UISE_KAFKA_ADMIN_PASSWORD"])
@pytest.mark.parametrize("value", ["", "short", 'quote"in-the-middle-of-it-all', "semi;colon-and-more-of-them"])
def test_the_broker_refuses_a_missing_or_unquotable_password(compose_file, kafka_home, tmp_path, variable, value):
    result = start_broker(compose_file, kafka_home, tmp_path, **{variable: value})
    assert result.returncode != 0
    assert variable in result.stderr
    assert calls(tmp_path) == [], "nothing may be formatted or started"


# ---------------------------------------------------------------------------------------------
# infra/kafka/setup-security.sh (with acls.sh)
# ---------------------------------------------------------------------------------------------

FAKE_ACLS = """
import re
bindings = state / "bindings.json"
held = json.loads(bindings.read_text()) if bindings.exists() else []
if "--add" in args:
    principal = args[args.index("--allow-principal") + 1]
    operation = args[args.index("--operation") + 1].upper()
    pattern = args[args.index("--resource-pattern-type") + 1].upper()
    for i, a in enumerate(args):
        if a in ("--topic", "--group"):
            b = [a[2:].upper(), args[i + 1], pattern, principal, operation]
            if b not in held:
                held.append(b)
    bindings.write_text(json.dumps(held))
elif "--list" in args:
    for kind, name, pattern, principal, operation in held:
        print(f"Current ACLs for resource `ResourcePattern(resourceType={kind}, name={name}, patternType={pattern})`: ")
        print(f" \\t(principal={principal}, host=*, operation={operation}, permissionType=ALLOW) ")
        print()
config = args[args.index("--command-config") + 1]
(state / "admin-config.txt").write_text(open(config).read())
"""


@pytest.fixture
def acl_job(tmp_path, compose_file):
    home = tmp_path / "kafka"
    tool(home / "bin" / "kafka-configs.sh", "")
    tool(home / "bin" / "kafka-acls.sh", FAKE_ACLS)
    env = {**resolved_env(compose_file, "kafka-acls"), "UISE_KAFKA_HOME": str(home)}
    return env


def run_acl_job(env, state):
    return run(["bash", str(KAFKA_DIR / "setup-security.sh")], env, state)


def hold(state: Path, *bindings: list[str]) -> None:
    (state / "bindings.json").write_text(json.dumps(list(bindings)))


def test_the_acl_job_creates_each_principal_and_grants_acls_sh(acl_job, tmp_path, uise_services):
    result = run_acl_job(acl_job, tmp_path)
    assert result.returncode == 0, result.stderr
    made = calls(tmp_path)
    scram = {c[c.index("--entity-name") + 1]: c[c.index("--add-config") + 1]
             for c in made if c[0] == "kafka-configs.sh"}
    assert scram == {s: f"SCRAM-SHA-512=[password={secret(f'UISE_KAFKA_{s.upper()}_PASSWORD')}]"
                     for s in uise_services}
    held = json.loads((tmp_path / "bindings.json").read_text())
    writers = {p for _, name, _, p, op in held if op == "WRITE" and name == "uise.submission.accepted.v1"}
    assert writers == {"User:routing"}
    assert ["GROUP", "uise-intake.", "PREFIXED", "User:intake", "READ"] in held
    assert all(c[c.index("--bootstrap-server") + 1] == "kafka:9092" for c in made)
    admin_config = (tmp_path / "admin-config.txt").read_text()
    assert 'username="admin"' in admin_config and secret("UISE_KAFKA_ADMIN_PASSWORD") in admin_config
    assert "exactly the grants" in result.stdout
    again = run_acl_job(acl_job, tmp_path)  # every compose up runs it again
    assert again.returncode == 0, again.stderr


def test_a_grant_acls_sh_does_not_list_fails_the_job(acl_job, tmp_path):
    hold(tmp_path, ["TOPIC", "uise.submission.accepted.v1", "LITERAL", "User:intake", "WRITE"])
    result = run_acl_job(acl_job, tmp_path)
    assert result.returncode != 0
    assert "User:intake holds" in result.stderr


def test_a_wildcard_principal_fails_the_job(acl_job, tmp_path):
    hold(tmp_path, ["TOPIC", "uise.submission.accepted.v1", "LITERAL", "User:*", "WRITE"])
    result = run_acl_job(acl_job, tmp_path)
    assert result.returncode != 0 and "wildcard principal" in result.stderr


def test_a_missing_service_password_fails_the_job(acl_job, tmp_path):
    result = run_acl_job({**acl_job, "UISE_KAFKA_ROUTING_PASSWORD": ""}, tmp_path)
    assert result.returncode != 0 and "UISE_KAFKA_ROUTING_PASSWORD" in result.stderr


# ---------------------------------------------------------------------------------------------
# infra/minio/setup.sh
# ---------------------------------------------------------------------------------------------

FAKE_MC = """
held = state / "attached.txt"
access = state / "anonymous.txt"
if args[:2] == ["anonymous", "set"]:
    access.write_text(args[2])
elif args[:2] == ["anonymous", "get"]:
    level = access.read_text() if access.exists() else "download"
    print(f"Access permission for `{args[2]}` is `{'private' if level == 'none' else level}`")
elif args[:3] == ["admin", "policy", "attach"]:
    attached = held.read_text().split() if held.exists() else []
    if args[4] in attached:
        sys.exit("mc: <ERROR> The specified policy change is already in effect.")
    held.write_text(" ".join([*attached, args[4]]))
elif args[:3] == ["admin", "user", "info"]:
    attached = held.read_text().split() if held.exists() else []
    policy = f"{args[4]}-policy"
    print(f"AccessKey: {args[4]}\\nStatus: enabled\\nPolicyName: {policy if policy in attached else ''}")
"""


@pytest.fixture
def minio_job(tmp_path, compose_file):
    bin_dir = tmp_path / "bin"
    tool(bin_dir / "mc", FAKE_MC)
    return resolved_env(compose_file, "minio-init"), bin_dir


def run_minio_job(minio_job, state, **overrides):
    env, bin_dir = minio_job
    return run(["sh", str(MINIO_DIR / "setup.sh")], {**env, **overrides}, state, [bin_dir])


def test_the_minio_job_makes_a_private_bucket_and_one_limited_user_per_policy(minio_job, tmp_path):
    result = run_minio_job(minio_job, tmp_path)
    assert result.returncode == 0, result.stderr + result.stdout
    made = [c[1:] for c in calls(tmp_path)]
    assert made[0] == ["alias", "set", "uise", "http://minio:9000",
                       secret("UISE_MINIO_ROOT_USER"), secret("UISE_MINIO_ROOT_PASSWORD")]
    assert ["mb", "--ignore-existing", "uise/uise-documents"] in made
    assert ["anonymous", "set", "none", "uise/uise-documents"] in made
    for policy in sorted((MINIO_DIR / "policies").glob("*.json")):
        service = policy.stem
        assert ["admin", "user", "add", "uise", f"uise-{service}",
                secret(f"UISE_S3_{service.upper()}_SECRET_KEY")] in made
        assert ["admin", "policy", "create", "uise", f"uise-{service}-policy", str(policy)] in made
        assert ["admin", "policy", "attach", "uise", f"uise-{service}-policy", "--user", f"uise-{service}"] in made
    assert "4 service users" in result.stdout
    again = run_minio_job(minio_job, tmp_path)
    assert again.returncode == 0, again.stderr


@pytest.mark.parametrize("value", ["", "too-short", "x" * 41, "has space-in-it-0123456789"])
def test_the_minio_job_refuses_a_bad_service_secret(minio_job, tmp_path, value):
    result = run_minio_job(minio_job, tmp_path, SECRET_KEY_validation=value)
    assert result.returncode != 0 and "SECRET_KEY_validation" in result.stderr
    assert not any(c[1:4] == ["admin", "user", "add"] and c[5] == "uise-validation" for c in calls(tmp_path))


def test_the_minio_job_fails_when_the_bucket_stays_public(minio_job, tmp_path):
    bin_dir = minio_job[1]
    mc = bin_dir / "mc"
    mc.write_text(mc.read_text().replace('access.write_text(args[2])', 'pass'))
    result = run_minio_job(minio_job, tmp_path)
    assert result.returncode != 0 and "anonymous access" in result.stderr


# ---------------------------------------------------------------------------------------------
# infra/make-env.sh and .env.example
# ---------------------------------------------------------------------------------------------


def required_variables(compose_file) -> set[str]:
    return {r.name for name in compose_file.services for v in compose_file.env(name).values()
            for r in compose_file.refs(v) if r.required}


def test_env_example_documents_every_secret_and_holds_none(compose_file):
    example = (ROOT / ".env.example").read_text(encoding="utf-8")
    assignments = dict(re.findall(r"^([A-Z][A-Z0-9_]*)=(.*)$", example, re.M))
    assert set(assignments) == required_variables(compose_file)
    assert all(v == "" for v in assignments.values()), "no value is committed in .env.example"


def test_compose_has_no_default_for_any_secret(compose_file):
    for name in compose_file.services:
        for key, value in compose_file.env(name).items():
            if re.search(r"PASSWORD|SECRET|PASSPHRASE|ROOT_USER", key):
                refs = compose_file.refs(value)
                assert refs and all(r.required for r in refs), f"{name}.{key} = {value!r}"
    db = compose_file.env("registry")["UISE_DATABASE_URL"]
    assert all(r.required for r in compose_file.refs(db))


def test_make_env_writes_a_fresh_valid_secret_for_every_variable(tmp_path, compose_file):
    (tmp_path / "infra").mkdir()
    shutil.copy(ROOT / ".env.example", tmp_path / ".env.example")
    shutil.copy(ROOT / "infra" / "make-env.sh", tmp_path / "infra" / "make-env.sh")
    result = subprocess.run(["sh", str(tmp_path / "infra" / "make-env.sh")], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    env_file = tmp_path / ".env"
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
    values = dict(re.findall(r"^([A-Z][A-Z0-9_]*)=(.*)$", env_file.read_text(), re.M))
    assert set(values) == required_variables(compose_file)
    assert len(set(values.values())) == len(values), "every secret is its own"
    for name, value in values.items():
        assert PASSWORD_RE.fullmatch(value) or name == "UISE_MINIO_ROOT_USER", name
        if name.startswith("UISE_S3_") or name == "UISE_MINIO_ROOT_PASSWORD":
            assert 20 <= len(value) <= 40, name  # MinIO's limits
    first = env_file.read_text()
    again = subprocess.run(["sh", str(tmp_path / "infra" / "make-env.sh")], capture_output=True, text=True)
    assert again.returncode != 0 and "not replacing" in again.stderr
    assert env_file.read_text() == first


def test_git_and_docker_ignore_the_env_file():
    assert ".env" in (ROOT / ".gitignore").read_text().split()
    assert ".env" in (ROOT / ".dockerignore").read_text().split()
