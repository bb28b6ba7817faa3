"""Who is calling, and may they (DESIGN.md §10).

Callers present a bearer token: a JWT from the identity service (or from a ministry's own
identity provider, by configuration), verified here, locally, against the issuer's published
keys (JWKS), fetched once and again only when a new key id appears. A token names the
organization the caller acts for (`uise_participant`), the caller's role there (`uise_role`) and
the scopes it grants (`scope`).

Every route declares its policy with `allow(scope, subtree=...)` or `public(why)`. The scope says
what kind of act it is; the subtree rule says whose data it touches: the caller must be the
participant named by that parameter or one of its ancestors (a department sees its subtree, the
Ministry everything). `secure(app)` refuses to start an app with a route that declares no policy
(deny by default) and writes every route's policy into its OpenAPI operation as `x-uise-policy`,
where a test reads them.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any

import httpx
import jwt
from fastapi import FastAPI, Request, Security
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from redis.asyncio import Redis

from uise_common.http import ApiError, describe_errors
from uise_common.inputs import is_participant_id
from uise_common.settings import Settings

log = logging.getLogger(__name__)

# --- roles and scopes ---------------------------------------------------------------------------

HEAD = "head"  # the organization's first head in office today (EDS with the first-head EKU)
SIGNER = "signer"  # an employee holding the right to sign (EKU 1.2.398.3.3.4.1.2.2)
ACCOUNTANT = "accountant"  # staff the head named: fills in and uploads the forms
OFFICER = "officer"  # a department's officer, named by its head
ANALYST = "analyst"  # reads reports
DATA_OFFICE = "data_office"  # the Ministry's data office: the registry and the list of forms
OPS = "ops"  # operations: credentials and sessions
SYSTEM = "system"  # a machine client acting for one participant (a school information system)
INTEGRATOR = "integrator"  # another ministry's system: published reports only

STAFF_ROLES = (ACCOUNTANT, OFFICER, ANALYST, DATA_OFFICE)  # roles a head may give (registry staff)

SUBMISSIONS_WRITE = "submissions:write"  # deliver a submission, register one delivered on paper
SUBMISSIONS_READ = "submissions:read"  # submissions, their timelines and documents
INBOX_READ = "inbox:read"
INBOX_REVIEW = "inbox:review"  # accept or return what one's subordinates delivered
INFOREQUESTS_WRITE = "inforequests:write"  # issue an information request (clause 12; the Ministry)
REPORTS_READ = "reports:read"
REGISTRY_READ = "registry:read"
REGISTRY_WRITE = "registry:write"  # participants of one's subtree, one's staff
FORMLISTS_WRITE = "formlists:write"  # draft and approve the list of forms
CALENDAR_WRITE = "calendar:write"  # enter the decrees that move days off and working days
IDENTITY_ADMIN = "identity:admin"  # machine clients and sessions
AUDIT_READ = "audit:read"

SCOPES = (SUBMISSIONS_WRITE, SUBMISSIONS_READ, INBOX_READ, INBOX_REVIEW, INFOREQUESTS_WRITE, REPORTS_READ,
          REGISTRY_READ, REGISTRY_WRITE, FORMLISTS_WRITE, CALENDAR_WRITE, IDENTITY_ADMIN, AUDIT_READ)

# What each role may do at most. A person's token carries all of its role's scopes; a machine
# client's, the subset it was granted.
ROLE_SCOPES: dict[str, frozenset[str]] = {
    HEAD: frozenset({SUBMISSIONS_WRITE, SUBMISSIONS_READ, INBOX_READ, INBOX_REVIEW, INFOREQUESTS_WRITE, REPORTS_READ,
                     REGISTRY_READ, REGISTRY_WRITE}),
    SIGNER: frozenset({SUBMISSIONS_WRITE, SUBMISSIONS_READ, INBOX_READ, INBOX_REVIEW, REPORTS_READ, REGISTRY_READ}),
    ACCOUNTANT: frozenset({SUBMISSIONS_WRITE, SUBMISSIONS_READ, REPORTS_READ, REGISTRY_READ}),
    OFFICER: frozenset({SUBMISSIONS_WRITE, SUBMISSIONS_READ, INBOX_READ, INBOX_REVIEW, INFOREQUESTS_WRITE,
                        REPORTS_READ, REGISTRY_READ, REGISTRY_WRITE}),
    ANALYST: frozenset({REPORTS_READ, REGISTRY_READ}),
    DATA_OFFICE: frozenset({SUBMISSIONS_READ, INBOX_READ, INFOREQUESTS_WRITE, REPORTS_READ, REGISTRY_READ,
                            REGISTRY_WRITE, FORMLISTS_WRITE, CALENDAR_WRITE, IDENTITY_ADMIN, AUDIT_READ}),
    OPS: frozenset({IDENTITY_ADMIN, AUDIT_READ, REGISTRY_READ}),
    SYSTEM: frozenset({SUBMISSIONS_WRITE, SUBMISSIONS_READ, INBOX_READ, REPORTS_READ, REGISTRY_READ}),
    INTEGRATOR: frozenset({REPORTS_READ}),
}
ROLES = tuple(ROLE_SCOPES)
# Roles whose reach is the whole country whatever organization they act for (within their
# scopes: an integrator's is only published reports).
NATIONAL_ROLES = frozenset({DATA_OFFICE, OPS, INTEGRATOR})

PARTICIPANT_CLAIM = "uise_participant"
LEVEL_CLAIM = "uise_level"
ROLE_CLAIM = "uise_role"
NAME_CLAIM = "name"


def denied(status: int, code: str, en: str, ru: str, kk: str, headers: dict[str, str] | None = None) -> ApiError:
    if status == 401:
        headers = {**(headers or {}), "WWW-Authenticate": 'Bearer realm="uise"'}
    return ApiError(status, code, en, ru, kk, headers=headers)


def unauthenticated(why: str = "a bearer token is required") -> ApiError:
    return denied(401, "UNAUTHENTICATED", f"sign in first: {why}", f"требуется вход: {why}",
                  f"алдымен жүйеге кіріңіз: {why}")


def forbidden(code: str, en: str, ru: str, kk: str) -> ApiError:
    return denied(403, code, en, ru, kk)


@dataclass(frozen=True)
class Principal:
    """The caller, as its token says."""

    subject: str  # "iin:<IIN>" for a person, "client:<id>" for a machine client
    role: str
    scopes: frozenset[str]
    participant_id: str | None = None
    level: str | None = None  # of the participant: ministry, region, district, organization
    session_id: str | None = None
    name: str | None = None

    @property
    def national(self) -> bool:
        """Sees the whole country: the data office, ops, and whoever acts for the Ministry."""
        return self.role in NATIONAL_ROLES or self.level == "ministry"

    @property
    def label(self) -> str:
        """For audit records: who, for whom, in which role."""
        return f"{self.subject}@{self.participant_id or '-'}/{self.role}"

    def reaches(self, ancestors: Sequence[str]) -> bool:
        """Is a participant whose chain up to the Ministry is `ancestors` (itself first) within
        the caller's subtree?"""
        return self.national or (self.participant_id is not None and self.participant_id in ancestors)


# --- token verification ---------------------------------------------------------------------------

Jwks = dict[str, Any]
ALLOWED_ALGORITHMS = ("ES256", "ES384", "RS256", "PS256", "EdDSA")  # never "none", never HMAC


class KeySet:
    """The issuer's public keys by key id: from `load()` (the JWKS URL, or the identity
    service's own keys), again when a token names a key id not seen yet, at most every
    `min_refresh` seconds so a stream of made-up key ids costs nothing."""

    def __init__(self, load: Callable[[], Awaitable[Jwks]], min_refresh: float = 10.0, max_age: float = 600.0):
        self._load = load
        self._keys: dict[str, jwt.PyJWK] = {}
        self._loaded_at = float("-inf")
        self._min_refresh = min_refresh
        self._max_age = max_age
        self._lock = asyncio.Lock()

    async def get(self, kid: str) -> jwt.PyJWK | None:
        stale = time.monotonic() - self._loaded_at > self._max_age
        if kid not in self._keys or stale:
            await self._refresh(force=stale)
        return self._keys.get(kid)

    async def _refresh(self, force: bool) -> None:
        async with self._lock:
            if not force and time.monotonic() - self._loaded_at < self._min_refresh:
                return
            try:
                jwks = await self._load()
            except Exception as exc:
                if not self._keys:
                    raise denied(503, "AUTH_UNAVAILABLE", "the identity provider's keys cannot be fetched",
                                 "ключи поставщика удостоверений недоступны",
                                 "сәйкестендіру провайдерінің кілттері қолжетімсіз",
                                 headers={"Retry-After": "5"}) from exc
                log.warning("JWKS refresh failed; keeping the keys we have", extra={"error": repr(exc)})
                self._loaded_at = time.monotonic()
                return
            keys = {}
            for entry in jwks.get("keys", []):
                try:
                    key = jwt.PyJWK(entry)
                except jwt.PyJWTError as exc:
                    log.warning("unusable key in JWKS", extra={"kid": entry.get("kid"), "error": str(exc)})
                    continue
                if key.key_id:
                    keys[key.key_id] = key
            self._keys = keys
            self._loaded_at = time.monotonic()


def jwks_from_url(url: str, timeout: float = 5.0) -> Callable[[], Awaitable[Jwks]]:
    async def load() -> Jwks:
        async with httpx.AsyncClient(timeout=timeout) as client:
            resp = await client.get(url)
            resp.raise_for_status()
            return resp.json()

    return load


@dataclass
class Authenticator:
    """Verifies bearer tokens and turns them into Principals."""

    issuer: str
    audience: str
    keys: KeySet
    redis: Redis | None = None  # where the identity service lists revoked sessions
    leeway: float = 30.0
    participant_claim: str = PARTICIPANT_CLAIM
    role_claim: str = ROLE_CLAIM

    @classmethod
    def from_settings(cls, settings: Settings, redis: Redis | None,
                      local_keys: Callable[[], Awaitable[Jwks]] | None = None) -> Authenticator:
        load = local_keys or jwks_from_url(settings.auth_jwks_url or
                                           f"{settings.auth_issuer.rstrip('/')}/.well-known/jwks.json")
        return cls(issuer=settings.auth_issuer, audience=settings.auth_audience, keys=KeySet(load), redis=redis,
                   leeway=settings.auth_leeway_seconds, participant_claim=settings.auth_participant_claim,
                   role_claim=settings.auth_role_claim)

    async def principal(self, token: str) -> Principal:
        claims = await self.verify(token)
        role = claims.get(self.role_claim)
        if role not in ROLE_SCOPES:
            raise unauthenticated(f"the token carries no known role ({self.role_claim})")
        granted = claims.get("scope", "")
        scopes = frozenset(granted.split() if isinstance(granted, str) else granted) & ROLE_SCOPES[role]
        sid = claims.get("sid")
        if sid and await self.revoked(sid):
            raise denied(401, "SESSION_REVOKED", "this session was signed out or revoked; sign in again",
                         "сеанс завершён или отозван; войдите снова", "сеанс аяқталды немесе кері қайтарылды; қайта кіріңіз")
        participant = claims.get(self.participant_claim)
        return Principal(subject=str(claims["sub"]), role=role, scopes=scopes,
                         participant_id=str(participant) if participant else None,
                         level=claims.get(LEVEL_CLAIM), session_id=sid, name=claims.get(NAME_CLAIM))

    async def verify(self, token: str) -> dict[str, Any]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise invalid_token("not a JWT") from exc
        alg, kid = header.get("alg"), header.get("kid")
        if alg not in ALLOWED_ALGORITHMS:
            raise invalid_token(f"algorithm {alg!r} is not accepted")
        if not isinstance(kid, str) or not kid or len(kid) > 128:
            raise invalid_token("the token names no key (kid)")
        key = await self.keys.get(kid)
        if key is None:
            raise invalid_token("the token is signed with a key the issuer does not publish")
        try:
            return jwt.decode(token, key.key, algorithms=[alg], audience=self.audience, issuer=self.issuer,
                              leeway=self.leeway, options={"require": ["exp", "iat", "iss", "aud", "sub"]})
        except jwt.ExpiredSignatureError as exc:
            raise denied(401, "TOKEN_EXPIRED", "the access token has expired; refresh it or sign in again",
                         "срок действия токена истёк; обновите его или войдите снова",
                         "токеннің мерзімі өтті; жаңартыңыз немесе қайта кіріңіз") from exc
        except jwt.PyJWTError as exc:
            raise invalid_token(str(exc)) from exc

    async def revoked(self, session_id: str) -> bool:
        if self.redis is None:
            return False
        try:
            return bool(await self.redis.exists(revoked_key(session_id)))
        except Exception as exc:
            # Fail closed: a signed-out session must not come back because Redis is away.
            raise denied(503, "AUTH_UNAVAILABLE", "sessions cannot be checked right now; retry shortly",
                         "сеансы сейчас не проверить; повторите чуть позже",
                         "сеанстарды қазір тексеру мүмкін емес; сәлден кейін қайталаңыз",
                         headers={"Retry-After": "5"}) from exc


def revoked_key(session_id: str) -> str:
    return f"uise:auth:revoked:{session_id}"


def invalid_token(why: str) -> ApiError:
    return denied(401, "TOKEN_INVALID", f"the token is not valid: {why}", f"токен недействителен: {why}",
                  f"токен жарамсыз: {why}")


# --- policies ------------------------------------------------------------------------------------

_bearer = HTTPBearer(auto_error=False, scheme_name="BearerToken",
                     description="An access token from the identity service (sign in with the EDS, or "
                                 "client credentials for machines)")

Ancestors = Callable[[str], Awaitable[Sequence[str]]]


async def bearer(request: Request) -> HTTPAuthorizationCredentials | None:
    """The request's bearer credentials, for code that authenticates before FastAPI's
    dependencies run (an upload checked before its body is read)."""
    return await _bearer(request)


@dataclass(frozen=True)
class Policy:
    """Who may call a route. Used as a dependency, it answers with the caller's Principal."""

    scope: str | None
    subtree: str | None = None  # parameter naming a participant; "resource": checked by the route
    public_because: str | None = None
    roles: frozenset[str] = field(default_factory=frozenset)  # further limits, when the scope is not enough
    itself: bool = False  # the participant named must be the caller's own (national roles excepted)

    def refusals(self) -> dict[str, str]:
        """The statuses this policy refuses a call with (OpenAPI responses), by reason code."""
        if self.public_because is not None:
            return {}
        out = {"401": "UNAUTHENTICATED, TOKEN_INVALID, TOKEN_EXPIRED, SESSION_REVOKED",
               "503": "AUTH_UNAVAILABLE"}
        if self.scope is not None:
            out["403"] = "SCOPE_MISSING, OUT_OF_SUBTREE" if self.subtree else "SCOPE_MISSING"
        return out

    def describe(self) -> dict[str, Any]:
        if self.public_because is not None:
            return {"public": True, "why": self.public_because}
        if self.scope is None:
            return {"signed_in": True}
        out: dict[str, Any] = {"scope": self.scope,
                               "roles": sorted(self.roles or [r for r, s in ROLE_SCOPES.items() if self.scope in s])}
        if self.subtree:
            out["subtree"] = self.subtree
        if self.itself:
            out["itself"] = True
        return out

    async def __call__(self, request: Request,
                       credentials: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)] = None,
                       ) -> Principal | None:
        if self.public_because is not None:
            return None
        principal = getattr(request.state, "principal", None)  # verified earlier in this request
        if principal is None:
            if credentials is None or not credentials.credentials:
                raise unauthenticated()
            authenticator: Authenticator = request.app.state.authenticator
            principal = request.state.principal = await authenticator.principal(credentials.credentials)
        if self.scope is None:  # any signed-in caller, acting on its own session
            return principal
        if self.scope not in principal.scopes or (self.roles and principal.role not in self.roles):
            raise forbidden("SCOPE_MISSING", f"a {principal.role} may not do this ({self.scope})",
                            f"роль {principal.role} не даёт права на это ({self.scope})",
                            f"{principal.role} рөлі бұған құқық бермейді ({self.scope})")
        if self.subtree and self.subtree != "resource":
            target = request.path_params.get(self.subtree) or request.query_params.get(self.subtree)
            if target is not None:
                # A dependency runs before FastAPI validates the parameters: the raw value must not
                # reach the hierarchy's query (a NUL is a 500 on PostgreSQL).
                if not is_participant_id(target):
                    raise not_a_participant(self.subtree)
                if not principal.national:
                    reach = [target] if self.itself else await request.app.state.ancestors(target)
                    if not principal.reaches(reach):
                        raise out_of_subtree(principal, target)
        return principal


def not_a_participant(parameter: str) -> ApiError:
    """As FastAPI's own validation would answer (uise_common.http), before it has run."""
    return ApiError(422, "REQUEST_INVALID", f"missing or invalid: {parameter}", f"отсутствует или неверно: {parameter}",
                    f"жоқ немесе қате: {parameter}",
                    fields=[{"field": parameter, "problem": "a participant's BIN, 12 ASCII digits, is expected"}])


def out_of_subtree(principal: Principal, target: str) -> ApiError:
    return forbidden("OUT_OF_SUBTREE", f"{principal.participant_id or 'the caller'} cannot act for {target}",
                     f"{principal.participant_id or 'вызывающий'} не может действовать за {target}",
                     f"{principal.participant_id or 'шақырушы'} {target} атынан әрекет ете алмайды")


def allow(scope: str, *, subtree: str | None = None, roles: Sequence[str] = (), itself: bool = False) -> Policy:
    """`subtree`: the parameter naming a participant the caller must reach (itself or below), or
    "resource" when the route checks what it loads; `itself`: only that participant's own people
    (and the national roles), not the departments above it."""
    if scope not in SCOPES:
        raise ValueError(f"unknown scope {scope}")
    if itself and (subtree is None or subtree == "resource"):
        raise ValueError("`itself` needs the parameter that names the participant")
    return Policy(scope=scope, subtree=subtree, roles=frozenset(roles), itself=itself)


def signed_in() -> Policy:
    """Any caller with a valid token, acting on its own behalf (its session, its own identity)."""
    return Policy(scope=None)


def public(why: str) -> Policy:
    return Policy(scope=None, public_because=why)


def policy_of(route: Any) -> Policy | None:
    """The Policy a route depends on, searched through its dependency tree (router-level
    dependencies included)."""
    stack = [route.dependant]
    while stack:
        dep = stack.pop()
        if isinstance(dep.call, Policy):
            return dep.call
        stack.extend(dep.dependencies)
    return None


def api_routes(app: FastAPI) -> list[Any]:
    """Every API route of the app as served, through included routers (FastAPI ≥ 0.160 keeps an
    included router as one entry of `app.routes`); not /openapi.json and /docs."""
    from fastapi.routing import iter_route_contexts

    return [ctx for ctx in iter_route_contexts(app.routes) if isinstance(ctx.original_route, APIRoute)]


def secure(app: FastAPI, authenticator: Authenticator, ancestors: Ancestors | None = None) -> None:
    """Deny by default: every route must declare a Policy; its description goes into OpenAPI."""
    app.state.authenticator = authenticator

    async def only_itself(participant_id: str) -> Sequence[str]:
        return [participant_id]

    app.state.ancestors = ancestors or only_itself
    missing, policies = [], {}
    for route in api_routes(app):
        found = policy_of(route)
        if found is None:
            missing.append(f"{sorted(route.methods)} {route.path}")
            continue
        for method in route.methods:
            policies[(route.path_format, method.lower())] = found
    if missing:
        raise RuntimeError(f"routes without an access policy (deny by default): {missing}")
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        """The usual schema, each operation with its policy as `x-uise-policy` and the refusals
        it brings among the responses; every refusal's body is ErrorBody unless the route says
        otherwise."""
        if app.openapi_schema is None:
            schema = generate()
            for path, operations in schema.get("paths", {}).items():
                for method, operation in operations.items():
                    if (path, method) in policies:
                        policy = policies[(path, method)]
                        operation["x-uise-policy"] = policy.describe()
                        responses = operation.setdefault("responses", {})
                        for status, codes in policy.refusals().items():
                            merged = ", ".join(filter(None, [responses.get(status, {}).get("description"), codes]))
                            responses.setdefault(status, {})["description"] = ", ".join(dict.fromkeys(merged.split(", ")))
            app.openapi_schema = describe_errors(schema)
        return app.openapi_schema

    app.openapi = openapi
