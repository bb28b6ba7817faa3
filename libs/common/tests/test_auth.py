"""Bearer tokens verified locally against a JWKS, and route policies: deny by default, scopes,
subtrees, revoked sessions."""

from __future__ import annotations

import http.server
import json
import threading
import time
from typing import Annotated

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient
from jwt.algorithms import RSAAlgorithm

from uise_common import auth
from uise_common.http import ApiError, install
from uise_common.settings import Settings
from uise_common.testing import TokenIssuer

SCHOOL, DISTRICT, REGION, MINISTRY, OTHER_SCHOOL, OTHER_DISTRICT = (
    "220440000013", "210340000012", "200140000015", "100140000011", "220440000024", "210340000023")
PARENTS = {SCHOOL: DISTRICT, DISTRICT: REGION, REGION: MINISTRY, OTHER_SCHOOL: OTHER_DISTRICT,
           OTHER_DISTRICT: REGION}
LOOKED_UP: list[str] = []  # what the policy asked the hierarchy about


async def ancestors(pid: str) -> list[str]:
    LOOKED_UP.append(pid)
    out = [pid]
    while out[-1] in PARENTS:
        out.append(PARENTS[out[-1]])
    return out


class FakeRevocations:
    """The one Redis command the authenticator uses, with a switch to fail like a lost Redis."""

    def __init__(self) -> None:
        self.keys: set[str] = set()
        self.down = False

    async def exists(self, key: str) -> int:
        if self.down:
            raise ConnectionError("redis is away")
        return int(key in self.keys)


@pytest.fixture
def issuer() -> TokenIssuer:
    return TokenIssuer()


def make_app(issuer: TokenIssuer, redis=None) -> FastAPI:
    app = FastAPI()
    install(app, "test")

    @app.get("/things/{participant_id}")
    async def thing(participant_id: str, who: Annotated[auth.Principal, Depends(
            auth.allow(auth.SUBMISSIONS_READ, subtree="participant_id"))]) -> dict:
        return {"participant_id": participant_id, "caller": who.participant_id, "role": who.role}

    @app.put("/staff/{participant_id}")
    async def staff(participant_id: str, who: Annotated[auth.Principal, Depends(
            auth.allow(auth.REGISTRY_WRITE, subtree="participant_id", itself=True))]) -> dict:
        return {"participant_id": participant_id}

    @app.post("/lists")
    async def approve(who: Annotated[auth.Principal, Depends(auth.allow(auth.FORMLISTS_WRITE))]) -> dict:
        return {"by": who.label}

    @app.get("/keys", dependencies=[Depends(auth.public("public keys"))])
    async def keys() -> dict:
        return {}

    auth.secure(app, issuer.authenticator(redis), ancestors)
    return app


def test_a_route_without_a_policy_stops_the_app_from_starting(issuer):
    app = FastAPI()

    @app.get("/forgotten")
    async def forgotten() -> dict:
        return {}

    with pytest.raises(RuntimeError, match="/forgotten"):
        auth.secure(app, issuer.authenticator())


def test_policies_are_written_into_openapi(issuer):
    spec = TestClient(make_app(issuer)).get("/openapi.json").json()
    thing = spec["paths"]["/things/{participant_id}"]["get"]["x-uise-policy"]
    assert thing["scope"] == auth.SUBMISSIONS_READ and thing["subtree"] == "participant_id"
    assert auth.HEAD in thing["roles"] and auth.INTEGRATOR not in thing["roles"]
    assert spec["paths"]["/keys"]["get"]["x-uise-policy"] == {"public": True, "why": "public keys"}
    assert spec["paths"]["/lists"]["post"]["x-uise-policy"]["roles"] == [auth.DATA_OFFICE]


def test_no_token_bad_token_expired_token_foreign_key_are_401(issuer):
    client = TestClient(make_app(issuer))
    assert client.get(f"/things/{SCHOOL}").json()["error"]["code"] == "UNAUTHENTICATED"
    resp = client.get(f"/things/{SCHOOL}", headers={"Authorization": "Bearer not-a-jwt"})
    assert resp.status_code == 401 and resp.json()["error"]["code"] == "TOKEN_INVALID"
    assert resp.headers["WWW-Authenticate"].startswith("Bearer")
    expired = issuer.headers(auth.HEAD, SCHOOL, ttl=-120)
    assert client.get(f"/things/{SCHOOL}", headers=expired).json()["error"]["code"] == "TOKEN_EXPIRED"
    stranger = TokenIssuer(issuer=issuer.issuer)  # same issuer name, another key with the same kid
    resp = client.get(f"/things/{SCHOOL}", headers=stranger.headers(auth.HEAD, SCHOOL))
    assert resp.status_code == 401 and resp.json()["error"]["code"] == "TOKEN_INVALID"
    wrong_issuer = issuer.headers(auth.HEAD, SCHOOL, issuer="https://elsewhere")
    assert client.get(f"/things/{SCHOOL}", headers=wrong_issuer).status_code == 401


def test_unsigned_and_hmac_tokens_are_refused(issuer):
    client = TestClient(make_app(issuer))
    claims = {"iss": issuer.issuer, "aud": "uise", "sub": "x", "iat": int(time.time()), "exp": int(time.time()) + 60,
              "uise_role": "data_office", "scope": auth.FORMLISTS_WRITE}
    none = jwt.encode(claims, None, algorithm="none", headers={"kid": issuer.kid})
    hmac = jwt.encode(claims, "secret-long-enough-for-hs256-xxxxxxxxx", algorithm="HS256", headers={"kid": issuer.kid})
    for token in (none, hmac):
        resp = client.post("/lists", headers={"Authorization": f"Bearer {token}"})
        assert resp.status_code == 401, token


def test_scope_decides_what_a_role_may_do(issuer):
    client = TestClient(make_app(issuer))
    assert client.post("/lists", headers=issuer.headers(auth.DATA_OFFICE)).status_code == 200
    for role in (auth.HEAD, auth.OFFICER, auth.INTEGRATOR, auth.OPS):
        resp = client.post("/lists", headers=issuer.headers(role, MINISTRY, "ministry"))
        assert resp.status_code == 403 and resp.json()["error"]["code"] == "SCOPE_MISSING", role
    # a token cannot grant its role more than the role has
    resp = client.post("/lists", headers=issuer.headers(auth.HEAD, SCHOOL, scopes=[auth.FORMLISTS_WRITE]))
    assert resp.status_code == 403


def test_subtree_a_participant_itself_its_departments_and_the_ministry(issuer):
    client = TestClient(make_app(issuer))
    allowed = [(auth.HEAD, SCHOOL, "organization"), (auth.OFFICER, DISTRICT, "district"),
               (auth.OFFICER, REGION, "region"), (auth.ANALYST, MINISTRY, "ministry")]
    for role, pid, level in allowed[:3]:
        assert client.get(f"/things/{SCHOOL}", headers=issuer.headers(role, pid, level)).status_code == 200, pid
    assert client.get(f"/things/{SCHOOL}", headers=issuer.headers(auth.DATA_OFFICE)).status_code == 200
    for role, pid, level in [(auth.HEAD, OTHER_SCHOOL, "organization"), (auth.OFFICER, OTHER_DISTRICT, "district"),
                             (auth.ACCOUNTANT, SCHOOL, "organization")]:
        target = SCHOOL if pid != SCHOOL else DISTRICT
        resp = client.get(f"/things/{target}", headers=issuer.headers(role, pid, level))
        assert resp.status_code == 403 and resp.json()["error"]["code"] == "OUT_OF_SUBTREE", (pid, target)


def test_a_revoked_session_is_refused_and_a_lost_redis_fails_closed(issuer):
    revocations = FakeRevocations()
    client = TestClient(make_app(issuer, revocations))
    headers = issuer.headers(auth.HEAD, SCHOOL, "organization", session_id="s-1")
    assert client.get(f"/things/{SCHOOL}", headers=headers).status_code == 200
    revocations.keys.add(auth.revoked_key("s-1"))
    assert client.get(f"/things/{SCHOOL}", headers=headers).json()["error"]["code"] == "SESSION_REVOKED"
    revocations.down = True
    resp = client.get(f"/things/{SCHOOL}", headers=issuer.headers(auth.HEAD, SCHOOL, session_id="s-2"))
    assert resp.status_code == 503 and resp.headers["Retry-After"]


async def test_the_key_set_refetches_for_a_new_key_id_but_not_for_every_unknown_one():
    key = ec.generate_private_key(ec.SECP256R1())
    loads = []

    async def load() -> dict:
        loads.append(1)
        jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(key.public_key()))
        return {"keys": [{**jwk, "kid": f"k{len(loads)}", "alg": "ES256"}]}

    keys = auth.KeySet(load, min_refresh=60)
    assert await keys.get("k1") is not None
    assert await keys.get("made-up-1") is None
    assert await keys.get("made-up-2") is None
    assert len(loads) == 1  # unknown kids within min_refresh cost nothing


async def test_the_key_set_answers_503_when_the_issuer_is_unreachable_at_first():
    async def load() -> dict:
        raise ConnectionError("identity is starting")

    with pytest.raises(auth.ApiError) as err:
        await auth.KeySet(load).get("k1")
    assert err.value.status == 503 and err.value.code == "AUTH_UNAVAILABLE"


def test_itself_means_the_organization_own_people_not_the_departments_above(issuer):
    client = TestClient(make_app(issuer))
    assert client.put(f"/staff/{SCHOOL}", headers=issuer.headers(auth.HEAD, SCHOOL, "organization")).status_code == 200
    resp = client.put(f"/staff/{SCHOOL}", headers=issuer.headers(auth.HEAD, DISTRICT, "district"))
    assert (resp.status_code, resp.json()["error"]["code"]) == (403, "OUT_OF_SUBTREE")
    assert client.put(f"/staff/{SCHOOL}", headers=issuer.headers(auth.DATA_OFFICE)).status_code == 200
    spec = client.get("/openapi.json").json()["paths"]["/staff/{participant_id}"]["put"]["x-uise-policy"]
    assert spec["itself"] is True
    with pytest.raises(ValueError):
        auth.allow(auth.REGISTRY_WRITE, itself=True)


@pytest.mark.parametrize("target", ["22044000001%00", "%D9%A2" * 12, "2204400000139", "22044000001%0A", "S1"])
def test_a_participant_that_is_not_12_ascii_digits_is_refused_before_the_hierarchy_is_asked(issuer, target):
    # The policy runs before FastAPI validates parameters: a NUL here reached PostgreSQL (a 500).
    LOOKED_UP.clear()
    client = TestClient(make_app(issuer))
    for headers in (issuer.headers(auth.HEAD, SCHOOL, "organization"), issuer.headers(auth.DATA_OFFICE)):
        resp = client.get(f"/things/{target}", headers=headers)
        assert (resp.status_code, resp.json()["error"]["code"]) == (422, "REQUEST_INVALID"), target
        assert resp.json()["error"]["fields"][0]["field"] == "participant_id"
    assert LOOKED_UP == []
    # without a token it is still a 401 first: nothing about the request is judged before who asks
    assert client.get(f"/things/{target}").status_code == 401


async def test_a_ministrys_own_identity_provider_is_trusted_by_configuration(tmp_path):
    """Another issuer, its JWKS at its own URL over HTTP, RS256, and its own claim names for the
    role and the organization: UISE_AUTH_* settings alone make its tokens good, capped by the role."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(RSAAlgorithm.to_jwk(key.public_key())) | {"kid": "ministry-2026", "alg": "RS256", "use": "sig"}
    body = json.dumps({"keys": [jwk]}).encode()
    fetched = []

    class Jwks(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            fetched.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Jwks)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        settings = Settings(auth_issuer="https://idp.edu.gov.kz", auth_audience="uise",
                            auth_jwks_url=f"http://127.0.0.1:{server.server_port}/oauth2/keys",
                            auth_role_claim="edu_role", auth_participant_claim="edu_org")
        authenticator = auth.Authenticator.from_settings(settings, None)
        now = int(time.time())
        claims = {"iss": "https://idp.edu.gov.kz", "aud": "uise", "sub": "iin:800101300016", "iat": now,
                  "exp": now + 300, "edu_role": auth.OFFICER, "edu_org": DISTRICT, auth.LEVEL_CLAIM: "district",
                  "scope": f"{auth.INBOX_READ} {auth.FORMLISTS_WRITE}"}
        token = jwt.encode(claims, key, algorithm="RS256", headers={"kid": "ministry-2026"})
        who = await authenticator.principal(token)
        assert (who.role, who.participant_id, who.level) == (auth.OFFICER, DISTRICT, "district")
        assert who.scopes == {auth.INBOX_READ}  # an officer never holds formlists:write, whatever the token says
        assert fetched == ["/oauth2/keys"]
        # UISE's own claim names mean nothing to this configuration
        renamed = {k: v for k, v in claims.items() if k not in ("edu_role", "edu_org")} | {
            auth.ROLE_CLAIM: auth.OFFICER, auth.PARTICIPANT_CLAIM: DISTRICT}
        with pytest.raises(ApiError) as exc:
            await authenticator.principal(jwt.encode(renamed, key, algorithm="RS256", headers={"kid": "ministry-2026"}))
        assert (exc.value.status, exc.value.code) == (401, "UNAUTHENTICATED")
    finally:
        server.shutdown()
