"""Participants' API keys in intake's database: issue (the token is shown once and only its
SHA-256 is kept), revoke, list, and resolve a presented token to its participant."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from uise_common.db import utcnow
from uise_intake.adapters import ApiKey
from uise_intake.domain import hash_token, key_id_of, new_token  # noqa: F401  (re-exported)
from uise_intake.reasons import Refused


@dataclass(frozen=True)
class IssuedKey:
    key_id: str
    participant_id: str
    token: str  # shown once
    created_at: datetime


def issue(session: Session, participant_id: str, label: str | None = None, created_by: str | None = None) -> IssuedKey:
    token = new_token()
    digest = hash_token(token)
    row = ApiKey(key_hash=digest, key_id=key_id_of(digest), participant_id=participant_id, label=label,
                 created_by=created_by)
    session.add(row)
    return IssuedKey(row.key_id, participant_id, token, row.created_at)


def revoke(session: Session, key_id: str) -> ApiKey | None:
    row = session.exec(select(ApiKey).where(ApiKey.key_id == key_id)).first()
    if row is None:
        return None
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        session.add(row)
    return row


def listing(session: Session, participant_id: str | None = None) -> list[ApiKey]:
    q = select(ApiKey).order_by(col(ApiKey.participant_id), col(ApiKey.created_at))
    if participant_id:
        q = q.where(ApiKey.participant_id == participant_id)
    return list(session.exec(q).all())


def resolve(session: Session, token: str) -> str:
    """The participant a token belongs to; raises Refused when it is unknown or revoked."""
    row = session.get(ApiKey, hash_token(token))
    if row is None:
        raise Refused("API_KEY_INVALID")
    if row.revoked_at is not None:
        raise Refused("API_KEY_REVOKED", key_id=row.key_id)
    return row.participant_id


def public(row: ApiKey) -> dict:
    """A key as listed: never the token, never the full hash."""
    return {"key_id": row.key_id, "participant_id": row.participant_id, "label": row.label,
            "created_at": row.created_at.isoformat(), "created_by": row.created_by,
            "revoked_at": row.revoked_at.isoformat() if row.revoked_at else None}
