"""The keys that sign access tokens, their JWKS, and the tokens themselves.

Keys live in identity's database (encrypted with UISE_IDENTITY_KEY_PASSPHRASE when it is set), so
every replica signs with the same key; the newest key signs, and a retired key stays published
until every token it signed has expired."""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm
from sqlmodel import Session, col, select

from uise_common import auth
from uise_common.db import utcnow
from uise_identity.adapters import SigningKey

ALGORITHM = "ES256"  # what every JWT library and identity provider speaks


def _encryption(passphrase: str | None):
    if passphrase:
        return serialization.BestAvailableEncryption(passphrase.encode())
    return serialization.NoEncryption()


def create_key(session: Session, passphrase: str | None) -> SigningKey:
    key = ec.generate_private_key(ec.SECP256R1())
    public = key.public_key()
    kid = hashlib.sha256(public.public_bytes(serialization.Encoding.DER,
                                             serialization.PublicFormat.SubjectPublicKeyInfo)).hexdigest()[:16]
    jwk = {**json.loads(ECAlgorithm.to_jwk(public)), "kid": kid, "alg": ALGORITHM, "use": "sig"}
    row = SigningKey(kid=kid, public_jwk=json.dumps(jwk), private_pem=key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, _encryption(passphrase)).decode())
    session.add(row)
    return row


def ensure_key(session: Session, passphrase: str | None) -> None:
    """A signing key exists (the first start makes one)."""
    if session.exec(select(SigningKey).where(col(SigningKey.retired_at).is_(None))).first() is None:
        create_key(session, passphrase)


def rotate(session: Session, passphrase: str | None) -> SigningKey:
    """A new key signs from now on; the old ones retire (still published until their tokens expire)."""
    now = utcnow()
    for old in session.exec(select(SigningKey).where(col(SigningKey.retired_at).is_(None))):
        old.retired_at = now
        session.add(old)
    return create_key(session, passphrase)


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def jwks(session: Session, token_seconds: int) -> dict[str, Any]:
    """Public keys of every key whose tokens may still be alive, newest first."""
    cutoff = utcnow() - timedelta(seconds=token_seconds + 300)
    rows = session.exec(select(SigningKey).order_by(col(SigningKey.created_at).desc())).all()
    return {"keys": [json.loads(r.public_jwk) for r in rows
                     if r.retired_at is None or _aware(r.retired_at) >= cutoff]}


class Signer:
    """Signs access tokens with the newest key; reloads it when another replica rotated."""

    def __init__(self, issuer: str, audience: str, passphrase: str | None) -> None:
        self.issuer = issuer
        self.audience = audience
        self.passphrase = passphrase
        self._kid: str | None = None
        self._key: ec.EllipticCurvePrivateKey | None = None

    def load(self, session: Session) -> None:
        row = session.exec(select(SigningKey).where(col(SigningKey.retired_at).is_(None))
                           .order_by(col(SigningKey.created_at).desc())).first()
        if row is None:
            raise RuntimeError("no signing key: the identity service makes one at start")
        if row.kid != self._kid:
            password = self.passphrase.encode() if self.passphrase else None
            self._key = serialization.load_pem_private_key(row.private_pem.encode(), password=password)
            self._kid = row.kid

    def mint(self, session: Session, *, subject: str, role: str, scopes: frozenset[str], ttl: int,
             session_id: str, participant_id: str | None = None, level: str | None = None,
             name: str | None = None) -> str:
        self.load(session)
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer, "aud": self.audience, "sub": subject, "iat": now, "nbf": now, "exp": now + ttl,
            "jti": secrets.token_hex(8), "sid": session_id, auth.ROLE_CLAIM: role, "scope": " ".join(sorted(scopes)),
        }
        if participant_id:
            claims[auth.PARTICIPANT_CLAIM] = participant_id
        if level:
            claims[auth.LEVEL_CLAIM] = level
        if name:
            claims[auth.NAME_CLAIM] = name
        return jwt.encode(claims, self._key, algorithm=ALGORITHM, headers={"kid": self._kid})


def new_secret(prefix: str) -> str:
    return f"{prefix}_{secrets.token_urlsafe(32)}"


def digest(secret: str) -> str:
    """Secrets here are 256-bit random, so a plain SHA-256 is enough to keep them unusable at rest."""
    return hashlib.sha256(secret.encode()).hexdigest()
