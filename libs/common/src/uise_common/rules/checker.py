"""Type checking a rule against its form: every reference names cells the form has, every
operator gets the types it works on, and the rule is one comparison (optionally guarded), so a
rule that passes here cannot fail for a reason of its own text when a document is judged.

Types: integer and decimal cells are numbers, text and enumeration cells are text, date cells
dates; comparisons and and/or/not are conditions.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from datetime import date

from uise_common.rules.errors import RuleError, did_you_mean, error
from uise_common.rules.nodes import (
    Arith,
    Call,
    Compare,
    DateLit,
    IfValue,
    Logic,
    Neg,
    Node,
    Not,
    Num,
    Ref,
    RuleTree,
    Str,
    Type,
)
from uise_contracts.events import FieldType, FormDefinition

AGGREGATES = ("sum", "min", "max", "count")
FUNCTIONS = ("sum", "min", "max", "count", "abs", "round", "if", "date")
MAX_ROUND_PLACES = 10
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")

_CELL_TYPES: dict[FieldType, Type] = {FieldType.integer: "number", FieldType.decimal: "number",
                                      FieldType.text: "text", FieldType.enumeration: "text",
                                      FieldType.date: "date"}


@dataclass(frozen=True)
class Cells:
    """What the checker needs of a form: each cell's type and options, in the form's order."""

    types: dict[str, Type]
    options: dict[str, tuple[str, ...]]
    parts: tuple[tuple[str, tuple[str, ...]], ...]

    @classmethod
    def of(cls, form: FormDefinition) -> Cells:
        cells = form.cells()
        return cls(types={c.code: _CELL_TYPES[c.type] for c in cells},
                   options={c.code: tuple(c.options) for c in cells if c.type == FieldType.enumeration},
                   parts=tuple((c.code, tuple(c.code.split("."))) for c in cells))


def check(tree: RuleTree, cells: Cells) -> RuleTree:
    """Fill in types and cells, or raise the first RuleError found (left to right)."""
    if tree.guard is not None:
        _expect_condition(_check(tree.guard, cells), tree.guard)
    if not isinstance(tree.body, Compare):
        raise error("not_comparison", tree.body.line, tree.body.column)
    _check(tree.body, cells)
    return tree


def _expect_condition(t: Type | None, node: Node) -> None:
    if t != "bool":
        raise error("condition_type", node.line, node.column, got=t or "number")


def _check(node: Node, cells: Cells, in_aggregate: bool = False) -> Type | None:
    node.type = _infer(node, cells, in_aggregate)
    return node.type


def _infer(node: Node, cells: Cells, in_aggregate: bool) -> Type | None:  # noqa: C901 - one case per node kind
    match node:
        case Num():
            return "number"
        case Str():
            return "text"
        case DateLit():
            return "date"
        case Ref():
            return _resolve(node, cells, in_aggregate)
        case Neg(operand=x):
            t = _check(x, cells)
            if t != "number":
                raise error("arith_types", node.line, node.column, op="-", got=t or "text")
            return "number"
        case Arith(op=op, left=a, right=b):
            for side in (a, b):
                t = _check(side, cells)
                if t != "number":
                    raise error("arith_types", node.line, node.column, op=op, got=t or "text")
            if op == "/" and isinstance(b, Num) and b.value == 0:
                raise error("division_by_zero", node.line, node.column)
            return "number"
        case Compare(op=op, left=a, right=b):
            ta, tb = _check(a, cells), _check(b, cells)
            if ta == "bool" or tb == "bool" or ta != tb:
                raise error("compare_types", node.line, node.column, left=ta or "text", right=tb or "text")
            if ta == "text" and op not in ("==", "!="):
                raise error("text_order", node.line, node.column, op=op)
            _check_option(a, b, cells)
            _check_option(b, a, cells)
            return "bool"
        case Logic(operands=xs):
            for x in xs:
                _expect_condition(_check(x, cells), x)
            return "bool"
        case Not(operand=x):
            _expect_condition(_check(x, cells), x)
            return "bool"
        case IfValue(cond=c, then=a, other=b):
            _expect_condition(_check(c, cells), c)
            ta, tb = _check(a, cells), _check(b, cells)
            if ta != tb or ta == "bool":
                raise error("branch_types", node.line, node.column, left=ta or "text", right=tb or "text")
            return ta
        case Call():
            return _call(node, cells)
    raise AssertionError(f"unknown node {node!r}")


def _check_option(cell: Node, literal: Node, cells: Cells) -> None:
    """`heating_type == "gas"` against an enumeration without `gas` can never hold: refuse it."""
    if isinstance(cell, Ref) and not cell.wildcard and isinstance(literal, Str):
        options = cells.options.get(cell.cells[0])
        if options and literal.value not in options:
            guess = difflib.get_close_matches(literal.value, options, n=1, cutoff=0.5)
            raise error("unknown_option", literal.line, literal.column, value=f'"{literal.value}"',
                        cell=cell.text, options=", ".join(options),
                        **did_you_mean(f'"{guess[0]}"' if guess else None))


def _resolve(ref: Ref, cells: Cells, in_aggregate: bool) -> Type | None:
    parts = ref.text.split(".")
    if not any("*" in p for p in parts):
        if ref.text not in cells.types:
            raise error("unknown_cell", ref.line, ref.column, ref=ref.text, **did_you_mean(_suggest(ref.text, cells)))
        ref.cells = (ref.text,)
        return cells.types[ref.text]
    if not in_aggregate:
        raise error("wildcard_outside", ref.line, ref.column, ref=ref.text)
    ref.wildcard = True
    matched = tuple(code for code, cparts in cells.parts
                    if len(cparts) == len(parts) and all(_segment_matches(p, c) for p, c in zip(parts, cparts, strict=True)))
    if not matched:
        sections = sorted({cparts[0] for _, cparts in cells.parts if len(cparts) > 1})
        if parts[0] not in sections:
            guess = difflib.get_close_matches(parts[0], sections, n=1, cutoff=0.6)
            raise error("unknown_cell", ref.line, ref.column, ref=ref.text,
                        **did_you_mean(".".join([guess[0], *parts[1:]]) if guess else None))
        raise error("wildcard_empty", ref.line, ref.column, ref=ref.text)
    ref.cells = matched
    types = {cells.types[c] for c in matched}
    return types.pop() if len(types) == 1 else None  # None: cells of several types (count only)


def _suggest(text: str, cells: Cells) -> str | None:
    """The cell closest to a misspelt reference. Only the cells of the section it names (or, if
    the section itself is misspelt, of the closest section) are compared, so a form of many
    thousand cells costs no more than one of its sections."""
    section, dot, rest = text.partition(".")
    sections = sorted({cparts[0] for _, cparts in cells.parts if len(cparts) > 1})
    if dot and section not in sections:
        near = difflib.get_close_matches(section, sections, n=1, cutoff=0.6)
        section = near[0] if near else section
    if dot:
        candidates = [code for code, cparts in cells.parts if len(cparts) > 1 and cparts[0] == section]
    else:
        candidates = [code for code, cparts in cells.parts if len(cparts) == 1]
    guess = difflib.get_close_matches(f"{section}{dot}{rest}", candidates, n=1, cutoff=0.6)
    return guess[0] if guess else None


def _segment_matches(pattern: str, code: str) -> bool:
    if pattern == "*":
        return True
    if pattern.endswith("*"):
        return code.startswith(pattern[:-1])
    return pattern == code


def _call(node: Call, cells: Cells) -> Type | None:
    name, args = node.name, node.args
    if name not in FUNCTIONS or name == "if":  # `if` is a keyword: `if(` never reaches here
        guess = difflib.get_close_matches(name, FUNCTIONS, n=1, cutoff=0.6)
        raise error("unknown_function", node.line, node.column, name=name, known=", ".join(FUNCTIONS),
                    **did_you_mean(guess[0] if guess else None))
    if name == "date":
        return _date_literal(node)
    if name in AGGREGATES:
        if not args:
            raise error("arguments", node.line, node.column, name=name, takes="1+", count=0)
        types = [_check(a, cells, in_aggregate=True) for a in args]
        if name == "count":
            return "number"
        wanted: Type = "number" if name == "sum" else (types[0] or "number")
        if name != "sum" and wanted not in ("number", "date"):
            wanted = "number"
        for arg, t in zip(args, types, strict=True):
            if t != wanted:
                raise error("function_types", arg.line, arg.column, name=name, needs=wanted,
                            got=t or _first_other_type(arg, cells, wanted))
        return wanted
    if name == "abs":
        if len(args) != 1:
            raise error("arguments", node.line, node.column, name=name, takes=1, count=len(args))
        _expect_number(name, args[0], cells)
        return "number"
    # round(x) or round(x, places), places a literal whole number: a computed number of places
    # would let a document choose how much work rounding is
    if len(args) not in (1, 2):
        raise error("arguments", node.line, node.column, name=name, takes="1–2", count=len(args))
    _expect_number(name, args[0], cells)
    if len(args) == 2:
        places = args[1]
        if not (isinstance(places, Num) and places.value == places.value.to_integral_value()
                and 0 <= places.value <= MAX_ROUND_PLACES and "." not in places.text):
            raise error("round_places", places.line, places.column, limit=MAX_ROUND_PLACES)
        places.type = "number"
    return "number"


def _first_other_type(arg: Node, cells: Cells, wanted: Type) -> Type:
    if isinstance(arg, Ref):
        for c in arg.cells:
            if cells.types[c] != wanted:
                return cells.types[c]
    return "text"


def _expect_number(name: str, arg: Node, cells: Cells) -> None:
    t = _check(arg, cells)
    if t != "number":
        raise error("function_types", arg.line, arg.column, name=name, needs="number", got=t or "text")


def _date_literal(node: Call) -> Type:
    args = node.args
    if len(args) != 1 or not isinstance(args[0], Str):
        raise error("date_invalid", node.line, node.column)
    text = args[0].value
    try:
        if not _ISO_DATE.fullmatch(text):
            raise ValueError(text)
        day = date.fromisoformat(text)
    except ValueError:
        raise error("date_invalid", args[0].line, args[0].column) from None
    # the checker replaces the call by the literal it stands for: nothing is parsed per document
    node.args = [DateLit(node.line, node.column, value=day)]
    node.args[0].type = "date"
    return "date"


__all__ = ["AGGREGATES", "FUNCTIONS", "Cells", "RuleError", "check"]
