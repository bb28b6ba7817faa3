"""Production MinIO, checked offline (issue 7): a private bucket, one user per service that
stores objects, each limited by its committed policy (infra/minio/policies/<service>.json) to
the actions and key prefixes it needs, and the root credentials kept to the init job."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
POLICIES = ROOT / "infra" / "minio" / "policies"
SETUP = ROOT / "infra" / "minio" / "setup.sh"
BUCKET = "uise-documents"
BUCKET_ARN = f"arn:aws:s3:::{BUCKET}"

# What each service does with object storage, by key prefix (uise_common.objectstore keys are
# `<kind>/sha256/...`):
# - intake stores the document and its signature, or a paper submission's scan
#   (services/intake/.../api.py, `rt.store.put`), reads them back to check they are there
#   (ObjectStore.put stats first), and serves them through short-lived presigned links;
# - signature reads the document and the signature it verifies (handlers.on_received);
# - validation reads the document it parses (handlers.on_signature_checked);
# - reporting stores each node's consolidated documents (handlers, `put(..., "consolidations", ...)`;
#   the published reports are those documents), stats them first, and serves them;
# - the claim check (uise_common.claimcheck) stores the large fields of the claimable events a
#   service produces under `claims/` and reads them back for the claimable events it consumes
#   (claim_needs below, from the topic table).
NEEDS = {
    "intake": {"write": {"documents", "signatures", "scans"}, "read": {"documents", "signatures", "scans", "claims"}},
    "signature": {"write": set(), "read": {"documents", "signatures"}},
    "validation": {"write": {"claims"}, "read": {"documents", "claims"}},
    "reporting": {"write": {"consolidations"}, "read": {"consolidations", "claims"}},
}
# Writers may abort the multipart upload the minio client starts for a large document, and every
# user may check that the bucket exists (readiness, ObjectStore.ensure_bucket): HEAD bucket is
# authorized as s3:ListBucket.
WRITE_ACTIONS = {"s3:PutObject", "s3:AbortMultipartUpload"}
READ_ACTIONS = {"s3:GetObject"}
BUCKET_ACTIONS = {"s3:ListBucket"}


def object_arns(prefixes: set[str]) -> set[str]:
    return {f"{BUCKET_ARN}/{p}/*" for p in prefixes}


def load(service: str) -> dict:
    return json.loads((POLICIES / f"{service}.json").read_text(encoding="utf-8"))


def grants(policy: dict) -> dict[str, set[str]]:
    """action -> resources the policy allows it on."""
    out: dict[str, set[str]] = {}
    for st in policy["Statement"]:
        for action in st["Action"]:
            out.setdefault(action, set()).update(st["Resource"])
    return out


def services_using_object_storage() -> set[str]:
    """Services whose ServiceSpec says uses_object_store=True."""
    out = set()
    for path in (ROOT / "services").glob("*/src/*/*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Call) and getattr(node.func, "id", None) == "ServiceSpec"
                    and any(k.arg == "uses_object_store" and getattr(k.value, "value", False) is True
                            for k in node.keywords)):
                out.add(path.parts[-4])
    return out


def stored_kinds(service: str) -> set[str]:
    """The `kind` string constants a service's code passes to ObjectStore.put, directly
    (`put(data, kind, media_type)`) or through asyncio.to_thread(rt.store.put, data, kind, ...)."""
    kinds = set()
    for path in (ROOT / "services" / service / "src").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            fn, args = node.func, node.args
            name = fn.attr if isinstance(fn, ast.Attribute) else getattr(fn, "id", None)
            if name == "to_thread" and args and getattr(args[0], "attr", None) == "put":
                args = args[1:]
            elif name != "put" or isinstance(fn, ast.Attribute) and getattr(fn.value, "id", "") in {"api", "app"}:
                continue  # not a store (e.g. FastAPI's api.put route decorator)
            if len(args) >= 3:
                kinds |= {c.value for c in ast.walk(args[1]) if isinstance(c, ast.Constant) and isinstance(c.value, str)}
    return kinds


def claim_needs(service: str) -> dict[str, set[str]]:
    """What the claim check does for `service` (a user of object storage): it stores claims when
    the service produces a claimable event, and reads them when it consumes one."""
    from uise_common.claimcheck import KIND
    from uise_contracts.events import Claimable
    from uise_contracts.topics import TOPICS

    claimable = [t for t in TOPICS if issubclass(t.model, Claimable)]
    return {"write": {KIND} if any(service in t.producers for t in claimable) else set(),
            "read": {KIND} if any(service in t.consumers or service in t.producers for t in claimable) else set()}


# ---------------------------------------------------------------------------------------------
# the policies
# ---------------------------------------------------------------------------------------------


def test_one_policy_per_service_that_stores_objects():
    files = {p.stem for p in POLICIES.glob("*.json")}
    assert services_using_object_storage() == set(NEEDS), "a service started or stopped using object storage: update NEEDS and its policy"
    assert files == set(NEEDS)


@pytest.mark.parametrize("service", sorted(NEEDS))
def test_policy_is_an_allow_only_identity_policy(service):
    policy = load(service)
    assert policy["Version"] == "2012-10-17"
    for st in policy["Statement"]:
        assert st["Effect"] == "Allow"
        assert set(st) <= {"Sid", "Effect", "Action", "Resource"}, (
            f"{service}: only plain Action/Resource statements (no Principal, Not*, Condition)"
        )
        assert isinstance(st["Action"], list) and isinstance(st["Resource"], list)


@pytest.mark.parametrize("service", sorted(NEEDS))
def test_policy_grants_exactly_what_the_service_needs(service):
    allowed = grants(load(service))
    need = NEEDS[service]
    expected = {a: {BUCKET_ARN} for a in BUCKET_ACTIONS}
    expected |= {a: object_arns(need["read"]) for a in READ_ACTIONS if need["read"]}
    expected |= {a: object_arns(need["write"]) for a in WRITE_ACTIONS if need["write"]}
    assert allowed == expected


@pytest.mark.parametrize("service", sorted(NEEDS))
def test_no_wildcard_action_or_resource(service):
    for action, resources in grants(load(service)).items():
        assert "*" not in action, f"{service}: {action}"
        for r in resources:
            assert r == BUCKET_ARN or re.fullmatch(rf"{re.escape(BUCKET_ARN)}/[a-z]+/\*", r), (
                f"{service}: {r} is not the bucket or one key prefix in it"
            )


@pytest.mark.parametrize("service", sorted(NEEDS))
def test_what_the_code_stores_is_within_the_policy(service):
    kinds = stored_kinds(service) | claim_needs(service)["write"]
    assert kinds == NEEDS[service]["write"], f"{service} stores {sorted(kinds)}"
    puts = grants(load(service)).get("s3:PutObject", set())
    assert object_arns(kinds) <= puts


def test_presigned_downloads_are_possible_where_they_are_served():
    """intake serves submissions and reporting serves reports through presigned links: the link
    is signed with the service's own key, so its user needs GetObject on what it serves."""
    assert object_arns({"documents", "signatures", "scans"}) <= grants(load("intake"))["s3:GetObject"]
    assert object_arns({"consolidations"}) <= grants(load("reporting"))["s3:GetObject"]


# ---------------------------------------------------------------------------------------------
# the init job and the services' credentials
# ---------------------------------------------------------------------------------------------


def test_the_bucket_is_private():
    script = SETUP.read_text(encoding="utf-8")
    assert 'mc anonymous set none "uise/$bucket"' in script
    assert "*private*)" in script, "the job must check that anonymous access is off"
    assert not re.search(r"anonymous\s+(set\s+(public|download|upload|custom)|set-json)", script)
    assert f"bucket=${{UISE_S3_BUCKET:-{BUCKET}}}" in script


def test_the_init_job_alone_holds_the_root_credentials(compose_file):
    for variable in ("UISE_MINIO_ROOT_USER", "UISE_MINIO_ROOT_PASSWORD"):
        assert compose_file.services_referencing(variable) == {"minio", "minio-init"}
    env = compose_file.env("minio-init")
    assert compose_file.only_ref(env["MINIO_ROOT_USER"]).name == "UISE_MINIO_ROOT_USER"
    assert compose_file.only_ref(env["MINIO_ROOT_PASSWORD"]).name == "UISE_MINIO_ROOT_PASSWORD"
    for name in compose_file.services:
        if name not in {"minio", "minio-init"}:
            assert not {"MINIO_ROOT_USER", "MINIO_ROOT_PASSWORD"} & set(compose_file.env(name)), name


def test_the_init_job_runs_the_committed_script(compose_file):
    assert compose_file.command("minio-init", "entrypoint") == ["/bin/sh", "/opt/uise/minio/setup.sh"]
    assert compose_file.binds("minio-init")["/opt/uise/minio"] == ((ROOT / "infra" / "minio").resolve(), ["ro"])
    assert compose_file.depends_on("minio-init") == {"minio": "service_healthy"}


def test_each_service_that_stores_objects_has_its_own_credential(compose_file):
    secrets = {}
    job = compose_file.env("minio-init")
    for service in NEEDS:
        env = compose_file.env(service)
        assert env["UISE_S3_ACCESS_KEY"] == f"uise-{service}", "the user setup.sh creates"
        ref = compose_file.only_ref(env["UISE_S3_SECRET_KEY"])
        assert ref.required and ref.name == f"UISE_S3_{service.upper()}_SECRET_KEY"
        # the init job sets that user's secret from the same variable
        assert compose_file.only_ref(job[f"SECRET_KEY_{service}"]) == ref
        secrets[service] = ref.name
        assert compose_file.services_referencing(ref.name) == {service, "minio-init"}
        assert env["UISE_S3_BUCKET"] == BUCKET
    assert len(set(secrets.values())) == len(secrets)
    assert {k.removeprefix("SECRET_KEY_") for k in job if k.startswith("SECRET_KEY_")} == set(NEEDS)


def test_services_without_object_storage_get_no_credential(compose_file, uise_services):
    for service in set(uise_services) - set(NEEDS):
        env = compose_file.env(service)
        assert "UISE_S3_ACCESS_KEY" not in env and "UISE_S3_SECRET_KEY" not in env, service


def test_no_service_is_given_the_root_user(compose_file):
    root_refs = {"UISE_MINIO_ROOT_USER", "UISE_MINIO_ROOT_PASSWORD"}
    for name in compose_file.services:
        for key in ("UISE_S3_ACCESS_KEY", "UISE_S3_SECRET_KEY"):
            value = compose_file.env(name).get(key)
            if value is not None:
                assert not {r.name for r in compose_file.refs(value)} & root_refs, (name, key)
                assert value not in {"uise", "minioadmin", "root"}, (name, key)


def test_presigned_links_point_at_the_published_s3_api(compose_file):
    """A link is signed for the host it names, so it must name where callers reach MinIO."""
    endpoint = compose_file.env("intake")["UISE_S3_PUBLIC_ENDPOINT"]
    ref = compose_file.only_ref(endpoint)
    host, _, port = ref.default.rpartition(":")
    published = [str(p) for p in compose_file.services["minio"].get("ports") or []]
    assert published == [f"{port}:9000"], "only the S3 API is published, not the console (:9001)"
    assert host


@pytest.mark.parametrize("service", sorted(NEEDS))
def test_the_claim_check_reads_and_writes_within_the_policy(service):
    need = claim_needs(service)
    assert need["read"] <= NEEDS[service]["read"] and need["write"] <= NEEDS[service]["write"]
    allowed = grants(load(service))
    assert object_arns(need["read"]) <= allowed.get("s3:GetObject", set())  # ObjectStore.put stats first
    assert object_arns(need["write"]) <= allowed.get("s3:PutObject", set())
