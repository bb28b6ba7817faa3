"""Identity process: sign-in, tokens and their keys, machine clients; consumes the registry's
participants (heads, staff) and its own session.ended (the revocation list)."""

from __future__ import annotations

from sqlmodel import Session

from uise_common import auth
from uise_common.hierarchy import ancestors_in
from uise_common.service import ServiceRuntime, ServiceSpec, run
from uise_contracts.events import ParticipantUpserted, SessionEnded
from uise_contracts.topics import topic_for
from uise_identity import api, handlers, tokens
from uise_identity.adapters import MIGRATIONS, READ_MODEL, KnownParticipant
from uise_identity.verifier import SignInVerifier


def revocation_marker(rt: ServiceRuntime):
    """Consumers run in a worker thread: they write the revocation list with a blocking client."""
    import redis

    client = redis.Redis.from_url(rt.settings.redis_url, socket_timeout=2.0) if rt.settings.redis_url else None
    ttl = api.revocation_ttl(rt.settings)

    def mark(event: SessionEnded) -> None:
        if client is not None:
            client.set(auth.revoked_key(event.session_id), b"1", ex=ttl)

    return mark


def consumers(rt: ServiceRuntime):
    return {
        topic_for(ParticipantUpserted): handlers.on_participant,
        topic_for(SessionEnded): handlers.make_on_session_ended(revocation_marker(rt)),
    }


def local_jwks(rt: ServiceRuntime):
    """Identity verifies its own tokens from its own table, not over HTTP to itself."""

    async def load() -> dict:
        return await rt.read(lambda s: tokens.jwks(s, rt.settings.identity_access_token_seconds))

    return load


def first_key(rt: ServiceRuntime) -> None:
    """A signing key before the first request (replicas starting together may make one each:
    both are published, the newest signs)."""
    with Session(rt.engine) as session:
        tokens.ensure_key(session, rt.settings.identity_key_passphrase)
        session.commit()


def router(rt: ServiceRuntime):
    s = rt.settings
    signer = tokens.Signer(s.auth_issuer, s.auth_audience, s.identity_key_passphrase)
    return api.router(rt, SignInVerifier.from_settings(s), signer)


SPEC = ServiceSpec(
    name="identity",
    description="Sign-in with the EDS through NCALayer, short-lived access tokens (JWT, JWKS), refresh and "
                "sign-out, OAuth2 client credentials for machines.",
    migrations=MIGRATIONS,
    read_model=READ_MODEL,
    consumers=consumers,
    router=router,
    hierarchy=ancestors_in(KnownParticipant),
    local_jwks=local_jwks,
    on_start=first_key,
)


def main() -> None:
    run(SPEC)
