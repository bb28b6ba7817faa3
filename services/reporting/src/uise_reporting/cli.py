"""`uise-reporting`: run the reporting service, or check its figures as ops.

    uise-reporting [serve]                          run the service (what `python -m uise_reporting` does)
    uise-reporting rebuild [--form CODE] [--period P]
                                                    recompute every node's figures from the kept
                                                    accepted submissions and compare them with the
                                                    live figures the API serves

The rebuild reads the service's own database (UISE_DATABASE_URL, else the SQLite file under
UISE_DATA_DIR, as the service does) and changes nothing. It prints one line per difference or
corrupt row and exits 1 when there is any, 0 when every node's figures agree, 2 for bad arguments
(docs/analytics.md, "Rebuild")."""

from __future__ import annotations

import argparse
import re
import sys
import time

from sqlmodel import Session

from uise_common.db import database_url, make_engine
from uise_common.inputs import FORM_CODE_PATTERN
from uise_common.periods import parse_period
from uise_common.settings import Settings
from uise_reporting import rebuild


def _form(text: str) -> str:
    if re.fullmatch(FORM_CODE_PATTERN, text):
        return text
    raise argparse.ArgumentTypeError(f"{text!r} is not a form code (capital letters, digits, hyphens), e.g. OSH-1")


def _period(text: str) -> str:
    try:
        parse_period(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a period, e.g. 2026 or 2026-Q3") from None
    return text


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="uise-reporting", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command")
    sub.add_parser("serve", help="run the service")
    r = sub.add_parser("rebuild", help="recompute every node's figures and compare them with the live ones")
    r.add_argument("--form", type=_form, help="only this form code")
    r.add_argument("--period", type=_period, help="only this period")
    return p


def run_rebuild(session: Session, form_code: str | None, period: str | None, out=None) -> int:
    out = out or sys.stdout
    started = time.perf_counter()
    outcome = rebuild.check(session, form_code, period)
    for problem in outcome.problems:
        print(problem.line(), file=out)
    took = time.perf_counter() - started
    verdict = "agree" if outcome.ok else f"{len(outcome.problems)} difference(s)"
    print(f"rebuilt {len(outcome.nodes)} node figure set(s) from {outcome.submissions} accepted submission(s) "
          f"in {took:.2f} s: {verdict}", file=out)
    return 0 if outcome.ok else 1


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command in (None, "serve"):
        from uise_reporting.entrypoint import main as serve

        serve()
        return 0
    settings = Settings(service_name="reporting")
    engine = make_engine(database_url(settings, "reporting"), "reporting")
    with Session(engine) as session:
        return run_rebuild(session, args.form, args.period)


if __name__ == "__main__":
    sys.exit(main())
