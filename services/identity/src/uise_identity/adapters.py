"""Identity's tables: the registry's participants as identity needs them, sign-in challenges,
sessions, machine clients and the keys that sign access tokens."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from uise_common.db import Migration, create_tables, utcnow
from uise_common.readmodel import ReadModel, Table


class KnownParticipant(SQLModel, table=True):
    """From participant.upserted: who heads it and whom the head named, to map a certificate to
    a role."""

    __tablename__ = "identity_participant"
    participant_id: str = Field(primary_key=True)
    bin: str = Field(index=True)
    level: str
    parent_id: str | None = None
    active: bool = True
    heads: str = "[]"  # JSON list of HeadTerm
    staff: str = "[]"  # JSON list of StaffMember


class Challenge(SQLModel, table=True):
    """A one-time text a person signs with the EDS to sign in."""

    __tablename__ = "identity_challenge"
    challenge_id: str = Field(primary_key=True)
    text: str
    issued_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime = Field(index=True)
    used_at: datetime | None = None


class AuthSession(SQLModel, table=True):
    """A signed-in person, or a machine client's token grant. Access tokens name it (`sid`); the
    refresh token is kept only as its SHA-256."""

    __tablename__ = "identity_session"
    session_id: str = Field(primary_key=True)
    subject: str = Field(index=True)
    participant_id: str | None = Field(default=None, index=True)
    level: str | None = None
    role: str
    name: str | None = None
    method: str  # eds | client_credentials
    certificate_serial: str | None = None
    started_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime
    refresh_hash: str | None = Field(default=None, unique=True)
    previous_refresh_hash: str | None = Field(default=None, index=True)  # a reuse ends the session
    ended_at: datetime | None = None
    end_reason: str | None = None


class Client(SQLModel, table=True):
    """A machine client (another ministry's system, a school information system): OAuth2 client
    credentials, the secret kept only as its SHA-256, scoped and revocable."""

    __tablename__ = "identity_client"
    client_id: str = Field(primary_key=True)
    secret_hash: str
    label: str
    role: str
    participant_id: str | None = None
    scopes: str  # space-separated
    created_at: datetime = Field(default_factory=utcnow)
    created_by: str
    revoked_at: datetime | None = None
    revoked_by: str | None = None


class SigningKey(SQLModel, table=True):
    """An ES256 key that signs access tokens. The newest signs; every key not retired long
    enough ago for its tokens to have expired is published in the JWKS."""

    __tablename__ = "identity_signing_key"
    kid: str = Field(primary_key=True)
    private_pem: str  # PKCS#8, encrypted with the passphrase when one is set
    public_jwk: str  # JSON, what the JWKS publishes
    created_at: datetime = Field(default_factory=utcnow)
    retired_at: datetime | None = None


MIGRATIONS = [Migration(1, "participants, challenges, sessions, clients, signing keys",
                        create_tables(KnownParticipant, Challenge, AuthSession, Client, SigningKey))]


# What identity builds from its topics (uise_common.readmodel): the participants. Challenges,
# sessions, clients and keys are its own; the sessions a participant's change ended were ended
# live and stay so (a replay ends nothing: it holds no sessions).
READ_MODEL = ReadModel(tables=(Table(KnownParticipant),),
                       note="sessions, clients and keys are identity's own")
