"""`uise-sign`: sign a document with a .p12 as NCALayer would, and verify a CMS signature.

    uise-sign sign report.xlsx --p12 head.p12 [--password …] [--attached] [-o report.xlsx.p7s]
    uise-sign verify report.xlsx report.xlsx.p7s --trust DIR [--at 2026-11-26T12:00:00+05:00]
              [--bin 123456789021 --head-iin 123456789011]

(`uise-receipt` verifies intake's receipts.)"""

from __future__ import annotations

import argparse
import getpass
import sys
from datetime import datetime
from pathlib import Path

from uise_common.pki import pkcs12
from uise_common.pki.cms import SignatureError, TrustStore, sign, verify
from uise_signature.domain import check_authority


def cmd_sign(args: argparse.Namespace) -> int:
    password = args.password if args.password is not None else getpass.getpass("p12 password: ")
    try:
        container = pkcs12.load(Path(args.p12).read_bytes(), password)
    except pkcs12.WrongPassword:
        print("wrong password for the .p12", file=sys.stderr)
        return 2
    document = Path(args.document).read_bytes()
    signed_at = datetime.fromisoformat(args.at) if args.at else None
    out = Path(args.output or f"{args.document}.{'cms' if args.attached else 'p7s'}")
    out.write_bytes(sign(document, container, detached=not args.attached, signing_time=signed_at))
    print(f"wrote {out}")
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    at = datetime.fromisoformat(args.at) if args.at else None
    try:
        info = verify(Path(args.signature).read_bytes(), Path(args.document).read_bytes(),
                      TrustStore.from_dir(Path(args.trust)), at=at)
        if args.bin:
            check_authority(info, args.bin, args.head_iin)
    except SignatureError as exc:
        print(f"REFUSED {exc.code}: {exc}", file=sys.stderr)
        return 1
    print(f"valid: {info.algorithm}, signer IIN {info.iin}, BIN {info.bin}, {info.name}, serial {info.serial}")
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="uise-sign", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("sign")
    s.add_argument("document")
    s.add_argument("--p12", required=True)
    s.add_argument("--password")
    s.add_argument("--attached", action="store_true", help="carry the document inside the CMS")
    s.add_argument("--at", help="signing time (ISO); default now")
    s.add_argument("-o", "--output")
    v = sub.add_parser("verify")
    v.add_argument("document")
    v.add_argument("signature")
    v.add_argument("--trust", required=True, help="directory of CA certificates and CRLs")
    v.add_argument("--at", help="verification time (ISO), e.g. to check an old signature")
    v.add_argument("--bin", help="also check the signer is the first head of this BIN")
    v.add_argument("--head-iin", help="… and is this person")
    args = p.parse_args(argv)
    return cmd_sign(args) if args.command == "sign" else cmd_verify(args)


if __name__ == "__main__":
    sys.exit(main())
