"""Identity's API on a real SQLite database and a real Redis (the revocation list), with
certificates from the project's GOST test CA signing the challenge as NCALayer does: sign-in
and the role it gives, refresh and its rotation, sign-out and revocation, machine clients, and
tokens verified by another service from the published JWKS alone."""

from __future__ import annotations

import asyncio
import base64
import os
from datetime import UTC, date, datetime

import pytest
import redis
from cryptography.hazmat.primitives.serialization import Encoding
from fastapi.testclient import TestClient
from sqlmodel import Session

from uise_common import auth
from uise_common.auth import Authenticator, KeySet, jwks_from_url
from uise_common.db import migrate
from uise_common.pki.cms import sign
from uise_common.pki.oids import EKU_INDIVIDUAL, EKU_LEGAL_ENTITY, EKU_RIGHT_TO_SIGN
from uise_common.pki.testca import GostTestCA
from uise_common.service import COMMON_MIGRATION, ServiceRuntime
from uise_common.settings import Settings
from uise_common.testing import run_handler, serve_without_lifespan
from uise_contracts.events import HeadTerm, Level, ParticipantUpserted, StaffMember
from uise_identity import entrypoint, handlers
from uise_identity.adapters import MIGRATIONS, AuthSession
from uise_identity.cli import main as cli

REDIS_URL = os.environ.get("UISE_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
SCHOOL, DISTRICT, OTHER = "220440000019", "210340000013", "220440000029"
HEAD, ACCOUNTANT, DEPUTY, STRANGER = "800101300016", "900202400027", "850505400033", "770707300045"
ISSUER = "http://identity.test"

pytestmark = pytest.mark.integration


def school(head: str = HEAD, staff: list[StaffMember] | None = None, pid: str = SCHOOL) -> ParticipantUpserted:
    return ParticipantUpserted(
        participant_id=pid, bin=pid, level=Level.organization, kind="school", parent_id=DISTRICT,
        name_kk="мектеп", name_ru="школа", head_iin=head,
        heads=[HeadTerm(iin=head, full_name="Head", valid_from=date(2020, 1, 1))],
        staff=staff if staff is not None else [
            StaffMember(iin=ACCOUNTANT, full_name="Accountant", role="accountant", valid_from=date(2020, 1, 1))])


@pytest.fixture
def ca() -> GostTestCA:
    return GostTestCA.create()


@pytest.fixture
def rdb():
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.ConnectionError:
        pytest.fail(f"Redis is required at {REDIS_URL} (set UISE_TEST_REDIS_URL; .ci/run starts it)")
    yield client
    for key in client.scan_iter("uise:auth:revoked:*"):
        client.delete(key)


@pytest.fixture
def rt(tmp_path, ca, rdb, monkeypatch):
    trust = tmp_path / "trust"
    trust.mkdir()
    (trust / "ca.pem").write_bytes(ca.cert.public_bytes(Encoding.PEM))
    settings = Settings(service_name="identity", data_dir=tmp_path, kafka_bootstrap="127.0.0.1:1",
                        redis_url=REDIS_URL, trust_dir=trust, auth_issuer=ISSUER)
    runtime = ServiceRuntime(entrypoint.SPEC, settings)
    migrate(runtime.engine, [COMMON_MIGRATION, *MIGRATIONS])
    entrypoint.first_key(runtime)
    run_handler(runtime.engine, handlers.on_participant, school())
    return runtime


@pytest.fixture
def client(rt):
    with serve_without_lifespan(rt.app()) as c:
        yield c


def sign_in(client: TestClient, key, cert, role: str | None = None, attached: bool = True):
    challenge = client.post("/v1/auth/challenges").json()
    text = base64.b64decode(challenge["data"])
    cms = sign(text, key, cert, detached=not attached)
    body = {"challenge_id": challenge["challenge_id"], "signature": base64.b64encode(cms).decode()}
    if role:
        body["role"] = role
    return client.post("/v1/auth/sign-in", json=body)


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def test_the_head_signs_in_and_any_service_verifies_the_token_from_the_jwks(client, ca):
    key, cert = ca.issue(iin=HEAD, name="Head", bin_=SCHOOL)
    resp = sign_in(client, key, cert)
    assert resp.status_code == 200, resp.text
    tokens = resp.json()
    assert (tokens["role"], tokens["participant_id"], tokens["token_type"]) == ("head", SCHOOL, "Bearer")
    assert tokens["refresh_token"] and tokens["expires_in"] == 300
    me = client.get("/v1/auth/me", headers=bearer(tokens["access_token"])).json()
    assert me["subject"] == f"iin:{HEAD}" and auth.SUBMISSIONS_WRITE in me["scopes"]

    # another service knows only the issuer and the JWKS document
    jwks = client.get("/.well-known/jwks.json").json()

    async def load() -> dict:
        return jwks

    other = Authenticator(issuer=ISSUER, audience="uise", keys=KeySet(load))
    principal = asyncio.run(other.principal(tokens["access_token"]))
    assert (principal.participant_id, principal.role, principal.level) == (SCHOOL, "head", "organization")
    assert client.get("/.well-known/openid-configuration").json()["jwks_uri"] == f"{ISSUER}/.well-known/jwks.json"


def test_detached_signatures_sign_in_too(client, ca):
    key, cert = ca.issue(iin=HEAD, name="Head", bin_=SCHOOL)
    assert sign_in(client, key, cert, attached=False).status_code == 200


def test_roles_come_from_the_registry_and_the_certificate(client, ca):
    key, cert = ca.issue(iin=ACCOUNTANT, name="Accountant", bin_=SCHOOL, eku=(EKU_LEGAL_ENTITY,))
    assert sign_in(client, key, cert).json()["role"] == "accountant"
    key, cert = ca.issue(iin=DEPUTY, name="Deputy", bin_=SCHOOL, eku=(EKU_LEGAL_ENTITY, EKU_RIGHT_TO_SIGN))
    assert sign_in(client, key, cert).json()["role"] == "signer"
    # the first-head EKU alone is not enough: the registry names another head
    key, cert = ca.issue(iin=STRANGER, name="Not the head", bin_=SCHOOL)
    resp = sign_in(client, key, cert)
    assert (resp.status_code, resp.json()["error"]["code"]) == (403, "NO_ROLE")
    # a personal (individual) certificate acts for no organization
    key, cert = ca.issue(iin=HEAD, name="Head as a person", bin_=None, eku=(EKU_INDIVIDUAL,))
    resp = sign_in(client, key, cert)
    assert (resp.status_code, resp.json()["error"]["code"]) == (403, "NOT_ORGANIZATION")
    for lang in ("kk", "ru", "en"):
        assert resp.json()["error"]["message"][lang]
    # an organization UISE does not know
    key, cert = ca.issue(iin=HEAD, name="Head elsewhere", bin_=OTHER)
    assert sign_in(client, key, cert).json()["error"]["code"] == "PARTICIPANT_UNKNOWN"
    # asking for a role one does not hold
    key, cert = ca.issue(iin=ACCOUNTANT, name="Accountant", bin_=SCHOOL, eku=(EKU_LEGAL_ENTITY,))
    assert sign_in(client, key, cert, role="head").json()["error"]["code"] == "ROLE_NOT_HELD"


def test_untrusted_revoked_and_expired_certificates_are_refused(client, rt, ca, tmp_path):
    stranger_ca = GostTestCA.create("SOMEONE ELSE'S CA")
    key, cert = stranger_ca.issue(iin=HEAD, name="Head", bin_=SCHOOL)
    assert sign_in(client, key, cert).json()["error"]["code"] == "CHAIN_UNTRUSTED"
    key, cert = ca.issue(iin=HEAD, name="Head", bin_=SCHOOL,
                         valid_from=datetime(2020, 1, 1, tzinfo=UTC), valid_days=30)
    assert sign_in(client, key, cert).json()["error"]["code"] == "CERT_EXPIRED"
    key, cert = ca.issue(iin=HEAD, name="Head", bin_=SCHOOL)
    ca.revoke(cert)
    ca.publish_crl(rt.settings.trust_dir)
    with serve_without_lifespan(ServiceRuntime(entrypoint.SPEC, rt.settings).app()) as fresh:  # reads the CRL
        resp = sign_in(fresh, key, cert)
    assert (resp.status_code, resp.json()["error"]["code"]) == (401, "CERT_REVOKED")


def test_a_challenge_is_used_once_and_must_be_the_one_signed(client, ca):
    key, cert = ca.issue(iin=HEAD, name="Head", bin_=SCHOOL)
    challenge = client.post("/v1/auth/challenges").json()
    cms = base64.b64encode(sign(base64.b64decode(challenge["data"]), key, cert, detached=False)).decode()
    body = {"challenge_id": challenge["challenge_id"], "signature": cms}
    assert client.post("/v1/auth/sign-in", json=body).status_code == 200
    assert client.post("/v1/auth/sign-in", json=body).json()["error"]["code"] == "CHALLENGE_USED"
    other = client.post("/v1/auth/challenges").json()
    resp = client.post("/v1/auth/sign-in", json={"challenge_id": other["challenge_id"], "signature": cms})
    assert resp.json()["error"]["code"] == "CONTENT_MISMATCH"  # signed another challenge's text
    assert client.post("/v1/auth/sign-in", json={"challenge_id": "nope", "signature": cms}
                       ).json()["error"]["code"] == "CHALLENGE_UNKNOWN"
    junk = client.post("/v1/auth/sign-in", json={"challenge_id": other["challenge_id"], "signature": "%%%"})
    assert junk.json()["error"]["code"] == "SIGNATURE_NOT_CMS"


def test_refresh_rotates_and_a_reused_refresh_token_ends_the_session(client, ca):
    key, cert = ca.issue(iin=HEAD, name="Head", bin_=SCHOOL)
    first = sign_in(client, key, cert).json()
    second = client.post("/v1/auth/refresh", json={"refresh_token": first["refresh_token"]}).json()
    assert second["refresh_token"] != first["refresh_token"] and second["session_id"] == first["session_id"]
    # the first refresh token again: a copy is in someone else's hands
    resp = client.post("/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert resp.status_code == 401
    assert client.get("/v1/auth/me", headers=bearer(second["access_token"])).json()["error"]["code"] == "SESSION_REVOKED"
    assert client.post("/v1/auth/refresh", json={"refresh_token": second["refresh_token"]}).status_code == 401


def test_sign_out_revokes_the_access_token_at_once(client, ca):
    key, cert = ca.issue(iin=HEAD, name="Head", bin_=SCHOOL)
    tokens = sign_in(client, key, cert).json()
    assert client.post("/v1/auth/sign-out", headers=bearer(tokens["access_token"])).status_code == 204
    resp = client.get("/v1/auth/me", headers=bearer(tokens["access_token"]))
    assert (resp.status_code, resp.json()["error"]["code"]) == (401, "SESSION_REVOKED")
    assert client.post("/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}).status_code == 401


def test_a_new_head_ends_the_old_heads_sessions(client, rt, ca):
    key, cert = ca.issue(iin=HEAD, name="Head", bin_=SCHOOL)
    tokens = sign_in(client, key, cert).json()
    replaced = school(head=STRANGER)
    ended = run_handler(rt.engine, handlers.on_participant, replaced)
    assert [(e.session_id, e.reason) for e in ended] == [(tokens["session_id"], "role_lost")]
    with Session(rt.engine) as s:
        assert s.get(AuthSession, tokens["session_id"]).end_reason == "role_lost"
    resp = client.post("/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert resp.status_code == 401
    # the consumer of session.ended puts it on the list every service checks
    run_handler(rt.engine, entrypoint.consumers(rt)[next(t for t in entrypoint.consumers(rt)
                                                         if t.event == "ended")], ended[0])
    assert client.get("/v1/auth/me", headers=bearer(tokens["access_token"])).json()["error"]["code"] == "SESSION_REVOKED"


def test_machine_clients_scoped_and_revocable(client, rt, capsys, monkeypatch):
    monkeypatch.setenv("UISE_DATA_DIR", str(rt.settings.data_dir))
    assert cli(["bootstrap", "--json"]) == 0
    import json

    made = json.loads(capsys.readouterr().out)
    assert made["role"] == "data_office" and made["client_secret"].startswith("cs_")
    basic = base64.b64encode(f"{made['client_id']}:{made['client_secret']}".encode()).decode()
    resp = client.post("/v1/oauth/token", data={"grant_type": "client_credentials"},
                       headers={"Authorization": f"Basic {basic}"})
    assert resp.status_code == 200 and resp.headers["Cache-Control"] == "no-store"
    office = bearer(resp.json()["access_token"])

    # the data office makes an integrator (reports only) and a school's information system
    integrator = client.post("/v1/clients", json={"role": "integrator", "label": "Ministry of Finance"}, headers=office)
    assert integrator.status_code == 201, integrator.text
    assert integrator.json()["scopes"] == [auth.REPORTS_READ]
    system = client.post("/v1/clients", json={"role": "system", "label": "school IS", "participant_id": SCHOOL,
                                              "scopes": [auth.SUBMISSIONS_WRITE]}, headers=office).json()
    refused = client.post("/v1/clients", json={"role": "system", "label": "x", "participant_id": SCHOOL,
                                               "scopes": [auth.FORMLISTS_WRITE]}, headers=office)
    assert refused.json()["error"]["code"] == "SCOPE_INVALID"
    escalate = client.post("/v1/clients", json={"role": "data_office", "label": "x"}, headers=office)
    assert escalate.status_code == 422  # data-office credentials only by an ops command
    token = client.post("/v1/oauth/token", data={"grant_type": "client_credentials", "client_id": system["client_id"],
                                                 "client_secret": system["client_secret"]}).json()
    me = client.get("/v1/auth/me", headers=bearer(token["access_token"])).json()
    assert (me["role"], me["participant_id"], me["scopes"]) == ("system", SCHOOL, [auth.SUBMISSIONS_WRITE])

    wrong = client.post("/v1/oauth/token", data={"grant_type": "client_credentials", "client_id": system["client_id"],
                                                 "client_secret": "cs_wrong"})
    assert (wrong.status_code, wrong.json()["error"]) == (401, "invalid_client")
    assert client.post("/v1/oauth/token", data={"grant_type": "password"}).json()["error"] == "unsupported_grant_type"

    # a school head cannot manage clients; revoking one stops its live token at once
    assert client.get("/v1/clients", headers=bearer(token["access_token"])).status_code == 403
    assert client.delete(f"/v1/clients/{system['client_id']}", headers=office).json()["revoked_at"]
    assert client.get("/v1/auth/me", headers=bearer(token["access_token"])).json()["error"]["code"] == "SESSION_REVOKED"
    again = client.post("/v1/oauth/token", data={"grant_type": "client_credentials", "client_id": system["client_id"],
                                                 "client_secret": system["client_secret"]})
    assert again.json()["code"] == "CLIENT_REVOKED"


def test_every_route_answers_401_without_a_token_except_the_public_ones(client):
    spec = client.get("/openapi.json").json()
    public = set()
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            policy = op["x-uise-policy"]
            if policy.get("public"):
                public.add((method, path))
                continue
            resp = client.request(method.upper(), path.replace("{client_id}", "x").replace("{session_id}", "x"))
            assert resp.status_code == 401, (method, path, resp.status_code)
    assert ("post", "/v1/auth/sign-in") in public and ("get", "/.well-known/jwks.json") in public
    assert ("get", "/v1/clients") not in public


def test_rotated_keys_stay_published_until_their_tokens_expire(client, rt, ca, monkeypatch):
    key, cert = ca.issue(iin=HEAD, name="Head", bin_=SCHOOL)
    before = sign_in(client, key, cert).json()["access_token"]
    monkeypatch.setenv("UISE_DATA_DIR", str(rt.settings.data_dir))
    assert cli(["rotate-key"]) == 0
    kids = [k["kid"] for k in client.get("/.well-known/jwks.json").json()["keys"]]
    assert len(kids) == 2
    after = sign_in(client, key, cert).json()["access_token"]
    for token in (before, after):
        assert client.get("/v1/auth/me", headers=bearer(token)).status_code == 200
    assert jwks_from_url  # the services' loader; exercised over HTTP by the end-to-end tests
