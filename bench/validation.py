"""How fast validation judges OSH-1, beside merely reading the same documents, in one run.

    .venv/bin/python bench/validation.py [--documents 200] [--rounds 5]

The documents are plausible OSH-1s (the catalogue's example with every head count varied), as
XLSX filled in from the template and as JSON. For each format the rounds alternate between
reading only (uise_validation.reading.read) and reading plus judging (the form's rules, outliers
against a short history, explanations: domain.judge), so machine noise hits both alike. Prints
documents per second for each, the ratio, and the rules evaluated per second."""

from __future__ import annotations

import argparse
import io
import json
import random
import statistics
import time
from decimal import Decimal

import openpyxl

from uise_common.rules import compile_form
from uise_common.workbook import build_template, layout
from uise_registry.catalog import CATALOG, example_values
from uise_validation.domain import Context, check_identity, judge
from uise_validation.reading import JSON, XLSX, read

FORM = next(f for f in CATALOG if f.code == "OSH-1")
SCHOOL = "220440000019"


def documents(n: int) -> list[dict]:
    rng = random.Random(7)
    base = example_values("OSH-1")
    out = []
    for _ in range(n):
        k = Decimal(rng.randint(80, 120)) / 100
        out.append({c: (int(v * k) if isinstance(v, Decimal) and v == v.to_integral() and v > 20 else v)
                    for c, v in base.items()})
    return out


def as_json(values: dict) -> bytes:
    return json.dumps({c: (int(v) if isinstance(v, Decimal) and v == v.to_integral() else
                           str(v) if isinstance(v, Decimal) else v.isoformat() if hasattr(v, "isoformat") else v)
                       for c, v in values.items() if v is not None}, ensure_ascii=False).encode()


def as_xlsx(values: dict, template: bytes) -> bytes:
    wb = openpyxl.load_workbook(io.BytesIO(template))
    for p in layout(FORM).inputs:
        v = values.get(p.code)
        if v is not None and p.field is not None:
            wb[p.sheet].cell(p.row, p.column, value=int(v) if isinstance(v, Decimal) and v == v.to_integral()
                             else float(v) if isinstance(v, Decimal) else v)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--documents", type=int, default=200)
    p.add_argument("--rounds", type=int, default=5)
    args = p.parse_args()
    compiled = compile_form(FORM)
    template = build_template(FORM, participant_bin=SCHOOL, period="2026")
    docs = documents(args.documents)
    formats = {"JSON": (JSON, [as_json(d) for d in docs]), "XLSX": (XLSX, [as_xlsx(d, template) for d in docs])}
    context = Context(history={c: [("2025", v)] for c, v in docs[0].items() if isinstance(v, Decimal)})
    print(f"OSH-1: {len(compiled.rules)} rules, {len(FORM.cells())} cells; {args.documents} documents a round, "
          f"{args.rounds} rounds")
    for name, (media, blobs) in formats.items():
        read_only, judged = [], []
        for _ in range(args.rounds):
            started = time.perf_counter()
            for blob in blobs:
                read(blob, media, FORM)
            read_only.append(time.perf_counter() - started)
            started = time.perf_counter()
            for blob in blobs:
                doc = read(blob, media, FORM)
                judge(FORM, doc, check_identity(doc, FORM.code, "2026", SCHOOL), context, {})
            judged.append(time.perf_counter() - started)
        r, j = statistics.median(read_only), statistics.median(judged)
        rules_time = max(j - r, 1e-9)
        print(f"{name:5} read only {args.documents / r:8.0f} docs/s   read + judge {args.documents / j:8.0f} docs/s   "
              f"ratio {j / r:4.2f}   rules (with outliers) {len(compiled.rules) * args.documents / rules_time:8.0f}/s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
