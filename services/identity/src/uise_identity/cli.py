"""`uise-identity`: run the identity service, or act on its database as ops.

    uise-identity [serve]                       run the service (what `python -m uise_identity` does)
    uise-identity bootstrap [--label L] [--json]
                                                the first data-office credential, printed once
    uise-identity create-client --role ROLE [--participant ID] [--scope S ...] [--label L] [--json]
    uise-identity revoke-client CLIENT_ID
    uise-identity list-clients
    uise-identity rotate-key                    a new token-signing key; the old one retires

The commands use the service's own settings (UISE_DATABASE_URL or the SQLite file under
UISE_DATA_DIR): run them where the service runs. A data-office or ops credential can only be made
here, never through the API.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime

from sqlmodel import Session

from uise_common import auth
from uise_common.db import database_url, make_engine, migrate
from uise_common.outbox import add_event
from uise_common.service import with_common
from uise_common.settings import Settings
from uise_identity import handlers, tokens
from uise_identity.adapters import MIGRATIONS
from uise_identity.domain import REASONS, Refused

OPS_CLIENT_ROLES = (auth.DATA_OFFICE, auth.OPS, auth.SYSTEM, auth.INTEGRATOR, auth.ANALYST)


def _engine(settings: Settings):
    engine = make_engine(database_url(settings, "identity"), "identity")
    migrate(engine, with_common(MIGRATIONS))
    return engine


def _print_client(made: handlers.NewClient, as_json: bool) -> None:
    answer = made.answer()
    if as_json:
        print(json.dumps(answer))
        return
    print(f"client_id:     {answer['client_id']}\nclient_secret: {answer['client_secret']}\n"
          f"role:          {answer['role']}  scopes: {' '.join(answer['scopes'])}\n"
          "The secret is shown this once; identity keeps only its SHA-256. Take a token with\n"
          "  POST /v1/oauth/token  grant_type=client_credentials (HTTP Basic client_id:client_secret)")


def cmd_create(settings: Settings, role: str, label: str, participant: str | None, scopes: list[str],
               as_json: bool) -> int:
    with Session(_engine(settings), expire_on_commit=False) as session:
        try:
            made = handlers.create_client(session, role, label, "ops (uise-identity)", participant, scopes,
                                          allowed_roles=OPS_CLIENT_ROLES)
        except Refused as exc:
            print(f"{exc.code}: {REASONS[exc.code][1]}", file=sys.stderr)
            return 2
        session.commit()
    _print_client(made, as_json)
    return 0


def cmd_revoke(settings: Settings, client_id: str) -> int:
    with Session(_engine(settings), expire_on_commit=False) as session:
        try:
            row, events = handlers.revoke_client(session, client_id, "ops (uise-identity)", datetime.now(UTC))
        except Refused as exc:
            print(f"{exc.code}: {REASONS[exc.code][1]}", file=sys.stderr)
            return 2
        for event in events:  # through the outbox: the running service relays it and lists the session
            add_event(session, event, "identity")
        session.commit()
    print(f"revoked {row.client_id} ({row.label})")
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="uise-identity", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command")
    sub.add_parser("serve")
    b = sub.add_parser("bootstrap", help="the first data-office credential")
    b.add_argument("--label", default="data office (bootstrap)")
    b.add_argument("--json", action="store_true")
    c = sub.add_parser("create-client")
    c.add_argument("--role", required=True, choices=OPS_CLIENT_ROLES)
    c.add_argument("--participant")
    c.add_argument("--scope", action="append", default=[])
    c.add_argument("--label", required=True)
    c.add_argument("--json", action="store_true")
    r = sub.add_parser("revoke-client")
    r.add_argument("client_id")
    sub.add_parser("list-clients")
    sub.add_parser("rotate-key")
    args = p.parse_args(argv)
    if args.command in (None, "serve"):
        from uise_identity.entrypoint import main as serve

        serve()
        return 0
    settings = Settings(service_name="identity")
    if args.command == "bootstrap":
        return cmd_create(settings, auth.DATA_OFFICE, args.label, None, [], args.json)
    if args.command == "create-client":
        return cmd_create(settings, args.role, args.label, args.participant, args.scope, args.json)
    if args.command == "revoke-client":
        return cmd_revoke(settings, args.client_id)
    if args.command == "list-clients":
        with Session(_engine(settings), expire_on_commit=False) as session:
            for row in handlers.list_clients(session):
                print(json.dumps(row))
        return 0
    with Session(_engine(settings), expire_on_commit=False) as session:
        row = tokens.rotate(session, settings.identity_key_passphrase)
        session.commit()
    print(f"new signing key {row.kid}; the previous key stays published until its tokens expire")
    return 0
