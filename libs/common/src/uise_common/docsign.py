"""The system's document signatures (Ed25519 over canonical JSON): intake's delivery receipts
(clause 10) and reporting's report manifests (clauses 13, 14). One implementation, so a
participant or another ministry verifies both offline with the same tool, `uise-receipt`, against
the published public key."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

ALG = "Ed25519"


def canonical(fields: dict) -> bytes:
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str).encode()


class DocumentSigner:
    """The service's own key: created on first start (mode 0600), loaded after."""

    def __init__(self, key: Ed25519PrivateKey) -> None:
        self.key = key
        raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        self.key_id = hashlib.sha256(raw).hexdigest()[:16]

    @classmethod
    def load_or_create(cls, path: Path) -> DocumentSigner:
        if path.exists():
            return cls(serialization.load_pem_private_key(path.read_bytes(), password=None))
        key = Ed25519PrivateKey.generate()
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
        path.chmod(0o600)
        return cls(key)

    @classmethod
    def ephemeral(cls) -> DocumentSigner:
        """A key that lives as long as the process (tests, one-off tools)."""
        return cls(Ed25519PrivateKey.generate())

    def public_pem(self) -> str:
        return self.key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()

    def signature(self, fields: dict) -> dict:
        """{alg, key_id, value (base64)} over the canonical JSON of `fields`."""
        return {"alg": ALG, "key_id": self.key_id, "value": base64.b64encode(self.key.sign(canonical(fields))).decode()}

    def sign(self, fields: dict) -> dict:
        """A receipt: the fields plus `receipt_signature`."""
        return {**fields, "receipt_signature": self.signature(fields)}


ReceiptSigner = DocumentSigner  # intake's name for it


def verify_fields(fields: dict, signature: Mapping, public_pem: str) -> bool:
    key = serialization.load_pem_public_key(public_pem.encode())
    if not isinstance(key, Ed25519PublicKey):
        return False
    try:
        key.verify(base64.b64decode(signature["value"], validate=True), canonical(fields))
        return True
    except (InvalidSignature, KeyError, TypeError, ValueError):
        return False


def verify_receipt(receipt: dict, public_pem: str) -> bool:
    fields = {k: v for k, v in receipt.items() if k != "receipt_signature"}
    return verify_fields(fields, receipt.get("receipt_signature") or {}, public_pem)


def report_manifest(report_id: str, version: int, digests: Mapping[str, str]) -> dict:
    """What a report version's signature covers: its identity and each document's SHA-256."""
    return {"report_id": report_id, "version": version, "documents": dict(sorted(digests.items()))}


def _digests(report: Mapping) -> dict[str, str]:
    """`documents` as the event gives it ({fmt: {sha256, ...}}) or as the manifest does ({fmt: sha256})."""
    out = {}
    for fmt, doc in (report.get("documents") or {}).items():
        out[fmt] = doc if isinstance(doc, str) else doc["sha256"]
    return out


def verify_report(report: Mapping, public_pem: str, documents: Mapping[str, bytes] | None = None) -> bool:
    """A report version's signature (the `report.published` event, or the reporting API's metadata
    of a version) against the published key; with `documents` ({fmt: bytes}) also each document's
    bytes against the signed SHA-256."""
    try:
        digests = _digests(report)
        manifest = report_manifest(report["report_id"], report["version"], digests)
    except (KeyError, TypeError):
        return False
    if not verify_fields(manifest, report.get("signature") or {}, public_pem):
        return False
    for fmt, data in (documents or {}).items():
        if digests.get(fmt) != hashlib.sha256(data).hexdigest():
            return False
    return True


def _key_text(path: str) -> str:
    text = Path(path).read_text()
    # the JSON a public-key route answers ({"pem": ...}) or the PEM itself
    return json.loads(text)["pem"] if text.lstrip().startswith("{") else text


def main(argv: list[str] | None = None) -> int:
    """`uise-receipt RECEIPT.json --key intake-public.pem`: verify a receipt offline against the
    published key (GET /v1/receipts/public-key on intake gives it as `pem`).
    `uise-receipt REPORT.json --key reporting-public.pem [--document json=report.json ...]`: verify
    a report version's signature (REPORT.json: the `report.published` event, or the version's
    metadata from the reporting API; the key from GET /v1/reports/public-key), and each document
    given against its signed checksum."""
    import argparse
    import sys

    p = argparse.ArgumentParser(prog="uise-receipt", description=main.__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("receipt", help="the JSON receipt intake returned, or a report's event / metadata")
    p.add_argument("--key", required=True, help="the public key: a PEM file, or the JSON of a public-key route")
    p.add_argument("--document", action="append", default=[], metavar="FMT=FILE",
                   help="a report's document to check against its signed checksum (json, xlsx, pdf)")
    args = p.parse_args(argv)
    data = json.loads(Path(args.receipt).read_text())
    data = data.get("data", data) if isinstance(data.get("data"), dict) else data  # a CloudEvent's envelope
    key_text = _key_text(args.key)
    if "receipt_signature" in data:
        if verify_receipt(data, key_text):
            print(f"valid: submission {data.get('submission_id')} delivered at {data.get('delivered_at')}")
            return 0
        print("INVALID: the receipt was altered or not signed by this key", file=sys.stderr)
        return 1
    docs = {}
    for item in args.document:
        fmt, _, file = item.partition("=")
        if not file:
            p.error(f"--document {item}: expected FMT=FILE")
        docs[fmt] = Path(file).read_bytes()
    if verify_report(data, key_text, docs):
        print(f"valid: report {data.get('report_id')} version {data.get('version')}"
              + (f"; documents {', '.join(sorted(docs))} match" if docs else ""))
        return 0
    print("INVALID: the report (or a document) was altered or not signed by this key", file=sys.stderr)
    return 1


if __name__ == "__main__":
    raise SystemExit(main())
