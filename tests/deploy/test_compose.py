"""Static checks of the production deployment files: docker-compose.yml, Dockerfile,
.dockerignore and infra/otel-collector.yaml.

Docker itself is not needed: the files are parsed and checked against the workspace (service
packages, the Settings fields the services read, files that are mounted or copied).
"""

from __future__ import annotations

import fnmatch
import os
import re
import shlex
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml
from pydantic import AliasChoices

from uise_common.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
OTEL_CONFIG = ROOT / "infra" / "otel-collector.yaml"

SERVICE_PORTS = {
    "registry": 8001,
    "intake": 8002,
    "signature": 8003,
    "validation": 8004,
    "routing": 8005,
    "deadline": 8006,
    "reporting": 8007,
    "identity": 8008,
}
PUBLISHED = {"registry", "intake", "identity"}
DATA_DIR = "/var/lib/uise"
TRUST_DIR = "/etc/uise/trust"

# Where `python -m <module>` can find workspace code inside the image (all members are synced).
SOURCE_ROOTS = [
    ROOT / "contracts" / "src",
    *sorted((ROOT / "libs").glob("*/src")),
    *sorted((ROOT / "services").glob("*/src")),
    ROOT / "infra" / "embedded" / "src",
]


# ---------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose() -> dict:
    data = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    assert isinstance(data, dict) and isinstance(data.get("services"), dict)
    return data


@pytest.fixture(scope="module")
def services(compose) -> dict[str, dict]:
    return compose["services"]


_VAR = re.compile(
    r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)"
)


def interpolate(value: object) -> str:
    """Compose-style interpolation using only the defaults written in the file, so the check
    does not depend on the environment it runs in. A required variable (${NAME:?message}: a
    secret, which has no default) reads as a placeholder secret."""

    def sub(m: re.Match) -> str:
        if m.group(0) == "$$":
            return "$"
        op, default = m.group(2), m.group(3)
        if op in (":-", "-"):
            return default
        if op in (":?", "?"):
            return f"test-secret-{m.group(1).lower().replace('_', '-')}"
        raise AssertionError(f"{m.group(0)!r} has no default and is not required")

    if isinstance(value, bool):
        return "true" if value else "false"
    return _VAR.sub(sub, str(value))


def environment(svc: dict) -> dict[str, str]:
    env = svc.get("environment") or {}
    if isinstance(env, list):
        out = {}
        for item in env:
            key, _, val = str(item).partition("=")
            out[key] = val
        return out
    assert isinstance(env, dict)
    return {str(k): ("" if v is None else str(v)) for k, v in env.items()}


def depends_on(svc: dict) -> dict[str, str]:
    deps = svc.get("depends_on") or {}
    if isinstance(deps, list):
        return {d: "service_started" for d in deps}
    return {name: (spec or {}).get("condition", "service_started") for name, spec in deps.items()}


def build_of(svc: dict) -> tuple[Path, Path] | None:
    """(context, dockerfile) of a built service, or None for an image-only one."""
    build = svc.get("build")
    if build is None:
        return None
    if isinstance(build, str):
        context, dockerfile = build, "Dockerfile"
    else:
        context, dockerfile = build.get("context", "."), build.get("dockerfile", "Dockerfile")
    ctx = (ROOT / context).resolve()
    return ctx, (ctx / dockerfile).resolve()


def module_of(svc: dict) -> str:
    command = svc.get("command")
    if isinstance(command, str):
        command = shlex.split(command)
    assert isinstance(command, list) and len(command) == 3, command
    assert command[:2] == ["python", "-m"], command
    return command[2]


def module_exists(module: str) -> bool:
    parts = module.split(".")
    for root in SOURCE_ROOTS:
        pkg = root.joinpath(*parts)
        if (pkg / "__main__.py").is_file() or pkg.with_suffix(".py").is_file():
            return True
    return False


def container_ports(svc: dict) -> list[int]:
    out = []
    for p in svc.get("ports") or []:
        if isinstance(p, dict):
            out.append(int(p["target"]))
        else:
            target = str(p).split("/")[0].rsplit(":", 1)[-1]
            out.append(int(target))
    return out


def healthcheck_text(svc: dict) -> str:
    test = (svc.get("healthcheck") or {}).get("test")
    if isinstance(test, list):
        return " ".join(str(t) for t in test)
    return str(test or "")


def settings_env_names() -> set[str]:
    names = set()
    prefix = Settings.model_config.get("env_prefix", "")
    for field_name, field in Settings.model_fields.items():
        names.add((prefix + field_name).upper())
        alias = field.validation_alias
        if isinstance(alias, AliasChoices):
            names.update(str(c).upper() for c in alias.choices if isinstance(c, str))
        elif isinstance(alias, str):
            names.add(alias.upper())
    return names


def mounts(svc: dict) -> list[tuple[str, str, str]]:
    """(type, source, target) for each volume entry."""
    out = []
    for v in svc.get("volumes") or []:
        if isinstance(v, dict):
            out.append((v.get("type", "volume"), str(v.get("source", "")), str(v["target"])))
            continue
        parts = str(v).split(":")
        if len(parts) == 1:
            out.append(("volume", "", parts[0]))
            continue
        source, target = parts[0], parts[1]
        kind = "bind" if source.startswith((".", "/", "~")) else "volume"
        out.append((kind, source, target))
    return out


def host_of(address: str) -> str:
    if "://" in address:
        return urlsplit(address).hostname or ""
    return address.rsplit(":", 1)[0]


# ---------------------------------------------------------------------------------------------
# the eight services
# ---------------------------------------------------------------------------------------------


def test_all_eight_services_are_defined(services):
    missing = set(SERVICE_PORTS) - set(services)
    assert not missing, f"services missing from docker-compose.yml: {sorted(missing)}"


@pytest.mark.parametrize("name", sorted(SERVICE_PORTS))
def test_service_is_built_from_the_dockerfile_and_runs_its_package(services, name):
    svc = services[name]
    built = build_of(svc)
    assert built is not None, f"{name} has no build section"
    context, dockerfile = built
    assert context == ROOT, f"{name} builds from {context}, not the repo root"
    assert dockerfile == DOCKERFILE.resolve() and dockerfile.is_file()

    module = module_of(svc)
    assert module == f"uise_{name}"
    package = ROOT / "services" / name / "src" / module
    assert package.is_dir(), f"{package} does not exist"
    assert (package / "__main__.py").is_file(), f"{package}/__main__.py does not exist"


@pytest.mark.parametrize("name", sorted(SERVICE_PORTS))
def test_service_port_matches_healthcheck_and_published_port(services, name):
    svc = services[name]
    env = environment(svc)
    port = int(interpolate(env["UISE_HTTP_PORT"]))
    assert port == SERVICE_PORTS[name], f"{name} listens on {port}, expected {SERVICE_PORTS[name]}"
    assert interpolate(env.get("UISE_HTTP_HOST", "")) == "0.0.0.0", (
        f"{name} must listen on 0.0.0.0 in its container"
    )
    assert interpolate(env.get("UISE_SERVICE_NAME", "")) == name

    check = healthcheck_text(svc)
    urls = re.findall(r"https?://(?:127\.0\.0\.1|localhost):(\d+)/healthz", check)
    assert urls, f"{name} healthcheck does not call /healthz: {check!r}"
    assert {int(u) for u in urls} == {port}, f"{name} healthcheck port {urls} != {port}"
    assert "curl" not in check and "wget" not in check, "python:3.11-slim has neither"

    published = container_ports(svc)
    assert all(p == port for p in published), f"{name} publishes {published}, listens on {port}"
    if name in PUBLISHED:
        assert published, f"{name} should be published to the host"


@pytest.mark.parametrize("name", sorted(SERVICE_PORTS))
def test_service_has_its_own_data_volume(compose, services, name):
    svc = services[name]
    env = environment(svc)
    assert interpolate(env.get("UISE_DATA_DIR", "")) == DATA_DIR
    data_mounts = [(k, s) for k, s, t in mounts(svc) if t == DATA_DIR]
    assert len(data_mounts) == 1, f"{name} needs exactly one volume at {DATA_DIR}"
    kind, source = data_mounts[0]
    assert kind == "volume" and source, f"{name}: {DATA_DIR} should be a named volume"
    assert source in (compose.get("volumes") or {}), f"volume {source} is not declared"
    others = [
        n
        for n in SERVICE_PORTS
        if n != name and any(s == source and t == DATA_DIR for _, s, t in mounts(services[n]))
    ]
    assert not others, f"{name} shares its data volume with {others}"


@pytest.mark.parametrize("name", sorted(SERVICE_PORTS))
def test_service_waits_for_the_infrastructure(services, name):
    deps = depends_on(services[name])
    for infra in ("kafka", "postgres", "redis", "minio"):
        assert deps.get(infra) == "service_healthy", f"{name} must wait for {infra} healthy"
    for job in ("kafka-init", "kafka-acls", "minio-init"):
        assert deps.get(job) == "service_completed_successfully", f"{name} must wait for {job}"


@pytest.mark.parametrize("name", sorted(SERVICE_PORTS))
def test_service_settings_load_from_its_environment(services, monkeypatch, name):
    """The env block, interpolated with its defaults, makes a valid Settings pointing at hosts
    that are compose services."""
    for var in list(os.environ):
        if var.startswith("UISE_") or var in {
            "DATABASE_URL",
            "REDIS_URL",
            "OTEL_EXPORTER_OTLP_ENDPOINT",
        }:
            monkeypatch.delenv(var, raising=False)
    env = {k: interpolate(v) for k, v in environment(services[name]).items()}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    s = Settings()

    assert s.http_port == SERVICE_PORTS[name]
    assert str(s.data_dir) == DATA_DIR
    for addr in s.kafka_bootstrap.split(","):
        assert host_of(addr) in services, f"{name}: Kafka host {addr} is not a service"
    assert "://" not in s.s3_endpoint, "UISE_S3_ENDPOINT is host:port, without a scheme"
    assert host_of(s.s3_endpoint) in services
    assert s.database_url and s.database_url.startswith("postgresql")
    assert host_of(s.database_url) in services
    assert s.redis_url and host_of(s.redis_url) in services
    assert s.otlp_endpoint and host_of(s.otlp_endpoint) in services
    assert s.s3_bucket == "uise-documents"


def test_signature_reads_the_trust_dir_mounted_read_only(services):
    svc = services["signature"]
    assert interpolate(environment(svc)["UISE_TRUST_DIR"]) == TRUST_DIR
    entries = [v for v in svc.get("volumes") or [] if isinstance(v, str) and f":{TRUST_DIR}" in v]
    assert entries, f"nothing is mounted at {TRUST_DIR}"
    source, target, *opts = entries[0].split(":")
    assert target == TRUST_DIR and "ro" in opts
    assert (ROOT / source).resolve() == (ROOT / "infra" / "trust").resolve()
    assert (ROOT / "infra" / "trust" / "README.md").is_file()


# ---------------------------------------------------------------------------------------------
# the whole file
# ---------------------------------------------------------------------------------------------


def test_every_uise_variable_is_a_settings_field(services):
    """In the containers of our image; the third-party images' jobs read theirs in scripts. The
    portal reads its own settings (UISE_PORTAL_*)."""
    from uise_portal.settings import PortalSettings

    portal = {f"UISE_PORTAL_{name}".upper() for name in PortalSettings.model_fields}
    known = settings_env_names() | portal
    unknown = {
        (name, key)
        for name, svc in services.items()
        if build_of(svc) is not None
        for key in environment(svc)
        if key.startswith("UISE_") and key not in known
    }
    assert not unknown, f"variables no Settings field reads: {sorted(unknown)}"


def test_every_depends_on_target_is_defined(services):
    for name, svc in services.items():
        for dep, condition in depends_on(svc).items():
            assert dep in services, f"{name} depends on undefined service {dep}"
            assert dep != name
            assert condition in {
                "service_started",
                "service_healthy",
                "service_completed_successfully",
            }, f"{name} -> {dep}: unknown condition {condition}"
            if condition == "service_healthy":
                assert services[dep].get("healthcheck", {}).get("test"), (
                    f"{name} waits for {dep} to be healthy, but {dep} has no healthcheck"
                )
            if condition == "service_completed_successfully":
                assert services[dep].get("restart", "no") in ("no", "on-failure"), (
                    f"{dep} is a one-shot job and must not restart forever"
                )


def test_infrastructure_healthchecks(services):
    for name in ("kafka", "minio", "postgres", "redis", *SERVICE_PORTS):
        assert healthcheck_text(services[name]), f"{name} has no healthcheck"
    assert "pg_isready" in healthcheck_text(services["postgres"])
    assert services["kafka"]["image"] == "apache/kafka:3.9.0"
    kafka_env = environment(services["kafka"])
    assert "controller" in kafka_env["KAFKA_PROCESS_ROLES"], "Kafka must run in KRaft mode"
    assert "kafka:9092" in kafka_env["KAFKA_ADVERTISED_LISTENERS"]


def test_init_jobs(services):
    kafka_init = services["kafka-init"]
    assert build_of(kafka_init) == (ROOT, DOCKERFILE.resolve())
    module = module_of(kafka_init)
    assert module_exists(module), f"kafka-init runs {module}, which is not in the workspace"
    assert depends_on(kafka_init).get("kafka") == "service_healthy"

    minio_init = services["minio-init"]
    assert str(minio_init["image"]).startswith("minio/mc")
    assert minio_init.get("entrypoint") == ["/bin/sh", "/opt/uise/minio/setup.sh"]
    assert ("bind", "./infra/minio", "/opt/uise/minio") in mounts(minio_init)
    script = (ROOT / "infra" / "minio" / "setup.sh").read_text(encoding="utf-8")
    assert 'mc mb --ignore-existing "uise/$bucket"' in script
    assert "bucket=${UISE_S3_BUCKET:-uise-documents}" in script
    assert depends_on(minio_init).get("minio") == "service_healthy"


def test_every_command_module_of_a_built_service_exists(services):
    for name, svc in services.items():
        if build_of(svc) is None:
            continue
        module = module_of(svc)
        assert module_exists(module), f"{name}: python -m {module} has no source in the workspace"


def test_named_volumes_are_declared_and_binds_exist(compose, services):
    declared = set(compose.get("volumes") or {})
    for name, svc in services.items():
        for kind, source, target in mounts(svc):
            if kind == "bind":
                path = (ROOT / source).resolve()
                assert path.exists(), f"{name} mounts {source}, which does not exist"
                assert ROOT in path.parents or path == ROOT, f"{name} mounts outside the repo"
            elif source:
                assert source in declared, f"{name} uses undeclared volume {source}"
            assert target.startswith("/"), f"{name}: mount target {target} is not absolute"


def test_build_contexts_exist(services):
    for name, svc in services.items():
        built = build_of(svc)
        if built is None:
            assert svc.get("image"), f"{name} has neither build nor image"
            continue
        context, dockerfile = built
        assert context.is_dir(), f"{name}: build context {context} does not exist"
        assert dockerfile.is_file(), f"{name}: {dockerfile} does not exist"


def test_otel_collector_config(services):
    svc = services["otel-collector"]
    binds = [(s, t) for k, s, t in mounts(svc) if k == "bind"]
    assert any((ROOT / s).resolve() == OTEL_CONFIG.resolve() for s, _ in binds), (
        "the collector does not mount infra/otel-collector.yaml"
    )

    config = yaml.safe_load(OTEL_CONFIG.read_text(encoding="utf-8"))
    http = config["receivers"]["otlp"]["protocols"]["http"]
    assert http["endpoint"].endswith(":4318") and not http["endpoint"].startswith("localhost")

    defined = {
        section: set(config.get(section) or {})
        for section in ("receivers", "processors", "exporters", "extensions")
    }
    pipelines = config["service"]["pipelines"]
    assert {"traces", "metrics"} <= set(pipelines)
    for pname, pipeline in pipelines.items():
        for section in ("receivers", "processors", "exporters"):
            used = set(pipeline.get(section) or [])
            assert used <= defined[section], f"{pname} uses undefined {section}: {used}"
        assert "otlp" in pipeline["receivers"]
    assert set(config["service"].get("extensions") or []) <= defined["extensions"]

    trace_exporters = pipelines["traces"]["exporters"]
    jaeger = [e for e in trace_exporters if e.split("/")[0] in ("otlp", "otlphttp")]
    assert jaeger, "traces are not exported over OTLP"
    host = host_of(config["exporters"][jaeger[0]]["endpoint"])
    assert host == "jaeger" and host in services
    assert any(e.split("/")[0] == "debug" for e in pipelines["metrics"]["exporters"])

    # the services send to this collector on the receiver's port
    otlp = urlsplit(interpolate(environment(services["intake"])["UISE_OTLP_ENDPOINT"]))
    assert otlp.hostname == "otel-collector" and otlp.port == 4318


# ---------------------------------------------------------------------------------------------
# Dockerfile and .dockerignore
# ---------------------------------------------------------------------------------------------


def dockerfile_instructions() -> list[tuple[str, str]]:
    text = DOCKERFILE.read_text(encoding="utf-8")
    logical, buf = [], ""
    for raw in text.splitlines():
        line = raw.strip()
        if not buf and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            buf += line[:-1] + " "
            continue
        buf += line
        op, _, rest = buf.partition(" ")
        logical.append((op.upper(), rest.strip()))
        buf = ""
    return logical


def test_dockerfile_copy_sources_exist():
    copies = [rest for op, rest in dockerfile_instructions() if op == "COPY"]
    assert copies, "the Dockerfile copies nothing"
    ignored = [
        p.strip().rstrip("/")
        for p in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
        if p.strip() and not p.startswith("#")
    ]
    copied = set()
    for rest in copies:
        args = shlex.split(rest)
        if any(a.startswith("--from") for a in args):
            continue
        paths = [a for a in args if not a.startswith("--")]
        assert len(paths) >= 2, f"COPY {rest}"
        for src in paths[:-1]:
            path = ROOT / src
            assert path.exists(), f"COPY source {src} does not exist"
            rel = src.rstrip("/")
            copied.add(rel)
            assert not any(fnmatch.fnmatch(rel, pat) for pat in ignored), (
                f"COPY {src} is excluded by .dockerignore"
            )
    for needed in ("pyproject.toml", "uv.lock", "contracts", "libs", "services", "infra"):
        assert needed in copied, f"the Dockerfile does not copy {needed}"


def test_dockerfile_setup():
    instructions = dockerfile_instructions()
    froms = [rest for op, rest in instructions if op == "FROM"]
    assert froms and all(f.split()[0] == "python:3.11-slim" for f in froms)
    runs = " ".join(rest for op, rest in instructions if op == "RUN")
    assert "pip install uv" in runs
    assert re.search(r"uv sync --frozen (?=.*--all-packages)(?=.*--no-dev)", runs)
    envs = " ".join(rest for op, rest in instructions if op == "ENV")
    assert "/app/.venv/bin" in envs
    users = [rest for op, rest in instructions if op == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0"), "the image must not run as root"


def test_dockerignore_excludes_local_state():
    patterns = {
        p.strip().rstrip("/") for p in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
    }
    for needed in (".venv", "var", ".git", ".pytest_cache", ".tools"):
        assert needed in patterns or f"**/{needed}" in patterns, f".dockerignore misses {needed}"
    assert any("__pycache__" in p for p in patterns)


def test_dockerfile_installs_and_exposes_every_service():
    instructions = dockerfile_instructions()
    copies = {rest for op, rest in instructions if op == "COPY"}
    exposed = {int(p) for op, rest in instructions if op == "EXPOSE" for p in rest.split()}
    for name, port in SERVICE_PORTS.items():
        assert f"services/{name}/pyproject.toml services/{name}/" in copies, (
            f"the dependency layer does not copy services/{name}/pyproject.toml"
        )
        assert port in exposed, f"the image does not EXPOSE {name}'s port {port}"


def test_the_portal_reaches_every_service_it_calls_and_keeps_its_session_key_secret(services, monkeypatch):
    """The portal (docs/portal.md): published, healthy on its port, each service URL a compose
    service, and the cookie-sealing secret from the environment."""
    from uise_portal.settings import SERVICES as CALLED
    from uise_portal.settings import PortalSettings

    svc = services["portal"]
    assert module_of(svc) == "uise_portal" and build_of(svc) is not None
    env = {k: interpolate(v) for k, v in environment(svc).items()}
    for var in list(os.environ):
        if var.startswith("UISE_"):
            monkeypatch.delenv(var, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    s = PortalSettings()
    assert s.http_host == "0.0.0.0" and container_ports(svc) == [s.http_port]
    assert re.findall(r"127\.0\.0\.1:(\d+)/healthz", healthcheck_text(svc)) == [str(s.http_port)]
    for name in CALLED:
        url = s.url(name)
        assert host_of(url) == name and host_of(url) in services, url
        assert url.endswith(f":{SERVICE_PORTS[name]}"), url
    assert "${UISE_PORTAL_SESSION_KEY:?" in environment(svc)["UISE_PORTAL_SESSION_KEY"]
    assert "UISE_PORTAL_SESSION_KEY=" in (ROOT / ".env.example").read_text()
