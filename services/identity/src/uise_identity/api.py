"""Identity's HTTP API: sign-in with the EDS (challenge, then its CMS), refresh, sign-out, OAuth2
client credentials for machines, the JWKS every service verifies tokens with, and the data
office's management of machine clients and sessions. Routes are thin: each calls one command."""

from __future__ import annotations

import asyncio
import base64
import binascii
from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Form, Header, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from uise_common import auth
from uise_common.auth import Principal
from uise_common.http import ApiError, ErrorBody, ErrorMessages, refusals
from uise_common.inputs import Label, ParticipantId, Ref, is_ref
from uise_common.service import ServiceRuntime
from uise_identity import handlers, tokens
from uise_identity.domain import REASONS, Refused
from uise_identity.verifier import MESSAGES, SignInVerifier

# Policies are module-level: route annotations are resolved in the module's namespace.
ADMIN = auth.allow(auth.IDENTITY_ADMIN)
MAX_CMS_BYTES = 64 * 1024  # a sign-in CMS is a certificate chain and a few hundred bytes of text


class SignIn(BaseModel):
    challenge_id: Ref
    signature: str = Field(max_length=MAX_CMS_BYTES * 2, description="The CMS NCALayer made over the challenge, base64")
    role: str | None = Field(default=None, max_length=32, description="One of the roles you hold there (default: the strongest)")


class Refresh(BaseModel):
    refresh_token: str = Field(max_length=200)


class ClientRequest(BaseModel):
    role: Literal["system", "integrator"]
    label: Label
    participant_id: ParticipantId | None = None
    scopes: list[str] = Field(default=[], max_length=16)


class OAuthError(BaseModel):
    """The token endpoint's refusal: RFC 6749's `error` and `error_description`, with UISE's code
    and messages beside them."""

    error: str
    error_description: str
    code: str
    message: ErrorMessages


# The token endpoint answers RFC 6749's body; a body it cannot read at all, UISE's.
OAUTH_REFUSALS = {400: {"model": OAuthError | ErrorBody, "description": "UNSUPPORTED_GRANT_TYPE, REQUEST_MALFORMED"},
                  401: {"model": OAuthError, "description": "CLIENT_INVALID, CLIENT_REVOKED"}}


def refused(*codes: str) -> dict[int, dict]:
    """A route's refusals (OpenAPI responses) by reason code; a sign-in's certificate refusals are 401."""
    return refusals({code: reason[0] for code, reason in REASONS.items()} | dict.fromkeys(MESSAGES, 401), *codes)


def refusal(exc: Refused) -> ApiError:
    status, en, ru, kk = REASONS[exc.code]
    return ApiError(status, exc.code, en, ru, kk, **({"detail": exc.detail} if exc.detail else {}))


def router(rt: ServiceRuntime, verifier: SignInVerifier, signer: tokens.Signer) -> APIRouter:
    s = rt.settings
    policy = handlers.Policy(s.identity_access_token_seconds, s.identity_session_hours, s.identity_challenge_seconds)
    api = APIRouter(tags=["identity"])

    async def run(work, *, write: bool = True):
        try:
            return await (rt.in_transaction(work) if write else rt.read(work))
        except Refused as exc:
            raise refusal(exc) from None

    def now() -> datetime:
        return datetime.now(UTC)

    async def revoke_now(events: list) -> None:
        """Put ended sessions on the revocation list at once (the consumer of session.ended does
        it too, for every replica and for endings that happen elsewhere)."""
        for event in events:
            if event.__class__.__name__ == "SessionEnded" and rt.redis is not None:
                await rt.redis.set(auth.revoked_key(event.session_id), b"1", ex=revocation_ttl(s))

    def emitting(command):
        """Run a command returning (result, events): emit the events in the same transaction."""

        def work(session):
            result, events = command(session)
            for event in events:
                rt.emit(session, event)
            return result, events

        return work

    # --- public: keys and discovery ----------------------------------------------------------------

    @api.get("/.well-known/jwks.json", dependencies=[Depends(auth.public("public keys that verify access tokens"))])
    async def jwks() -> dict:
        return await rt.read(lambda session: tokens.jwks(session, s.identity_access_token_seconds))

    @api.get("/.well-known/openid-configuration",
             dependencies=[Depends(auth.public("where the keys and the token endpoint are"))])
    async def discovery() -> dict:
        base = s.auth_issuer.rstrip("/")
        return {"issuer": s.auth_issuer, "jwks_uri": f"{base}/.well-known/jwks.json",
                "token_endpoint": f"{base}/v1/oauth/token", "grant_types_supported": ["client_credentials"],
                "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
                "id_token_signing_alg_values_supported": [tokens.ALGORITHM], "scopes_supported": list(auth.SCOPES)}

    # --- sign-in with the EDS ------------------------------------------------------------------------

    @api.post("/v1/auth/challenges", status_code=201, dependencies=[Depends(auth.public("the first step of sign-in"))])
    async def challenge() -> dict:
        """A one-time text to sign with the EDS through NCALayer (`data` is its base64, as
        NCALayer's `sign` takes it)."""
        row = await run(lambda session: handlers.issue_challenge(session, s.auth_issuer, now(), policy))
        return {"challenge_id": row.challenge_id, "text": row.text,
                "data": base64.b64encode(row.text.encode()).decode(),
                "expires_at": row.expires_at.isoformat()}

    @api.post("/v1/auth/sign-in", dependencies=[Depends(auth.public("sign-in: the signed challenge is the credential"))],
              responses=refused("CHALLENGE_UNKNOWN", "CHALLENGE_EXPIRED", "CHALLENGE_USED", "SIGNATURE_NOT_CMS",
                                *MESSAGES, "NOT_ORGANIZATION", "PARTICIPANT_UNKNOWN", "NO_ROLE", "ROLE_NOT_HELD"))
    async def sign_in(body: SignIn) -> dict:
        """Verify the CMS over the challenge (chain, CRL, validity now, EKU), map the certificate to
        the organization and role through the registry, and start a session."""
        try:
            cms = base64.b64decode(body.signature, validate=True)
        except (binascii.Error, ValueError):
            raise refusal(Refused("SIGNATURE_NOT_CMS")) from None
        if not cms or len(cms) > MAX_CMS_BYTES:
            raise refusal(Refused("SIGNATURE_NOT_CMS"))
        text = await run(lambda session: handlers.take_challenge(session, body.challenge_id, now()).text)
        cert = await asyncio.to_thread(verifier.verify, cms, text.encode())
        issued, _events = await run(emitting(lambda session: handlers.sign_in(
            session, signer, cert, body.role, now(), policy)))
        return issued.answer()

    @api.post("/v1/auth/refresh", dependencies=[Depends(auth.public("the refresh token is the credential"))],
              responses=refused("REFRESH_INVALID", "ROLE_LOST"))
    async def refresh(body: Refresh) -> dict:
        issued, events = await run(emitting(lambda session: handlers.refresh(
            session, signer, body.refresh_token, now(), policy)))
        if events:
            await revoke_now(events)
            raise refusal(Refused("ROLE_LOST" if events[0].reason == "role_lost" else "REFRESH_INVALID"))
        return issued.answer()

    @api.post("/v1/auth/sign-out", status_code=204)
    async def sign_out(who: Annotated[Principal, Depends(auth.signed_in())]) -> None:
        if who.session_id is None:
            return
        events = await run(emitting(lambda session: (None, handlers.end_session(
            session, who.session_id, "signed_out", now()))))
        await revoke_now(events[1])

    @api.get("/v1/auth/me")
    async def me(who: Annotated[Principal, Depends(auth.signed_in())]) -> dict:
        return {"subject": who.subject, "role": who.role, "participant_id": who.participant_id, "level": who.level,
                "scopes": sorted(who.scopes), "session_id": who.session_id, "name": who.name}

    # --- machines: OAuth2 client credentials (RFC 6749 §4.4) ----------------------------------------

    @api.post("/v1/oauth/token", dependencies=[Depends(auth.public("client credentials are the credential"))],
              responses=OAUTH_REFUSALS)
    async def oauth_token(
        grant_type: Annotated[str, Form(max_length=64)],
        client_id: Annotated[str | None, Form(max_length=64)] = None,
        client_secret: Annotated[str | None, Form(max_length=200)] = None,
        authorization: Annotated[str | None, Header()] = None,
    ) -> JSONResponse:
        """An access token for a machine client. Errors follow RFC 6749 (`error`,
        `error_description`) with UISE's code and messages beside them."""
        if grant_type != "client_credentials":
            return oauth_error(400, "unsupported_grant_type", "UNSUPPORTED_GRANT_TYPE",
                               "only grant_type=client_credentials is supported here")
        if authorization and authorization.lower().startswith("basic "):
            try:
                client_id, _, client_secret = base64.b64decode(authorization[6:]).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                return oauth_error(401, "invalid_client", "CLIENT_INVALID", REASONS["CLIENT_INVALID"][1])
        if not is_ref(client_id) or not client_secret:  # nothing else was ever handed out as a client id
            return oauth_error(401, "invalid_client", "CLIENT_INVALID", REASONS["CLIENT_INVALID"][1])
        try:
            issued, _events = await rt.in_transaction(emitting(lambda session: handlers.client_token(
                session, signer, client_id, client_secret, now(), policy)))
        except Refused as exc:
            return oauth_error(401, "invalid_client", exc.code, REASONS[exc.code][1])
        answer = issued.answer()
        return JSONResponse({k: answer[k] for k in ("access_token", "token_type", "expires_in")}
                            | {"scope": " ".join(sorted(auth.ROLE_SCOPES[issued.session.role]))},
                            headers={"Cache-Control": "no-store"})

    # --- the data office and ops: machine clients and sessions ------------------------------------------

    @api.post("/v1/clients", status_code=201, responses=refused("CLIENT_ROLE_INVALID", "SCOPE_INVALID",
                                                                "PARTICIPANT_REQUIRED"))
    async def create_client(body: ClientRequest, who: Annotated[Principal, Depends(ADMIN)]) -> dict:
        """A machine client: `system` acts for one participant (a school information system),
        `integrator` reads published reports (another ministry). The secret is in this answer
        only."""
        made = await run(lambda session: handlers.create_client(
            session, body.role, body.label, who.label, body.participant_id, body.scopes))
        return made.answer()

    @api.get("/v1/clients", dependencies=[Depends(ADMIN)])
    async def clients() -> list[dict]:
        return await rt.read(handlers.list_clients)

    @api.delete("/v1/clients/{client_id}", responses=refused("CLIENT_UNKNOWN"))
    async def revoke_client(client_id: Ref,
                            who: Annotated[Principal, Depends(ADMIN)]) -> dict:
        row, events = await run(emitting(lambda session: handlers.revoke_client(session, client_id, who.label, now())))
        await revoke_now(events)
        return handlers.client_view(row)

    @api.get("/v1/sessions", dependencies=[Depends(ADMIN)])
    async def sessions(participant_id: Annotated[ParticipantId | None, Query()] = None,
                       subject: Annotated[Ref | None, Query()] = None,
                       active: bool = True, limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> list[dict]:
        return await rt.read(lambda session: handlers.list_sessions(session, participant_id, subject, active, limit))

    @api.delete("/v1/sessions/{session_id}", responses=refused("SESSION_UNKNOWN"))
    async def revoke_session(session_id: Ref,
                             who: Annotated[Principal, Depends(ADMIN)]) -> dict:
        _none, events = await run(emitting(lambda session: (None, handlers.end_session(
            session, session_id, "revoked", now(), by=who.label))))
        await revoke_now(events)
        return {"session_id": session_id, "ended": True}

    return api


def revocation_ttl(settings) -> int:
    """A revoked session stays on the list while any access token it holds may be alive."""
    return int(settings.identity_access_token_seconds + settings.auth_leeway_seconds + 60)


def oauth_error(status: int, error: str, code: str, description: str) -> JSONResponse:
    en, ru, kk = REASONS.get(code, (status, description, description, description))[1:]
    return JSONResponse({"error": error, "error_description": description, "code": code,
                         "message": {"kk": kk, "ru": ru, "en": en}}, status_code=status,
                        headers={"Cache-Control": "no-store", **({"WWW-Authenticate": "Basic"} if status == 401 else {})})
