"""`uise-sign`: sign a document with a .p12 as NCALayer would, co-sign it as Kalkan does, and
verify a CMS signature (every signer) at a trusted time.

    uise-sign sign report.xlsx --p12 head.p12 [--password …] [--attached] [-o report.xlsx.p7s]
    uise-sign cosign report.xlsx report.xlsx.p7s --p12 accountant.p12 [--password …] [-o out.p7s]
    uise-sign verify report.xlsx report.xlsx.p7s --trust DIR [--at 2026-11-26T12:00:00+05:00]
              [--bin 123456789021 --head-iin 123456789011 [--allow-right-to-sign]]

`--at` of verify is the delivery time the certificates are judged at (default now); times need a
UTC offset (+05:00 is Almaty). Exit codes: 0 valid, 1 refused, 2 bad usage.
(`uise-receipt` verifies intake's receipts.)"""

from __future__ import annotations

import argparse
import getpass
import sys
from datetime import datetime, timedelta
from pathlib import Path

from uise_common.pki import pkcs12
from uise_common.pki.cms import SignatureError, TrustStore, cosign, sign, verify_all
from uise_common.settings import Settings
from uise_signature.domain import check_policy

_DEFAULTS = Settings.model_fields


class UsageError(Exception):
    """Bad input from the command line: exit code 2 with the message."""


def aware_time(value: str | None, option: str) -> datetime | None:
    """An ISO time with a UTC offset; a naive one is refused rather than guessed (a school's
    00:00 is 19:00 UTC the day before, and a certificate's validity can turn on that)."""
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise UsageError(f"{option} {value!r} is not an ISO 8601 time, e.g. 2026-11-26T12:00:00+05:00") from exc
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise UsageError(f"{option} {value!r} has no UTC offset: give one, e.g. {value}+05:00 (Almaty) or {value}Z")
    return parsed


def _container(args: argparse.Namespace) -> pkcs12.KeyContainer:
    password = args.password if args.password is not None else getpass.getpass("p12 password: ")
    try:
        return pkcs12.load(Path(args.p12).read_bytes(), password)
    except pkcs12.WrongPassword as exc:
        raise UsageError("wrong password for the .p12") from exc
    except (OSError, pkcs12.PKCS12Error) as exc:
        raise UsageError(f"cannot open {args.p12}: {exc}") from exc


def _read(path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from exc


def cmd_sign(args: argparse.Namespace) -> int:
    signed_at = aware_time(args.at, "--at")
    container = _container(args)
    document = _read(args.document)
    out = Path(args.output or f"{args.document}.{'cms' if args.attached else 'p7s'}")
    out.write_bytes(sign(document, container, detached=not args.attached, signing_time=signed_at))
    print(f"wrote {out}")
    return 0


def cmd_cosign(args: argparse.Namespace) -> int:
    signed_at = aware_time(args.at, "--at")
    container = _container(args)
    document, existing = _read(args.document), _read(args.signature)
    try:
        cms = cosign(existing, document, container, signing_time=signed_at)
    except SignatureError as exc:
        print(f"REFUSED {exc.code}: {exc}", file=sys.stderr)
        return 1
    # Co-signing adds to the signature file itself, as Kalkan does, unless told otherwise; the
    # replace is atomic, so an interrupted run leaves the old signature whole.
    out = Path(args.output or args.signature)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_bytes(cms)
    tmp.replace(out)
    print(f"added a signer to {out}")
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    at = aware_time(args.at, "--at")
    if args.head_iin and not args.bin:
        raise UsageError("--head-iin needs --bin")
    trust = TrustStore.from_dir(Path(args.trust))
    for problem in trust.problems:
        print(f"warning: trust directory: {problem}", file=sys.stderr)
    try:
        signers = verify_all(_read(args.signature), _read(args.document), trust, at=at,
                             clock_skew=timedelta(seconds=args.clock_skew_seconds),
                             max_age=timedelta(days=args.max_age_days))
        outcome = check_policy(signers, args.bin, args.head_iin, args.allow_right_to_sign) if args.bin else None
        if outcome is not None and outcome.refusal is not None:
            raise outcome.refusal
    except SignatureError as exc:
        print(f"REFUSED {exc.code}: {exc}", file=sys.stderr)
        return 1
    for n, info in enumerate(signers, start=1):
        mark = "" if outcome is None else (" [satisfies the policy]" if outcome.satisfied[n - 1] else "")
        signed = info.signing_time.isoformat() if info.signing_time else "no signingTime"
        print(f"valid signer {n}: {info.algorithm}, IIN {info.iin}, BIN {info.bin}, {info.name}, serial {info.serial}; "
              f"signed {signed}, certificate judged at {info.trusted_time.isoformat()} ({info.time_source}){mark}")
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="uise-sign", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("sign", help="sign a document")
    s.add_argument("document")
    s.add_argument("--p12", required=True)
    s.add_argument("--password")
    s.add_argument("--attached", action="store_true", help="carry the document inside the CMS")
    s.add_argument("--at", help="signing time, ISO with an offset (e.g. 2026-11-26T12:00:00+05:00); default now")
    s.add_argument("-o", "--output")
    c = sub.add_parser("cosign", help="add a signer to an existing CMS over the same document")
    c.add_argument("document")
    c.add_argument("signature", help="the existing CMS (.p7s or .cms)")
    c.add_argument("--p12", required=True)
    c.add_argument("--password")
    c.add_argument("--at", help="signing time, ISO with an offset; default now")
    c.add_argument("-o", "--output", help="default: replace the existing CMS")
    v = sub.add_parser("verify", help="verify every signer")
    v.add_argument("document")
    v.add_argument("signature")
    v.add_argument("--trust", required=True, help="directory of CA certificates and CRLs")
    v.add_argument("--at", help="the delivery time certificates are judged at, ISO with an offset; default now")
    v.add_argument("--bin", help="also check a signer may sign for this BIN (its first head)")
    v.add_argument("--head-iin", help="… and is this person, the head on the delivery date")
    v.add_argument("--allow-right-to-sign", action="store_true",
                   help="the form admits a signer with the right to sign (1.2.398.3.3.4.1.2.2)")
    v.add_argument("--max-age-days", type=float, default=_DEFAULTS["signature_max_age_days"].default,
                   help="how long before --at the signingTime may lie (default %(default)s)")
    v.add_argument("--clock-skew-seconds", type=float, default=_DEFAULTS["signature_clock_skew_seconds"].default,
                   help="how far after --at the signingTime may lie (default %(default)s)")
    args = p.parse_args(argv)
    try:
        return {"sign": cmd_sign, "cosign": cmd_cosign, "verify": cmd_verify}[args.command](args)
    except UsageError as exc:
        print(f"uise-sign {args.command}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
