"""The receipt intake returns: what was delivered, when (clause 10), to whom, signed with the
system's own Ed25519 key so a participant can verify it offline against the published key."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey


def canonical(fields: dict) -> bytes:
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str).encode()


class ReceiptSigner:
    def __init__(self, key: Ed25519PrivateKey) -> None:
        self.key = key
        raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        self.key_id = hashlib.sha256(raw).hexdigest()[:16]

    @classmethod
    def load_or_create(cls, path: Path) -> ReceiptSigner:
        if path.exists():
            return cls(serialization.load_pem_private_key(path.read_bytes(), password=None))
        key = Ed25519PrivateKey.generate()
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
        path.chmod(0o600)
        return cls(key)

    def public_pem(self) -> str:
        return self.key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()

    def sign(self, fields: dict) -> dict:
        sig = base64.b64encode(self.key.sign(canonical(fields))).decode()
        return {**fields, "receipt_signature": {"alg": "Ed25519", "key_id": self.key_id, "value": sig}}


def verify_receipt(receipt: dict, public_pem: str) -> bool:
    fields = {k: v for k, v in receipt.items() if k != "receipt_signature"}
    key = serialization.load_pem_public_key(public_pem.encode())
    assert isinstance(key, Ed25519PublicKey)
    try:
        key.verify(base64.b64decode(receipt["receipt_signature"]["value"]), canonical(fields))
        return True
    except (InvalidSignature, KeyError, ValueError):
        return False


def main(argv: list[str] | None = None) -> int:
    """`uise-receipt RECEIPT.json --key intake-public.pem`: verify a receipt offline against the
    published key (GET /v1/receipts/public-key on intake gives it as `pem`)."""
    import argparse
    import sys

    p = argparse.ArgumentParser(prog="uise-receipt", description=main.__doc__)
    p.add_argument("receipt", help="the JSON receipt intake returned")
    p.add_argument("--key", required=True, help="intake's public key: a PEM file, or the JSON from /v1/receipts/public-key")
    args = p.parse_args(argv)
    receipt = json.loads(Path(args.receipt).read_text())
    key_text = Path(args.key).read_text()
    if key_text.lstrip().startswith("{"):
        key_text = json.loads(key_text)["pem"]
    if verify_receipt(receipt, key_text):
        print(f"valid: submission {receipt.get('submission_id')} delivered at {receipt.get('delivered_at')}")
        return 0
    print("INVALID: the receipt was altered or not signed by this key", file=sys.stderr)
    return 1
