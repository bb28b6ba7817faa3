"""Intake process: the HTTP front door plus the consumers that keep timelines; and the command
that manages participants' API keys.

    python -m uise_intake                       serve (also: `uise-intake serve`)
    uise-intake issue-key <participant_id>      print a new API key once
    uise-intake revoke-key <key_id>
    uise-intake list-keys [participant_id]
"""

from __future__ import annotations

import argparse
import json
import sys

from uise_common.service import ServiceRuntime, ServiceSpec, run
from uise_intake import api, handlers
from uise_intake.adapters import MIGRATIONS
from uise_intake.receipts import ReceiptSigner


def router(rt: ServiceRuntime):
    signer = ReceiptSigner.load_or_create(rt.settings.data_dir / "intake-receipt.key")
    return api.router(rt, signer)


SPEC = ServiceSpec(
    name="intake",
    description="Receives signed submissions, issues signed receipts (delivery time = clause 10), "
    "and shows each submission's timeline.",
    migrations=MIGRATIONS,
    consumers=lambda _rt: handlers.CONSUMERS,
    router=router,
    uses_object_store=True,
)


def _engine():
    """Intake's database as the service sees it (same UISE_* variables), migrated."""
    from uise_common.db import database_url, make_engine, migrate
    from uise_common.service import COMMON_MIGRATION
    from uise_common.settings import Settings

    settings = Settings(service_name="intake")
    engine = make_engine(database_url(settings, "intake"), "intake")
    migrate(engine, [COMMON_MIGRATION, *MIGRATIONS])
    return engine


def manage(argv: list[str]) -> int:
    from sqlmodel import Session

    from uise_intake import keys
    from uise_intake.adapters import KnownParticipant

    p = argparse.ArgumentParser(prog="uise-intake", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("serve", help="run the service (the default)")
    issue = sub.add_parser("issue-key", help="issue an API key for a participant; the token is printed once")
    issue.add_argument("participant_id")
    issue.add_argument("--label")
    issue.add_argument("--json", action="store_true", help="print the key as JSON")
    revoke = sub.add_parser("revoke-key", help="revoke an API key by its key id")
    revoke.add_argument("key_id")
    listing = sub.add_parser("list-keys", help="list API keys (never their tokens)")
    listing.add_argument("participant_id", nargs="?")
    args = p.parse_args(argv)
    if args.command == "serve":
        run(SPEC)
        return 0
    engine = _engine()
    with Session(engine) as s:
        if args.command == "issue-key":
            issued = keys.issue(s, args.participant_id, args.label, "cli")
            known = s.get(KnownParticipant, args.participant_id) is not None
            s.commit()
            if args.json:
                print(json.dumps({"key_id": issued.key_id, "participant_id": issued.participant_id,
                                  "token": issued.token, "created_at": issued.created_at.isoformat()}))
            else:
                print(issued.token)
                print(f"key id {issued.key_id} for participant {issued.participant_id}; "
                      "the token is shown only now", file=sys.stderr)
            if not known:
                print(f"note: intake does not know participant {args.participant_id} (yet); its submissions "
                      "are refused as UNKNOWN_PARTICIPANT until the registry's event arrives", file=sys.stderr)
            return 0
        if args.command == "revoke-key":
            row = keys.revoke(s, args.key_id)
            s.commit()
            if row is None:
                print(f"no key {args.key_id}", file=sys.stderr)
                return 1
            print(f"revoked {row.key_id} of participant {row.participant_id}")
            return 0
        for row in keys.listing(s, args.participant_id):
            print(json.dumps(keys.public(row), ensure_ascii=False))
        return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv:
        run(SPEC)
        return 0
    return manage(argv)


if __name__ == "__main__":
    sys.exit(main())
