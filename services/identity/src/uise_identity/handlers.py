"""Identity's commands and event handlers. Each takes a session and returns what it made plus
the events to emit; routes and consumers call these and nothing else."""

from __future__ import annotations

import json
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import update
from sqlmodel import Session, col, select

from uise_common import auth
from uise_contracts.events import (
    HeadTerm,
    ParticipantUpserted,
    SessionEnded,
    SessionStarted,
    StaffMember,
)
from uise_identity import domain, tokens
from uise_identity.adapters import AuthSession, Challenge, Client, KnownParticipant
from uise_identity.domain import CertificateFacts, Organization, Refused

ALMATY = ZoneInfo("Asia/Almaty")
Verify = Callable[[bytes, bytes], CertificateFacts]  # (cms, signed text) -> facts, or raises


@dataclass(frozen=True)
class Policy:
    """How long things live (from settings)."""

    access_seconds: int
    session_hours: float
    challenge_seconds: int


@dataclass(frozen=True)
class Tokens:
    access_token: str
    expires_in: int
    session: AuthSession
    refresh_token: str | None = None

    def answer(self) -> dict:
        out = {"access_token": self.access_token, "token_type": "Bearer", "expires_in": self.expires_in,
               "scope": " ".join(sorted(auth.ROLE_SCOPES.get(self.session.role, ()))),
               "session_id": self.session.session_id, "participant_id": self.session.participant_id,
               "role": self.session.role, "session_expires_at": _aware(self.session.expires_at).isoformat()}
        if self.refresh_token:
            out["refresh_token"] = self.refresh_token
        return out


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def organization(session: Session, participant_id: str | None = None, bin_: str | None = None) -> Organization | None:
    row = session.get(KnownParticipant, participant_id) if participant_id else session.exec(
        select(KnownParticipant).where(KnownParticipant.bin == bin_)).first()
    if row is None:
        return None
    return Organization(participant_id=row.participant_id, level=row.level, active=row.active,
                        heads=[HeadTerm.model_validate(h) for h in json.loads(row.heads)],
                        staff=[StaffMember.model_validate(m) for m in json.loads(row.staff)])


# --- sign-in with the EDS ----------------------------------------------------------------------------


def issue_challenge(session: Session, issuer: str, now: datetime, policy: Policy) -> Challenge:
    challenge_id = str(uuid.uuid4())
    row = Challenge(challenge_id=challenge_id, issued_at=now, expires_at=now + timedelta(seconds=policy.challenge_seconds),
                    text=domain.challenge_text(issuer, challenge_id, secrets.token_urlsafe(24), now))
    session.add(row)
    # expired challenges are kept a day for the record, then go: the table stays small under load
    session.exec(Challenge.__table__.delete().where(Challenge.expires_at < now - timedelta(days=1)))
    return row


def take_challenge(session: Session, challenge_id: str, now: datetime) -> Challenge:
    """The challenge, marked used. The conditional UPDATE makes two concurrent sign-ins with one
    challenge (on any database) end with one winner."""
    row = session.get(Challenge, challenge_id)
    if row is None:
        raise Refused("CHALLENGE_UNKNOWN")
    if _aware(row.expires_at) < now:
        raise Refused("CHALLENGE_EXPIRED")
    taken = session.exec(update(Challenge).where(Challenge.challenge_id == challenge_id,
                                                 col(Challenge.used_at).is_(None)).values(used_at=now))
    if taken.rowcount != 1:
        raise Refused("CHALLENGE_USED")
    return row


def sign_in(session: Session, signer: tokens.Signer, cert: CertificateFacts,
            wanted_role: str | None, now: datetime, policy: Policy) -> tuple[Tokens, list]:
    org = organization(session, bin_=cert.bin) if cert.bin else None
    role = domain.choose_role(domain.roles_held(cert, org, now.astimezone(ALMATY).date()), wanted_role)
    refresh = tokens.new_secret("rt")
    row = AuthSession(session_id=str(uuid.uuid4()), subject=f"iin:{cert.iin}", participant_id=org.participant_id,
                      level=org.level, role=role, name=cert.name, method="eds", certificate_serial=cert.serial,
                      started_at=now, expires_at=now + timedelta(hours=policy.session_hours),
                      refresh_hash=tokens.digest(refresh))
    session.add(row)
    started = SessionStarted(session_id=row.session_id, subject=row.subject, participant_id=row.participant_id,
                             role=role, method="eds", started_at=now, expires_at=row.expires_at,
                             certificate_serial=cert.serial)
    return Tokens(_access(session, signer, row, policy), policy.access_seconds, row, refresh), [started]


def _access(session: Session, signer: tokens.Signer, row: AuthSession, policy: Policy, scopes=None) -> str:
    return signer.mint(session, subject=row.subject, role=row.role, ttl=policy.access_seconds,
                       scopes=frozenset(scopes) if scopes is not None else auth.ROLE_SCOPES[row.role],
                       session_id=row.session_id, participant_id=row.participant_id, level=row.level, name=row.name)


def refresh(session: Session, signer: tokens.Signer, token: str, now: datetime, policy: Policy) -> tuple[Tokens, list]:
    """A new access token and a new refresh token (rotation). The registry is asked again: a
    head replaced yesterday cannot refresh today. Presenting an already rotated refresh token
    means it was copied: the session ends."""
    hashed = tokens.digest(token)
    row = session.exec(select(AuthSession).where(AuthSession.refresh_hash == hashed)).first()
    if row is None:
        reused = session.exec(select(AuthSession).where(AuthSession.previous_refresh_hash == hashed)).first()
        if reused is not None and reused.ended_at is None:
            return Tokens("", 0, reused), [end(reused, "refresh_reused", now)]
        raise Refused("REFRESH_INVALID")
    if row.ended_at is not None or _aware(row.expires_at) < now:
        raise Refused("REFRESH_INVALID")
    iin = row.subject.removeprefix("iin:")
    if not domain.still_holds(row.role, iin, organization(session, row.participant_id), now.astimezone(ALMATY).date()):
        return Tokens("", 0, row), [end(row, "role_lost", now)]
    new = tokens.new_secret("rt")
    row.previous_refresh_hash, row.refresh_hash = row.refresh_hash, tokens.digest(new)
    session.add(row)
    return Tokens(_access(session, signer, row, policy), policy.access_seconds, row, new), []


def end(row: AuthSession, reason: str, now: datetime, by: str | None = None) -> SessionEnded:
    row.ended_at, row.end_reason, row.refresh_hash = now, reason, None
    return SessionEnded(session_id=row.session_id, subject=row.subject, participant_id=row.participant_id,
                        reason=reason, ended_at=now, by=by)


def end_session(session: Session, session_id: str, reason: str, now: datetime, by: str | None = None) -> list:
    row = session.get(AuthSession, session_id)
    if row is None:
        raise Refused("SESSION_UNKNOWN")
    if row.ended_at is not None:
        return []
    event = end(row, reason, now, by)
    session.add(row)
    return [event]


def list_sessions(session: Session, participant_id: str | None, subject: str | None, active_only: bool,
                  limit: int) -> list[dict]:
    q = select(AuthSession).order_by(col(AuthSession.started_at).desc()).limit(limit)
    if participant_id:
        q = q.where(AuthSession.participant_id == participant_id)
    if subject:
        q = q.where(AuthSession.subject == subject)
    if active_only:
        q = q.where(col(AuthSession.ended_at).is_(None))
    return [session_view(r) for r in session.exec(q)]


def session_view(row: AuthSession) -> dict:
    return {"session_id": row.session_id, "subject": row.subject, "participant_id": row.participant_id,
            "role": row.role, "method": row.method, "started_at": _aware(row.started_at).isoformat(),
            "expires_at": _aware(row.expires_at).isoformat(),
            "ended_at": _aware(row.ended_at).isoformat() if row.ended_at else None, "end_reason": row.end_reason}


# --- machine clients (OAuth2 client credentials) -------------------------------------------------------

# Roles a data-office or ops person may give a machine client through the API. A data-office or
# ops credential itself is made only by an ops command on the identity host (`uise-identity`).
API_CLIENT_ROLES = (auth.SYSTEM, auth.INTEGRATOR)


@dataclass(frozen=True)
class NewClient:
    client: Client
    secret: str  # shown once

    def answer(self) -> dict:
        return {**client_view(self.client), "client_secret": self.secret}


def create_client(session: Session, role: str, label: str, created_by: str, participant_id: str | None = None,
                  scopes: list[str] | None = None, allowed_roles: tuple[str, ...] = API_CLIENT_ROLES) -> NewClient:
    if role not in allowed_roles:
        raise Refused("CLIENT_ROLE_INVALID", role)
    granted = frozenset(scopes) if scopes else auth.ROLE_SCOPES[role]
    if not granted <= auth.ROLE_SCOPES[role]:
        raise Refused("SCOPE_INVALID", " ".join(sorted(granted - auth.ROLE_SCOPES[role])))
    if role == auth.SYSTEM and not participant_id:
        raise Refused("PARTICIPANT_REQUIRED")
    secret = tokens.new_secret("cs")
    row = Client(client_id=f"cl_{secrets.token_hex(8)}", secret_hash=tokens.digest(secret), label=label, role=role,
                 participant_id=participant_id, scopes=" ".join(sorted(granted)), created_by=created_by)
    session.add(row)
    return NewClient(row, secret)


def client_token(session: Session, signer: tokens.Signer, client_id: str, secret: str, now: datetime,
                 policy: Policy) -> tuple[Tokens, list]:
    row = session.get(Client, client_id)
    if row is None or not secrets.compare_digest(row.secret_hash, tokens.digest(secret)):
        raise Refused("CLIENT_INVALID")
    if row.revoked_at is not None:
        raise Refused("CLIENT_REVOKED")
    level = None
    if row.participant_id and (org := organization(session, row.participant_id)) is not None:
        level = org.level
    # One session per client: revoking the client revokes every token it holds through it.
    grant = AuthSession(session_id=client_session_id(client_id), subject=f"client:{client_id}",
                        participant_id=row.participant_id, level=level, role=row.role, name=row.label,
                        method="client_credentials", started_at=now,
                        expires_at=now + timedelta(seconds=policy.access_seconds))
    events = []
    if session.get(AuthSession, grant.session_id) is None:
        session.add(grant)
        events.append(SessionStarted(session_id=grant.session_id, subject=grant.subject,
                                     participant_id=grant.participant_id, role=grant.role,
                                     method="client_credentials", started_at=now, expires_at=grant.expires_at))
    access = _access(session, signer, grant, policy, scopes=row.scopes.split())
    return Tokens(access, policy.access_seconds, grant), events


def client_session_id(client_id: str) -> str:
    return f"client:{client_id}"


def revoke_client(session: Session, client_id: str, by: str, now: datetime) -> tuple[Client, list]:
    row = session.get(Client, client_id)
    if row is None:
        raise Refused("CLIENT_UNKNOWN")
    events = []
    if row.revoked_at is None:
        row.revoked_at, row.revoked_by = now, by
        session.add(row)
        events.append(SessionEnded(session_id=client_session_id(client_id), subject=f"client:{client_id}",
                                   participant_id=row.participant_id, reason="revoked", ended_at=now, by=by))
    return row, events


def list_clients(session: Session) -> list[dict]:
    return [client_view(c) for c in session.exec(select(Client).order_by(col(Client.created_at)))]


def client_view(row: Client) -> dict:
    return {"client_id": row.client_id, "label": row.label, "role": row.role, "participant_id": row.participant_id,
            "scopes": row.scopes.split(), "created_at": _aware(row.created_at).isoformat(), "created_by": row.created_by,
            "revoked_at": _aware(row.revoked_at).isoformat() if row.revoked_at else None}


# --- consumers ---------------------------------------------------------------------------------------------


def on_participant(event: ParticipantUpserted, session: Session, now: datetime | None = None) -> list:
    """Keep the registry's view, and end the sessions of people who lost their role here (a new
    head took office, a staff term ended, the organization closed)."""
    session.merge(KnownParticipant(
        participant_id=event.participant_id, bin=event.bin, level=event.level.value, parent_id=event.parent_id,
        active=event.active, heads=json.dumps([h.model_dump(mode="json") for h in event.heads]),
        staff=json.dumps([m.model_dump(mode="json") for m in event.staff])))
    session.flush()
    now = now or datetime.now(UTC)
    org = organization(session, event.participant_id)
    today = now.astimezone(ALMATY).date()
    ended = []
    for row in session.exec(select(AuthSession).where(AuthSession.participant_id == event.participant_id,
                                                      AuthSession.method == "eds",
                                                      col(AuthSession.ended_at).is_(None))):
        if not domain.still_holds(row.role, row.subject.removeprefix("iin:"), org, today):
            ended.append(end(row, "role_lost", now, by="registry"))
            session.add(row)
    return ended


def make_on_session_ended(mark_revoked: Callable[[SessionEnded], None]):
    """Every replica's answer to a session that ended, wherever it ended: the session id goes on
    the revocation list the services check (idempotent, so replays are harmless)."""

    def on_session_ended(event: SessionEnded, _session: Session) -> list:
        mark_revoked(event)
        return []

    return on_session_ended
