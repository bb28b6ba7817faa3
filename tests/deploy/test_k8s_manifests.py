"""The Kubernetes deployment (infra/k8s), checked offline: no cluster, KEDA or Prometheus.

The production overlay is rendered as `kubectl apply -k` would render it (kubectl's built-in
kustomize, part of this machine image) after infra/k8s/make-secrets.sh has written its local
inputs from test values, in a copy of infra/. The core objects are validated against
Kubernetes' own JSON schemas (kubernetes-validate, bundled, strict: an unknown field fails); the
KEDA objects, which those schemas do not cover, field by field. Then everything is checked
against the rest of the repository: every service directory has its Deployment, every variable
set is one the code reads, every Secret and ConfigMap named is defined with the keys asked of
it, ports agree with probes and Services, commands and images agree with docker-compose.yml and
the Dockerfile, and the KEDA triggers agree with the contracts' topic table and with the topics
each service's code subscribes to.
"""

from __future__ import annotations

import base64
import copy
import os
import re
import shutil
import stat
import subprocess
from pathlib import Path
from types import SimpleNamespace

import kubernetes_validate
import pytest
import yaml
from pydantic import AliasChoices

from uise_common.consumer import ConsumerRunner
from uise_common.settings import Settings
from uise_contracts.topics import BY_NAME, TOPICS
from uise_portal.settings import PortalSettings
from uise_stack import k8s_keda

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "infra" / "k8s"
OVERLAY = "overlays/production"
K8S_VERSION = "1.30"  # the oldest Kubernetes the manifests are meant for
KEDA_API = "keda.sh/v1alpha1"
PORTAL = "portal"
SERVICE_DIRS = sorted(p.name for p in (ROOT / "services").iterdir() if (p / "pyproject.toml").is_file())


# ---------------------------------------------------------------------------------------------
# rendering
# ---------------------------------------------------------------------------------------------


def kustomize(path: Path) -> list[dict]:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.fail("kubectl (its built-in kustomize renders the overlays) is not on PATH")
    done = subprocess.run([kubectl, "kustomize", str(path)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"kubectl kustomize {path}: {done.stderr}"
    return [d for d in yaml.safe_load_all(done.stdout) if d]


def sample_values() -> dict[str, str]:
    """A value for every variable of .env.example, as infra/make-env.sh would write it."""
    out = {}
    for line in (ROOT / ".env.example").read_text(encoding="utf-8").splitlines():
        if re.fullmatch(r"[A-Z][A-Z0-9_]*=", line):
            name = line[:-1]
            out[name] = f"{name.lower().replace('_', '-')}-0123456789abcdef0123456789"[-40:]
    return out


def copy_infra(tmp: Path) -> Path:
    """infra/k8s and infra/kafka as they are laid out in the repository, without local/."""
    shutil.copytree(K8S, tmp / "infra" / "k8s", ignore=shutil.ignore_patterns("local"))
    shutil.copytree(ROOT / "infra" / "kafka", tmp / "infra" / "kafka")
    trust = tmp / "trust"
    trust.mkdir()
    (trust / "README.md").write_text("not a certificate\n")
    (trust / "nca-rk-root.cer").write_bytes(b"\x30\x82\x01\x00 a DER certificate")
    (trust / "nca-rk-gost.pem").write_text("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
    return tmp


def make_secrets(tmp: Path, values: dict[str, str], *extra: str) -> subprocess.CompletedProcess:
    env_file = tmp / "env"
    env_file.write_text("".join(f"{k}={v}\n" for k, v in values.items()))
    clean = {k: v for k, v in os.environ.items() if not k.startswith("UISE_")}
    return subprocess.run(
        ["sh", str(tmp / "infra" / "k8s" / "make-secrets.sh"), "--env", str(env_file),
         "--trust", str(tmp / "trust"), *extra],
        capture_output=True, text=True, env=clean, timeout=60)


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> dict[tuple[str, str], dict]:
    """The production overlay: (kind, name) -> object."""
    tmp = copy_infra(tmp_path_factory.mktemp("k8s"))
    done = make_secrets(tmp, sample_values())
    assert done.returncode == 0, done.stderr
    docs = kustomize(tmp / "infra" / "k8s" / OVERLAY)
    out = {}
    for d in docs:
        key = (d["kind"], d["metadata"]["name"])
        assert key not in out, f"{key} twice"
        out[key] = d
    return out


@pytest.fixture(scope="module")
def base() -> dict[tuple[str, str], dict]:
    return {(d["kind"], d["metadata"]["name"]): d for d in kustomize(K8S / "base")}


def of_kind(objects: dict, kind: str) -> dict[str, dict]:
    return {name: o for (k, name), o in objects.items() if k == kind}


def pod_spec(obj: dict) -> dict:
    return obj["spec"]["template"]["spec"]


def containers(obj: dict, init: bool = True) -> list[dict]:
    spec = pod_spec(obj)
    return [*(spec.get("initContainers") or [] if init else []), *spec["containers"]]


def main_container(deployment: dict) -> dict:
    (container,) = [c for c in pod_spec(deployment)["containers"] if c["name"] == deployment["metadata"]["name"]]
    return container


def workloads(objects: dict) -> dict[str, dict]:
    return {**of_kind(objects, "Deployment"), **of_kind(objects, "Job")}


def config_map(objects: dict, name: str) -> dict:
    """A ConfigMap by the name a pod uses (kustomize has already rewritten generated names)."""
    found = objects.get(("ConfigMap", name))
    assert found is not None, f"ConfigMap {name} is not defined"
    return found


def secret_data(objects: dict, name: str) -> dict[str, str] | None:
    found = objects.get(("Secret", name))
    if found is None:
        return None
    return {k: base64.b64decode(v).decode() for k, v in (found.get("data") or {}).items()}


def container_env(objects: dict, container: dict, *, secrets_required: bool = True) -> dict[str, str | None]:
    """What the container's process sees: envFrom first, then env (which wins). A Secret's
    value is None where the Secrets are not rendered (the base)."""
    env: dict[str, str | None] = {}
    for source in container.get("envFrom") or []:
        if "configMapRef" in source:
            env.update(config_map(objects, source["configMapRef"]["name"]).get("data") or {})
        elif "secretRef" in source:
            data = secret_data(objects, source["secretRef"]["name"])
            assert data is not None or not secrets_required, f"Secret {source['secretRef']['name']} is not defined"
            env.update(data or {})
        else:
            pytest.fail(f"unexpected envFrom source {source}")
    for item in container.get("env") or []:
        if "value" in item:
            env[item["name"]] = item["value"]
            continue
        ref = item["valueFrom"]
        if "configMapKeyRef" in ref:
            cm = config_map(objects, ref["configMapKeyRef"]["name"])
            assert ref["configMapKeyRef"]["key"] in cm["data"], item
            env[item["name"]] = cm["data"][ref["configMapKeyRef"]["key"]]
        elif "secretKeyRef" in ref:
            data = secret_data(objects, ref["secretKeyRef"]["name"])
            if data is None:
                assert not secrets_required, f"Secret {ref['secretKeyRef']['name']} is not defined"
                env[item["name"]] = None
            else:
                assert ref["secretKeyRef"]["key"] in data, item
                env[item["name"]] = data[ref["secretKeyRef"]["key"]]
        else:
            pytest.fail(f"unexpected valueFrom {ref}")
    return env


def uses_uise_image(container: dict) -> bool:
    return container["image"].split("/")[-1].split(":")[0] == "uise"


# ---------------------------------------------------------------------------------------------
# what the code reads
# ---------------------------------------------------------------------------------------------


def settings_names(model) -> set[str]:
    prefix = model.model_config.get("env_prefix", "")
    names = set()
    for field_name, field in model.model_fields.items():
        names.add((prefix + field_name).upper())
        alias = field.validation_alias
        if isinstance(alias, AliasChoices):
            names.update(str(c).upper() for c in alias.choices if isinstance(c, str))
        elif isinstance(alias, str):
            names.add(alias.upper())
    return names


_ENVIRON = re.compile(r"""os\.(?:environ(?:\.get)?|getenv)\s*[\(\[]\s*["']([A-Z][A-Z0-9_]*)["']""")


def environ_names(*roots: Path) -> set[str]:
    """Variables the code reads directly from os.environ."""
    return {m for root in roots for path in root.rglob("*.py")
            for m in _ENVIRON.findall(path.read_text(encoding="utf-8"))}


def read_by(service: str) -> set[str]:
    src = ROOT / "services" / service / "src"
    if service == PORTAL:
        return settings_names(PortalSettings) | environ_names(src)
    return (settings_names(Settings) | environ_names(src, ROOT / "libs" / "common" / "src",
                                                       ROOT / "infra" / "embedded" / "src"))


def script_variables() -> set[str]:
    """Variables the Kafka scripts read (the uise-kafka-acls Job runs them)."""
    text = "".join(p.read_text(encoding="utf-8") for p in (ROOT / "infra" / "kafka").glob("*.sh"))
    return set(re.findall(r"\$\{?([A-Z][A-Z0-9_]*)", text)) | set(re.findall(r"^scram_user \S+ (\S+)", text, re.M))


def service_spec(service: str):
    import importlib

    from uise_common.service import ServiceSpec

    module = importlib.import_module(f"uise_{service}.entrypoint")
    (spec,) = [v for v in vars(module).values() if isinstance(v, ServiceSpec)]
    return spec


# ---------------------------------------------------------------------------------------------
# files and schemas
# ---------------------------------------------------------------------------------------------


def test_every_manifest_file_parses():
    files = sorted(K8S.rglob("*.yaml"))
    assert len(files) >= 14
    for path in files:
        if "local" in path.relative_to(K8S).parts:
            continue
        docs = [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d is not None]
        assert docs, f"{path} is empty"
        for d in docs:
            assert isinstance(d, dict) and d.get("apiVersion") and d.get("kind"), f"{path}: {d!r:.80}"
            if d["kind"] != "Kustomization":
                assert d.get("metadata", {}).get("name"), f"{path}: a {d['kind']} without a name"


def test_the_base_renders_on_its_own(base):
    assert {name for name in of_kind(base, "Deployment")} == set(SERVICE_DIRS)
    # the environment's parts come from the overlay
    assert not of_kind(base, "Secret") and ("Namespace", "uise") not in base


def test_the_overlay_renders_every_kind_it_needs(rendered):
    kinds = {k for k, _ in rendered}
    assert kinds == {"Namespace", "ConfigMap", "Secret", "Deployment", "Service", "PodDisruptionBudget",
                     "Job", "ScaledObject", "TriggerAuthentication"}
    for (kind, name), obj in rendered.items():
        if kind != "Namespace":
            assert obj["metadata"].get("namespace") == "uise", f"{kind} {name} is outside the namespace"


def test_core_objects_match_the_kubernetes_schemas(rendered):
    checked = 0
    for (kind, name), obj in rendered.items():
        if obj["apiVersion"] == KEDA_API:
            continue  # no schema bundled for the CRDs: checked field by field below
        try:
            kubernetes_validate.validate(obj, K8S_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(f"{kind} {name}: {exc.message} at {'/'.join(map(str, exc.path))}")
        checked += 1
    assert checked >= 40


@pytest.mark.parametrize("mutate", [
    lambda d: d["spec"]["template"]["spec"]["containers"][0].update(livenesProbe={}),  # a typo
    lambda d: d["spec"]["template"]["spec"]["containers"][0]["ports"][0].update(containerPort="8002"),
    lambda d: d["spec"].pop("selector"),
])
def test_the_schema_check_catches_a_broken_deployment(rendered, mutate):
    broken = copy.deepcopy(rendered[("Deployment", "intake")])
    mutate(broken)
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, K8S_VERSION, strict=True)


# ---------------------------------------------------------------------------------------------
# the workloads
# ---------------------------------------------------------------------------------------------


def test_every_service_directory_has_a_deployment_service_and_budget(rendered):
    assert SERVICE_DIRS, "no services/ found"
    for kind in ("Deployment", "Service", "PodDisruptionBudget"):
        assert set(of_kind(rendered, kind)) == set(SERVICE_DIRS), kind


@pytest.mark.parametrize("service", SERVICE_DIRS)
def test_deployment_runs_its_service_as_compose_does(rendered, compose_file, service):
    deployment = rendered[("Deployment", service)]
    labels = {"app.kubernetes.io/name": service}
    assert deployment["spec"]["selector"]["matchLabels"] == labels
    assert labels.items() <= deployment["spec"]["template"]["metadata"]["labels"].items()
    container = main_container(deployment)
    assert container["command"] == compose_file.command(service) == ["python", "-m", f"uise_{service}"]
    assert (ROOT / "services" / service / "src" / f"uise_{service}" / "__main__.py").is_file()


@pytest.mark.parametrize("service", SERVICE_DIRS)
def test_ports_agree_with_probes_services_and_scrape_annotations(rendered, compose_file, service):
    deployment = rendered[("Deployment", service)]
    container = main_container(deployment)
    env = container_env(rendered, container)
    port_var = "UISE_PORTAL_HTTP_PORT" if service == PORTAL else "UISE_HTTP_PORT"
    port = int(env[port_var])
    assert str(port) == compose_file.env(service)[port_var], "not the port docker-compose.yml uses"
    assert container["ports"] == [{"name": "http", "containerPort": port}]

    def probe_port(probe: dict) -> int:
        p = probe["httpGet"]["port"]
        return port if p == "http" else int(p)

    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["startupProbe"]["httpGet"]["path"] == "/healthz"
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        assert probe_port(container[probe]) == port, probe

    svc = rendered[("Service", service)]
    assert svc["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]
    (sp,) = svc["spec"]["ports"]
    assert sp["port"] == port and sp["targetPort"] in ("http", port)

    annotations = deployment["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/port"] == str(port)
    assert annotations["prometheus.io/path"] == "/metrics"

    budget = rendered[("PodDisruptionBudget", service)]
    assert budget["spec"]["selector"]["matchLabels"] == deployment["spec"]["selector"]["matchLabels"]


def test_the_services_ports_are_distinct(rendered):
    ports = [main_container(d)["ports"][0]["containerPort"] for d in of_kind(rendered, "Deployment").values()]
    assert len(ports) == len(set(ports))


def dockerfile_uid() -> int:
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    (uid,) = set(re.findall(r"--uid (\d+)", text))
    assert "USER uise:uise" in text
    return int(uid)


def test_every_pod_runs_restricted(rendered):
    uid = dockerfile_uid()
    for name, obj in workloads(rendered).items():
        spec = pod_spec(obj)
        sc = spec["securityContext"]
        assert sc["runAsNonRoot"] is True and sc["seccompProfile"] == {"type": "RuntimeDefault"}, name
        assert spec["automountServiceAccountToken"] is False, name
        if any(uses_uise_image(c) for c in containers(obj)):
            assert sc["runAsUser"] == uid, f"{name} does not run as the image's user {uid}"
        for c in containers(obj):
            csc = c["securityContext"]
            assert csc["allowPrivilegeEscalation"] is False, (name, c["name"])
            assert csc["readOnlyRootFilesystem"] is True, (name, c["name"])
            assert csc["capabilities"] == {"drop": ["ALL"]}, (name, c["name"])
            res = c["resources"]
            for bound in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(res[bound]), f"{name}/{c['name']} has no {bound}"
    assert rendered[("Namespace", "uise")]["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"


def test_writable_paths_are_volumes(rendered):
    """A read-only root: the data dir, /tmp (uploads spool there) and nothing else are written."""
    for name, obj in workloads(rendered).items():
        volumes = {v["name"]: v for v in pod_spec(obj).get("volumes") or []}
        for c in containers(obj):
            mounts = {m["mountPath"]: m for m in c.get("volumeMounts") or []}
            assert "/tmp" in mounts and "emptyDir" in volumes[mounts["/tmp"]["name"]], (name, c["name"])
            if uses_uise_image(c):
                data_dir = container_env(rendered, c).get("UISE_DATA_DIR", "/var/lib/uise")
                assert data_dir in mounts and "emptyDir" in volumes[mounts[data_dir]["name"]], (name, c["name"])
            for path, m in mounts.items():
                kind = next(k for k in volumes[m["name"]] if k != "name")
                if kind != "emptyDir":
                    assert m.get("readOnly") is True, f"{name}: {path} ({kind}) should be read-only"


def test_deployments_scaled_by_keda_leave_the_count_to_it(rendered):
    scaled = {so["spec"]["scaleTargetRef"]["name"] for so in of_kind(rendered, "ScaledObject").values()}
    for name, deployment in of_kind(rendered, "Deployment").items():
        if name in scaled:
            assert "replicas" not in deployment["spec"], f"{name}: apply would fight the autoscaler"
        else:
            assert deployment["spec"].get("replicas", 1) >= 2, f"{name}: one replica is no availability"


@pytest.mark.parametrize("service", [s for s in SERVICE_DIRS if s != PORTAL])
def test_migrations_run_first_under_a_lock(rendered, service):
    deployment = rendered[("Deployment", service)]
    (init,) = pod_spec(deployment)["initContainers"]
    main = main_container(deployment)
    assert init["command"] == ["python", "-m", "uise_stack.migrate", service]
    assert (ROOT / "infra" / "embedded" / "src" / "uise_stack" / "migrate.py").is_file()
    assert init["image"] == main["image"]
    # the same database, schema and settings as the service itself
    assert container_env(rendered, init) == container_env(rendered, main)


# ---------------------------------------------------------------------------------------------
# configuration and secrets
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("service", SERVICE_DIRS)
def test_every_variable_set_is_read_by_the_code(rendered, service):
    known = read_by(service)
    for c in containers(rendered[("Deployment", service)]):
        unknown = set(container_env(rendered, c)) - known
        assert not unknown, f"{service}/{c['name']}: nothing reads {sorted(unknown)}"


def test_the_jobs_variables_are_read_by_what_they_run(rendered):
    topics = rendered[("Job", "uise-kafka-topics")]
    for c in containers(topics):
        assert set(container_env(rendered, c)) <= read_by("registry")  # Settings, as every service
    acls = rendered[("Job", "uise-kafka-acls")]
    for c in containers(acls):
        unknown = set(container_env(rendered, c)) - script_variables() - {"LOG_DIR"}
        assert not unknown, f"uise-kafka-acls: nothing reads {sorted(unknown)}"


@pytest.mark.parametrize("service", SERVICE_DIRS)
def test_environment_mirrors_docker_compose(rendered, base, compose_file, service):
    """Every variable compose gives the service is given here too; where compose writes a plain
    value (no ${...}), the base has the same one (the overlay then sets the environment's)."""
    env = container_env(rendered, main_container(rendered[("Deployment", service)]))
    base_env = container_env(base, main_container(base[("Deployment", service)]), secrets_required=False)
    for key, value in compose_file.env(service).items():
        assert key in env, f"{service}: {key} is set by docker-compose.yml, not here"
        if not compose_file.refs(value):
            # a plain value held in a Secret (the Kafka user name) is known only once rendered
            ours = base_env[key] if base_env.get(key) is not None else env[key]
            assert ours == value, f"{service}: {key}={ours!r}, compose has {value!r}"


@pytest.mark.parametrize("service", [s for s in SERVICE_DIRS if s != PORTAL])
def test_service_settings_load_from_the_rendered_environment(rendered, compose_file, monkeypatch, service):
    for var in list(os.environ):
        if var.startswith("UISE_") or var in {"DATABASE_URL", "REDIS_URL", "OTEL_EXPORTER_OTLP_ENDPOINT"}:
            monkeypatch.delenv(var)
    env = container_env(rendered, main_container(rendered[("Deployment", service)]))
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    s = Settings()
    assert s.service_name == service
    assert s.kafka_security_protocol.startswith("SASL_") and s.kafka_username == service
    assert s.kafka_password.get_secret_value() == sample_values()[f"UISE_KAFKA_{service.upper()}_PASSWORD"]
    assert s.database_url == (f"postgresql+psycopg://uise:{sample_values()['UISE_DB_PASSWORD']}@postgres:5432/uise")
    assert s.redis_url and s.otlp_endpoint
    stores = service_spec(service).uses_object_store
    assert ("UISE_S3_SECRET_KEY" in env) == stores == ("UISE_S3_SECRET_KEY" in compose_file.env(service))
    if stores:
        assert s.s3_access_key == f"uise-{service}"  # its MinIO user, infra/minio/policies/<service>.json
        assert (ROOT / "infra" / "minio" / "policies" / f"{service}.json").is_file()
        assert s.s3_secret_key == sample_values()[f"UISE_S3_{service.upper()}_SECRET_KEY"]


def test_portal_settings_load_from_the_rendered_environment(rendered, monkeypatch):
    for var in list(os.environ):
        if var.startswith("UISE_"):
            monkeypatch.delenv(var)
    env = container_env(rendered, main_container(rendered[("Deployment", PORTAL)]))
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    s = PortalSettings()
    assert s.session_key == sample_values()["UISE_PORTAL_SESSION_KEY"]
    assert s.cookie_secure is True, "production serves the portal behind HTTPS"
    services = {name: d for name, d in of_kind(rendered, "Service").items()}
    for name in ("identity", "registry", "intake", "validation", "routing", "deadline", "reporting"):
        url = s.url(name)
        assert url == f"http://{name}:{services[name]['spec']['ports'][0]['port']}", url


def test_every_secret_and_config_map_named_is_defined_with_its_keys(rendered):
    named: list[tuple[str, str, str | None, str]] = []  # (kind, name, key, who)
    for wname, obj in workloads(rendered).items():
        for c in containers(obj):
            who = f"{wname}/{c['name']}"
            for source in c.get("envFrom") or []:
                for ref, kind in (("configMapRef", "ConfigMap"), ("secretRef", "Secret")):
                    if ref in source:
                        named.append((kind, source[ref]["name"], None, who))
            for item in c.get("env") or []:
                for ref, kind in (("configMapKeyRef", "ConfigMap"), ("secretKeyRef", "Secret")):
                    if ref in item.get("valueFrom", {}):
                        r = item["valueFrom"][ref]
                        named.append((kind, r["name"], r["key"], who))
        for v in pod_spec(obj).get("volumes") or []:
            if "configMap" in v:
                named.append(("ConfigMap", v["configMap"]["name"], None, wname))
            if "secret" in v:
                named.append(("Secret", v["secret"]["secretName"], None, wname))
    for name, auth in of_kind(rendered, "TriggerAuthentication").items():
        for ref in auth["spec"]["secretTargetRef"]:
            named.append(("Secret", ref["name"], ref["key"], name))
    assert named
    for kind, name, key, who in named:
        obj = rendered.get((kind, name))
        assert obj is not None, f"{who} names {kind} {name}, which is not defined"
        assert not obj.get("optional")
        if key is not None:
            assert key in {**(obj.get("data") or {}), **(obj.get("binaryData") or {})}, (
                f"{who} asks {kind} {name} for {key}")
    used = {(k, n) for k, n, _, _ in named}
    for (kind, name) in rendered:
        if kind in ("ConfigMap", "Secret"):
            assert (kind, name) in used, f"{kind} {name} is defined but nothing uses it"


def secret_users(rendered: dict) -> dict[str, set[str]]:
    users: dict[str, set[str]] = {}
    for wname, obj in workloads(rendered).items():
        for c in containers(obj):
            for source in c.get("envFrom") or []:
                if "secretRef" in source:
                    users.setdefault(source["secretRef"]["name"], set()).add(wname)
            for item in c.get("env") or []:
                ref = item.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    users.setdefault(ref["name"], set()).add(wname)
    return users


def test_each_secret_goes_only_to_those_that_need_it(rendered, uise_services):
    users = secret_users(rendered)
    for service in uise_services:
        # the service, and the Job that sets its Kafka password
        assert users[f"uise-{service}"] == {service, "uise-kafka-acls"}, service
        auth = rendered[("TriggerAuthentication", k8s_keda.auth_name(service))] if any(
            service in t.consumers for t in TOPICS) else None
        if auth:
            assert {r["name"] for r in auth["spec"]["secretTargetRef"]} == {f"uise-{service}"}
    assert users["uise-kafka-admin"] == {"uise-kafka-topics", "uise-kafka-acls"}
    assert users["uise-database"] == set(uise_services)
    assert users["uise-portal"] == {PORTAL}
    assert set(secret_data(rendered, "uise-portal")) == {"UISE_PORTAL_SESSION_KEY"}
    assert secret_data(rendered, "uise-kafka-admin")["UISE_KAFKA_USERNAME"] == "admin"
    assert secret_data(rendered, "uise-identity")["UISE_IDENTITY_KEY_PASSPHRASE"]
    assert secret_data(rendered, "uise-reporting")["UISE_REPORTING_LINK_KEY"]
    for service in uise_services:
        assert secret_data(rendered, f"uise-{service}")["UISE_KAFKA_USERNAME"] == service


def test_only_the_services_that_check_signatures_get_the_trust_anchors(rendered, compose_file):
    for name, deployment in of_kind(rendered, "Deployment").items():
        env = container_env(rendered, main_container(deployment))
        mounted = {m["mountPath"] for m in main_container(deployment).get("volumeMounts") or []}
        has = "UISE_TRUST_DIR" in env
        assert has == ("UISE_TRUST_DIR" in compose_file.env(name)), name
        if has:
            assert env["UISE_TRUST_DIR"] in mounted
    trust = rendered[("ConfigMap", "uise-trust")]
    assert set(trust["binaryData"]) == {"nca-rk-root.cer", "nca-rk-gost.pem"}  # not the README


def test_the_acl_job_runs_the_repositorys_scripts_with_every_password(rendered, compose_file):
    job = rendered[("Job", "uise-kafka-acls")]
    (c,) = containers(job)
    assert c["image"] == compose_file.services["kafka-acls"]["image"]
    assert c["command"] == compose_file.command("kafka-acls")
    script_dir = next(m for m in c["volumeMounts"] if m["name"] == "scripts")["mountPath"]
    assert c["command"][1].startswith(script_dir + "/")
    volume = next(v for v in pod_spec(job)["volumes"] if v["name"] == "scripts")
    scripts = config_map(rendered, volume["configMap"]["name"])["data"]
    for name in ("acls.sh", "setup-security.sh"):
        assert scripts[name] == (ROOT / "infra" / "kafka" / name).read_text(encoding="utf-8")
    env = container_env(rendered, c)
    for key in compose_file.env("kafka-acls"):
        assert key in env, f"uise-kafka-acls lacks {key}"
    values = sample_values()
    for key in re.findall(r"^scram_user \S+ (\S+)", scripts["acls.sh"], re.M):
        assert env[key] == values[key], key
    assert env["UISE_KAFKA_ADMIN_PASSWORD"] == values["UISE_KAFKA_ADMIN_PASSWORD"]


def test_the_topics_job_runs_as_compose_kafka_init(rendered, compose_file):
    job = rendered[("Job", "uise-kafka-topics")]
    (c,) = containers(job)
    assert c["command"] == compose_file.command("kafka-init")
    env = container_env(rendered, c)
    assert env["UISE_KAFKA_USERNAME"] == "admin"
    assert env["UISE_KAFKA_PASSWORD"] == sample_values()["UISE_KAFKA_ADMIN_PASSWORD"]
    for key in compose_file.env("kafka-init"):
        assert key in env


def test_images_are_the_one_image_of_the_dockerfile(rendered, base, compose_file):
    default = compose_file.only_ref(compose_file.services["registry"]["image"]).default  # uise:latest
    name = default.split(":")[0]
    for obj in workloads(base).values():
        for c in containers(obj):
            if c["name"] != "acls":
                assert c["image"] == name, f"{c['name']}: {c['image']} is not {name}"
    overlay = yaml.safe_load((K8S / OVERLAY / "kustomization.yaml").read_text(encoding="utf-8"))
    (image,) = [i for i in overlay["images"] if i["name"] == name]
    expected = f"{image['newName']}:{image['newTag']}"
    for obj in workloads(rendered).values():
        for c in containers(obj):
            if c["name"] != "acls":
                assert c["image"] == expected
    for service in SERVICE_DIRS:
        assert compose_file.services[service]["image"] == compose_file.services["registry"]["image"]
        assert compose_file.is_built(service)


def test_local_inputs_stay_out_of_git_and_images(tmp_path):
    probe = K8S / OVERLAY / "local" / "intake.env"
    done = subprocess.run(["git", "check-ignore", "-q", str(probe)], cwd=ROOT)
    assert done.returncode == 0, "git does not ignore the overlay's local/ (secrets)"
    patterns = [p.strip() for p in (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
                if p.strip() and not p.startswith("#")]
    import fnmatch

    rel = "infra/k8s/overlays/production/local"
    assert any(fnmatch.fnmatch(rel, p) for p in patterns), ".dockerignore lets the secrets into the build"


def test_make_secrets_refuses_a_missing_or_weak_value_and_an_empty_trust_dir(tmp_path):
    tmp = copy_infra(tmp_path)
    values = sample_values()
    missing = dict(values)
    del missing["UISE_KAFKA_SIGNATURE_PASSWORD"]
    done = make_secrets(tmp, missing)
    assert done.returncode != 0 and "UISE_KAFKA_SIGNATURE_PASSWORD" in done.stderr
    weak = {**values, "UISE_DB_PASSWORD": "short"}
    done = make_secrets(tmp, weak)
    assert done.returncode != 0 and "UISE_DB_PASSWORD" in done.stderr
    base64ish = {**values, "UISE_KAFKA_ADMIN_PASSWORD": "ab+cd/ef" + "x" * 30}  # JAAS has no quoting
    done = make_secrets(tmp, base64ish)
    assert done.returncode != 0 and "UISE_KAFKA_ADMIN_PASSWORD" in done.stderr
    for path in (tmp / "trust").iterdir():
        if not path.name.startswith("README"):
            path.unlink()
    done = make_secrets(tmp, values)
    assert done.returncode != 0 and "no CA certificate" in done.stderr


def test_make_secrets_writes_files_only_their_owner_reads(tmp_path):
    tmp = copy_infra(tmp_path)
    done = make_secrets(tmp, sample_values())
    assert done.returncode == 0, done.stderr
    local = tmp / "infra" / "k8s" / OVERLAY / "local"
    files = [p for p in local.rglob("*") if p.is_file()]
    assert len(files) >= 14
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0, f"{path} is readable by others"


# ---------------------------------------------------------------------------------------------
# KEDA
# ---------------------------------------------------------------------------------------------


def test_keda_file_is_generated_from_the_topic_table():
    assert not k8s_keda.drift(), (
        "infra/k8s/base/keda.yaml is stale: run `.venv/bin/python -m uise_stack.k8s_keda` and commit")


def test_keda_objects_are_well_formed(rendered):
    deployments = of_kind(rendered, "Deployment")
    auths = of_kind(rendered, "TriggerAuthentication")
    targets = []
    for name, so in of_kind(rendered, "ScaledObject").items():
        assert so["apiVersion"] == KEDA_API
        spec = so["spec"]
        ref = spec["scaleTargetRef"]
        assert set(ref) <= {"name", "kind", "apiVersion"} and ref.get("kind", "Deployment") == "Deployment"
        assert ref["name"] in deployments, f"ScaledObject {name} targets no Deployment"
        targets.append(ref["name"])
        assert 1 <= spec["minReplicaCount"] <= spec["maxReplicaCount"], name
        assert spec["triggers"], name
        names = [t.get("name") for t in spec["triggers"]]
        assert len(names) == len(set(names)), f"{name}: trigger names repeat"
        for t in spec["triggers"]:
            assert t["type"] in {"kafka", "prometheus", "cpu"}, t["type"]
            assert all(isinstance(v, str) for v in t["metadata"].values()), f"{name}: metadata must be strings"
            if "authenticationRef" in t:
                assert t["authenticationRef"]["name"] in auths
        if "fallback" in spec:
            assert not any(t["type"] == "cpu" for t in spec["triggers"]), "KEDA refuses fallback with cpu"
            assert 0 < spec["fallback"]["replicas"] <= spec["maxReplicaCount"]
    assert len(targets) == len(set(targets)), "two ScaledObjects on one Deployment"
    for name, auth in auths.items():
        assert auth["apiVersion"] == KEDA_API
        params = {r["parameter"] for r in auth["spec"]["secretTargetRef"]}
        assert params == {"username", "password"}, name


def kafka_triggers(so: dict) -> list[dict]:
    return [t for t in so["spec"]["triggers"] if t["type"] == "kafka"]


def test_every_consumer_scales_on_the_lag_of_each_group_and_topic_it_reads(rendered, uise_services):
    scaled = {so["spec"]["scaleTargetRef"]["name"]: so for so in of_kind(rendered, "ScaledObject").values()}
    for service in uise_services:
        expected = {(f"uise-{service}.{t.name}", t.name) for t in TOPICS if service in t.consumers
                    and (service, t.name) not in k8s_keda.NOT_SUBSCRIBED}
        if not expected:
            assert service not in scaled or not kafka_triggers(scaled[service])
            continue
        assert service in scaled, f"{service} consumes {len(expected)} topics but KEDA does not scale it"
        got = [(t["metadata"]["consumerGroup"], t["metadata"]["topic"]) for t in kafka_triggers(scaled[service])]
        assert len(got) == len(set(got))
        assert set(got) == expected, f"{service}: triggers differ from the contracts"
        for group, topic in got:
            runner = ConsumerRunner(service=service, topic=BY_NAME[topic], handler=None, engine=None,
                                    broker=None, seen=None, after_commit=None, policy=None)
            assert group == runner.group, "not the group the consumer joins"


def test_the_triggers_follow_what_each_service_subscribes_to_in_code(rendered, uise_service, tmp_path):
    spec = service_spec(uise_service)
    runtime = SimpleNamespace(
        settings=Settings(service_name=uise_service, data_dir=tmp_path, trust_dir=tmp_path),
        store=SimpleNamespace(get=lambda obj: b"", put=lambda data, kind, media_type: None),
    )
    subscribed = {t.name for t in spec.consumers(runtime)}
    so = rendered.get(("ScaledObject", uise_service))
    triggered = {t["metadata"]["topic"] for t in kafka_triggers(so)} if so else set()
    assert triggered == subscribed, f"{uise_service} subscribes to {sorted(subscribed)}"
    # the generator's list of gaps between the contracts and the code is exactly the real one
    listed = {t.name for t in TOPICS if uise_service in t.consumers}
    gaps = {topic for service, topic in k8s_keda.NOT_SUBSCRIBED if service == uise_service}
    assert gaps == listed - subscribed, (
        f"{uise_service}: k8s_keda.NOT_SUBSCRIBED should list exactly {sorted(listed - subscribed)}")


def test_no_consumer_is_scaled_past_its_partitions(rendered):
    for name, so in of_kind(rendered, "ScaledObject").items():
        triggers = kafka_triggers(so)
        if not triggers:
            continue
        partitions = max(BY_NAME[t["metadata"]["topic"]].partitions for t in triggers)
        for t in triggers:
            # KEDA then caps each lag at its topic's partitions itself
            assert t["metadata"]["allowIdleConsumers"] == "false"
            assert int(t["metadata"]["lagThreshold"]) > 0
            assert t["metadata"]["offsetResetPolicy"] == "earliest"  # as uise_common.consumer.subscribe
        if all(t["type"] == "kafka" for t in so["spec"]["triggers"]):
            assert so["spec"]["maxReplicaCount"] <= partitions, (
                f"{name}: {so['spec']['maxReplicaCount']} replicas for {partitions} partition(s)")


def test_kafka_triggers_connect_as_the_service_does(rendered):
    for so in of_kind(rendered, "ScaledObject").values():
        deployment = rendered[("Deployment", so["spec"]["scaleTargetRef"]["name"])]
        env = container_env(rendered, main_container(deployment))
        for t in kafka_triggers(so):
            meta = t["metadata"]
            assert "bootstrapServers" not in meta
            assert env[meta["bootstrapServersFromEnv"]] == env["UISE_KAFKA_BOOTSTRAP"]
            mechanism = {"SCRAM-SHA-512": "scram_sha512", "SCRAM-SHA-256": "scram_sha256"}
            assert meta["sasl"] == mechanism[env["UISE_KAFKA_SASL_MECHANISM"]], "KEDA must log in as the services do"
            assert meta["tls"] == ("enable" if env["UISE_KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL" else "disable")
            auth = rendered[("TriggerAuthentication", t["authenticationRef"]["name"])]
            creds = {r["parameter"]: secret_data(rendered, r["name"])[r["key"]]
                     for r in auth["spec"]["secretTargetRef"]}
            # the very principal the service connects as, whose ACLs cover its groups and topics
            assert creds == {"username": env["UISE_KAFKA_USERNAME"], "password": env["UISE_KAFKA_PASSWORD"]}


def test_intake_scales_on_its_request_rate(rendered):
    so = rendered[("ScaledObject", "intake")]
    (prom,) = [t for t in so["spec"]["triggers"] if t["type"] == "prometheus"]
    meta = prom["metadata"]
    assert 'uise_http_requests_total{service="intake"}' in meta["query"]
    assert meta["query"].startswith("sum(rate(") and re.match(r"https?://", meta["serverAddress"])
    assert float(meta["threshold"]) > 0
    assert so["spec"]["maxReplicaCount"] > max(BY_NAME[t["metadata"]["topic"]].partitions
                                               for t in kafka_triggers(so)), "HTTP replicas are not bound by partitions"


def test_cpu_triggers_have_a_request_to_measure_against(rendered):
    for _name, so in of_kind(rendered, "ScaledObject").items():
        for t in so["spec"]["triggers"]:
            if t["type"] == "cpu":
                assert t["metricType"] == "Utilization" and 0 < int(t["metadata"]["value"]) <= 100
                deployment = rendered[("Deployment", so["spec"]["scaleTargetRef"]["name"])]
                for c in containers(deployment, init=False):
                    assert "cpu" in c["resources"]["requests"]


def test_the_generator_refuses_what_would_scale_badly():
    from uise_stack.k8s_keda import Scaling, scaled_object

    with pytest.raises(ValueError, match="lag"):
        scaled_object("signature", Scaling(min_replicas=1))
    with pytest.raises(ValueError, match="max_replicas"):
        scaled_object("signature", Scaling(min_replicas=1, lag=10, cpu_percent=70))
    with pytest.raises(ValueError, match="min_replicas"):
        scaled_object("signature", Scaling(min_replicas=5, lag=10))


# ---------------------------------------------------------------------------------------------
# the runbook names only what exists
# ---------------------------------------------------------------------------------------------


RUNBOOK = ROOT / "docs" / "runbook.md"


def test_the_runbook_is_linked():
    assert RUNBOOK.is_file()
    assert "docs/runbook.md" in (ROOT / "README.md").read_text(encoding="utf-8")
    assert "runbook.md" in (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")


def test_the_runbook_names_real_topics_commands_and_objects(rendered):
    from uise_stack import cli, dlq

    text = RUNBOOK.read_text(encoding="utf-8")
    topics = set(re.findall(r"\buise\.[a-z-]+\.[a-z-]+\.v\d+(?:\.dlq)?\b", text))
    assert topics, "the runbook names no topic"
    for topic in topics:
        assert topic.removesuffix(".dlq") in BY_NAME, f"runbook: {topic} is no contract topic"
    dlq_commands = set(re.findall(r"uise-dlq (\w+)", text))
    assert dlq_commands and dlq_commands <= set(dlq.COMMANDS)
    assert dlq.DLQ_GROUP in text
    for module in {m.rstrip(".") for m in re.findall(r"python -m ([A-Za-z0-9_.]+)", text)}:
        parts = module.split(".")
        assert any((root.joinpath(*parts).with_suffix(".py")).is_file() or root.joinpath(*parts, "__main__.py").is_file()
                   for root in [ROOT / "infra" / "embedded" / "src", *(ROOT / "services").glob("*/src"),
                                ROOT / "contracts" / "src"]), f"runbook: python -m {module} does not exist"
    for command in set(re.findall(r"uise-stack (\w+)", text)):
        with pytest.raises(SystemExit) as exit_:  # --help of a real subcommand exits 0, of another 2
            cli.main([command, "--help"])
        assert exit_.value.code == 0, f"runbook: uise-stack {command} does not exist"
    for kind, name in re.findall(r"(deployment|scaledobject|job)/([a-z0-9-]+)", text):
        kinds = {"deployment": "Deployment", "scaledobject": "ScaledObject", "job": "Job"}
        assert (kinds[kind], name) in rendered, f"runbook: {kind}/{name} is not in the manifests"


# ---------------------------------------------------------------------------------------------
# infra/k8s/uise-admin.sh: the operator's one-off pods (DLQ tool, Kafka's tools)
# ---------------------------------------------------------------------------------------------


STUB_KUBECTL = """#!{python}
import json, os, sys
args = sys.argv[1:]
if "get" in args:  # deployment/intake's image or its ConfigMap
    print({image!r} if "image" in args[-1] else {config!r}, end="")
else:
    with open(os.environ["STUB_OUT"], "w") as f:
        json.dump(args, f)
"""


def run_admin(tmp_path: Path, rendered: dict, *args: str) -> tuple[subprocess.CompletedProcess, list[str] | None]:
    import sys

    intake = main_container(rendered[("Deployment", "intake")])
    stub = tmp_path / "bin" / "kubectl"
    stub.parent.mkdir(exist_ok=True)
    stub.write_text(STUB_KUBECTL.format(python=sys.executable, image=intake["image"],
                                        config=intake["envFrom"][0]["configMapRef"]["name"]))
    stub.chmod(0o755)
    out = tmp_path / "kubectl-args.json"
    out.unlink(missing_ok=True)
    env = {**os.environ, "PATH": f"{stub.parent}:{os.environ['PATH']}", "STUB_OUT": str(out)}
    done = subprocess.run(["sh", str(K8S / "uise-admin.sh"), *args], capture_output=True, text=True,
                          env=env, timeout=60)
    return done, (__import__("json").loads(out.read_text()) if out.exists() else None)


def admin_pod(rendered: dict, argv: list[str]) -> dict:
    import json

    (overrides,) = [a.removeprefix("--overrides=") for a in argv if a.startswith("--overrides=")]
    pod = {"kind": "Pod", "metadata": {"name": argv[argv.index("run") + 1]}, **json.loads(overrides)}
    kubernetes_validate.validate(pod, K8S_VERSION, strict=True)
    (c,) = pod["spec"]["containers"]
    for source in c["envFrom"]:
        kind, ref = ("ConfigMap", "configMapRef") if "configMapRef" in source else ("Secret", "secretRef")
        assert (kind, source[ref]["name"]) in rendered, f"the admin pod names {kind} {source[ref]['name']}"
    assert c["securityContext"]["readOnlyRootFilesystem"] is True
    assert pod["spec"]["securityContext"]["runAsNonRoot"] is True
    return pod


def test_admin_runs_the_dlq_tool_in_the_services_image_as_the_kafka_admin(tmp_path, rendered):
    done, argv = run_admin(tmp_path, rendered, "uise-dlq", "list", "uise.submission.received.v1.dlq")
    assert done.returncode == 0, done.stderr
    assert argv[:3] == ["-n", "uise", "run"] and "--rm" in argv
    pod = admin_pod(rendered, argv)
    (c,) = pod["spec"]["containers"]
    assert c["image"] == main_container(rendered[("Deployment", "intake")])["image"]
    assert c["command"] == ["uise-dlq", "list", "uise.submission.received.v1.dlq"]
    assert pod["spec"]["securityContext"]["runAsUser"] == dockerfile_uid()
    env = container_env(rendered, c)
    assert env["UISE_KAFKA_USERNAME"] == "admin" and env["UISE_KAFKA_BOOTSTRAP"]


def test_admin_runs_kafkas_tools_logged_in_as_the_admin(tmp_path, rendered, compose_file):
    group = "uise-signature.uise.submission.received.v1"
    done, argv = run_admin(tmp_path, rendered, "kafka", "kafka-consumer-groups.sh", "--describe", "--group", group)
    assert done.returncode == 0, done.stderr
    (c,) = admin_pod(rendered, argv)["spec"]["containers"]
    assert c["image"] == compose_file.services["kafka"]["image"]
    bash, flag, script, *rest = c["command"]
    assert (bash, flag) == ("bash", "-c") and rest == ["kafka-consumer-groups.sh", "--describe", "--group", group]
    # run the pod's script for real, with a stand-in for Kafka's tool, in the admin's environment
    tools = tmp_path / "kafka-bin"
    tools.mkdir()
    (tools / "kafka-consumer-groups.sh").write_text(
        '#!/bin/sh\nprintf "%s\\n" "$@" > "$STUB_DIR/args"\ncat "$STUB_DIR/admin.properties" > "$STUB_DIR/config"\n')
    (tools / "kafka-consumer-groups.sh").chmod(0o755)
    script = script.replace("/opt/kafka/bin/", f"{tools}/").replace("/tmp/admin.properties", f"{tmp_path}/admin.properties")
    env = {**container_env(rendered, c), "PATH": os.environ["PATH"], "STUB_DIR": str(tmp_path)}
    ran = subprocess.run(["bash", "-c", script, *rest], env=env, capture_output=True, text=True, timeout=60)
    assert ran.returncode == 0, ran.stderr
    args = (tmp_path / "args").read_text().split("\n")
    assert args[:4] == ["--describe", "--group", group, "--bootstrap-server"]
    assert args[4] == env["UISE_KAFKA_BOOTSTRAP"] and args[5:7] == ["--command-config", f"{tmp_path}/admin.properties"]
    config = (tmp_path / "config").read_text()
    admin_password = sample_values()["UISE_KAFKA_ADMIN_PASSWORD"]
    assert "security.protocol=SASL_PLAINTEXT\nsasl.mechanism=SCRAM-SHA-512\n" in config
    assert f'username="admin" password="{admin_password}";' in config


@pytest.mark.parametrize("args", [["uise-dlq", "list", "x;rm -rf /"], ["kafka", "rm"], [], ["uise-dlq", "list", "a\"b"]])
def test_admin_refuses_what_it_cannot_pass_safely(tmp_path, rendered, args):
    done, argv = run_admin(tmp_path, rendered, *args)
    assert done.returncode == 2 and argv is None, done.stderr
