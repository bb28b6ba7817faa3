"""`uise-validate`: check a document on one's own machine before submitting it: the same reading
and rules validation applies (no history or peers: those live in the service).

    uise-validate SCH-1 2026 report.xlsx --form sch-1.json            # a saved form definition
    uise-validate OSH-1 2026 report.xlsx --registry http://127.0.0.1:8001  # the approved list's
    uise-validate OSH-1 2026 report.csv --registry … --lang kk --json

Exit codes: 0 nothing to say, 1 errors or queries found (listed), 2 the command itself is wrong."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from uise_contracts.events import FormDefinition
from uise_validation.domain import Context, check_identity, judge, read_document
from uise_validation.sniffing import media_type_of


def load_form(args: argparse.Namespace) -> FormDefinition:
    if args.form:
        return FormDefinition.model_validate_json(Path(args.form).read_text(encoding="utf-8"))
    import httpx

    year = int(args.period[:4])
    resp = httpx.get(f"{args.registry.rstrip('/')}/v1/forms/{args.form_code}", params={"year": year}, timeout=30)
    if resp.status_code != 200:
        raise ValueError(f"the registry has no form {args.form_code} for {year}: {resp.status_code} {resp.text[:200]}")
    return FormDefinition.model_validate(resp.json())


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="uise-validate", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("form_code")
    p.add_argument("period")
    p.add_argument("file")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--form", help="a saved form definition (JSON, as GET /v1/forms/{code} gives it)")
    source.add_argument("--registry", help="the registry's URL, to fetch the approved form")
    p.add_argument("--bin", help="your BIN, to check a template was filled for you")
    p.add_argument("--lang", choices=("kk", "ru", "en"), default="en")
    p.add_argument("--json", action="store_true", help="the findings as JSON")
    args = p.parse_args(argv)
    try:
        form = load_form(args)
        data = Path(args.file).read_bytes()
    except (OSError, ValueError) as exc:
        print(f"uise-validate: {exc}", file=sys.stderr)
        return 2
    if form.code != args.form_code:
        print(f"uise-validate: the definition is form {form.code}, not {args.form_code}", file=sys.stderr)
        return 2
    doc = read_document(data, media_type_of(data, args.file), form)
    identity = check_identity(doc, args.form_code, args.period, args.bin) if args.bin else []
    judgement = judge(form, doc, identity, Context(), {})
    if args.json:
        print(json.dumps([f.model_dump(mode="json") for f in judgement.findings], ensure_ascii=False, indent=2))
    else:
        for f in judgement.findings:
            kind = "ERROR" if f.severity == "error" else "QUERY"
            where = f" [{', '.join(f.cells)}]" if f.cells else ""
            print(f"{kind} {f.rule}{where}: {f.messages.get(args.lang, f.message)}")
        print("no errors, no queries" if not judgement.findings else
              f"{sum(f.severity == 'error' for f in judgement.findings)} error(s), "
              f"{len(judgement.open_queries)} query(ies) to explain")
    return 0 if not judgement.findings else 1


if __name__ == "__main__":
    sys.exit(main())
