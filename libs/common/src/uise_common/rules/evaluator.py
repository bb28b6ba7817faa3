"""A checked rule's expressions turned into Python closures once, then called per document: no
text is interpreted while a document is judged, and nothing is `eval`ed.

Values are exact: numbers are Decimal (+, -, * exact; / to 60 significant digits, enough for
any figure a form holds), text is str, dates are datetime.date. An empty cell reads as None;
where a single value is needed in a side it counts as 0 (a number) or "" (text), while sum, min,
max and count skip empty cells (min and max of no value count as 0). An empty date cannot be
assumed, nor can any empty cell read directly by a guard: the rule is skipped (`Unknown`). Division by zero raises `DivisionByZero`, which the rule turns
into a finding rather than a crash.
"""

from __future__ import annotations

import decimal
import operator
from collections.abc import Callable, Mapping
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

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
    Str,
)

Value = Decimal | str | date | bool | None
Env = Mapping[str, Decimal | str | date | None]
Fn = Callable[[Env], Value]

ZERO = Decimal(0)
# Exact for sums and products of figures of up to 30 digits; a quotient is cut at 60 digits.
CONTEXT = decimal.Context(prec=60, rounding=decimal.ROUND_HALF_EVEN, Emax=999_999, Emin=-999_999,
                          traps=[decimal.InvalidOperation, decimal.DivisionByZero, decimal.Overflow])

COMPARE: dict[str, Callable[[object, object], bool]] = {
    "==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}


class Unknown(Exception):  # noqa: N818 - a signal, not an error: the value cannot be known
    """An empty date (or min/max of no date) was needed: the rule cannot be judged."""


class DivisionByZero(Exception):  # noqa: N818 - the name says what happened, as Decimal's does
    def __init__(self, node: Arith) -> None:
        super().__init__("division by zero")
        self.node = node


def compile_value(node: Node, guard: bool = False) -> Fn:
    """A closure computing `node` where one value is needed: an empty cell counts as 0 or "" in a
    side; in a guard (`guard=True`) it makes the value unknown, so the rule does not apply."""
    match node:
        case Num(value=v) | DateLit(value=v):
            return lambda env: v
        case Str(value=s):
            return lambda env: s
        case Ref(cells=(code,)):
            if guard or node.type == "date":
                return _present_cell(code)
            if node.type == "number":
                return lambda env: ZERO if (x := env[code]) is None else x
            return lambda env: "" if (x := env[code]) is None else x
        case Neg(operand=x):
            f = compile_value(x, guard)
            return lambda env: -f(env)
        case Arith(op=op, left=a, right=b):
            return _arith(node, op, compile_value(a, guard), compile_value(b, guard))
        case Compare(op=op, left=a, right=b):
            cmp, fa, fb = COMPARE[op], compile_value(a, guard), compile_value(b, guard)
            return lambda env: cmp(fa(env), fb(env))
        case Logic(op="and", operands=xs):
            fs = [compile_value(x, guard) for x in xs]
            return lambda env: all(f(env) for f in fs)
        case Logic(op="or", operands=xs):
            fs = [compile_value(x, guard) for x in xs]
            return lambda env: any(f(env) for f in fs)
        case Not(operand=x):
            f = compile_value(x, guard)
            return lambda env: not f(env)
        case IfValue(cond=c, then=a, other=b):
            fc, fa, fb = compile_value(c, guard), compile_value(a, guard), compile_value(b, guard)
            return lambda env: fa(env) if fc(env) else fb(env)
        case Call():
            return _call(node, guard)
    raise AssertionError(f"cannot compile {node!r}")


def _present_cell(code: str) -> Fn:
    def read(env: Env) -> Value:
        x = env[code]
        if x is None:
            raise Unknown(code)
        return x
    return read


def _arith(node: Arith, op: str, fa: Fn, fb: Fn) -> Fn:
    if op == "+":
        return lambda env: fa(env) + fb(env)
    if op == "-":
        return lambda env: fa(env) - fb(env)
    if op == "*":
        return lambda env: fa(env) * fb(env)

    def divide(env: Env) -> Value:
        divisor = fb(env)
        if not divisor:
            raise DivisionByZero(node)
        return fa(env) / divisor
    return divide


def _raw_items(args: list[Node], guard: bool) -> Callable[[Env], list[Value]]:
    """The values an aggregate reads: each cell as it is (None when empty), each other argument
    computed."""
    plan: list[tuple[str, object]] = []
    for a in args:
        if isinstance(a, Ref):
            plan.extend(("cell", c) for c in a.cells)
        else:
            plan.append(("value", compile_value(a, guard)))
    if all(kind == "cell" for kind, _ in plan):
        codes = [c for _, c in plan]
        return lambda env: [env[c] for c in codes]
    return lambda env: [env[x] if kind == "cell" else x(env) for kind, x in plan]  # type: ignore[index,operator]


def _call(node: Call, guard: bool) -> Fn:
    name, args = node.name, node.args
    if name == "date":
        day = args[0].value  # type: ignore[attr-defined]  # the checker made it a DateLit
        return lambda env: day
    if name == "abs":
        f = compile_value(args[0], guard)
        return lambda env: abs(f(env))
    if name == "round":
        f = compile_value(args[0], guard)
        places = int(args[1].value) if len(args) == 2 else 0  # type: ignore[attr-defined]
        quantum = Decimal(1).scaleb(-places)
        # half up, as accountants round (Decimal's default, half even, is the banker's rule)
        return lambda env: f(env).quantize(quantum, rounding=ROUND_HALF_UP)
    items = _raw_items(args, guard)
    if name == "sum":
        return lambda env: sum((x for x in items(env) if x is not None), ZERO)
    if name == "count":
        return lambda env: Decimal(sum(1 for x in items(env) if x is not None))
    pick = min if name == "min" else max
    if node.type == "date":
        def extreme_date(env: Env) -> Value:
            present = [x for x in items(env) if x is not None]
            if not present:
                raise Unknown(name)
            return pick(present)
        return extreme_date
    return lambda env: pick((x for x in items(env) if x is not None), default=ZERO)


# --- showing a side with the values it was computed from ------------------------------------

_PRECEDENCE = {"+": 1, "-": 1, "*": 2, "/": 2}
_SHOWN_OP = {"+": "+", "-": "−", "*": "×", "/": "/"}
NEGATED = {"==": "≠", "!=": "=", "<": "≥", "<=": ">", ">": "≤", ">=": "<"}


def exact(value: object) -> str | None:
    """A value as an exact string: 0.30 stays 0.30, 1E+2 is written 100, a date as YYYY-MM-DD."""
    if value is None:
        return None
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


_SHOWN_PLACES = Decimal("1e-10")


def _shown(value: Value, computed: bool = False) -> str:
    """A cell's value exactly; a computed one (a quotient) to at most 10 decimal places."""
    if value is None:
        return "—"
    if isinstance(value, str):
        return f'"{value}"'
    if computed and isinstance(value, Decimal) and value.as_tuple().exponent < -10:  # type: ignore[operator]
        value = value.quantize(_SHOWN_PLACES, rounding=ROUND_HALF_UP).normalize()
    return exact(value) or ""


def show(node: Node, env: Env) -> str:
    """`pupils.total.girls + pupils.total.boys` as `24 + 26`: cells by their values (an empty one
    as —), aggregates and functions by what they came to, arithmetic kept as written."""
    match node:
        case Num(text=t):
            return t
        case Ref(cells=(code,)) if not node.wildcard:
            return _shown(env[code])
        case Neg(operand=x):
            inner = show(x, env)
            return f"−({inner})" if isinstance(x, Arith) else f"−{inner}"
        case Arith(op=op, left=a, right=b):
            left, right = show(a, env), show(b, env)
            if isinstance(a, Arith) and _PRECEDENCE[a.op] < _PRECEDENCE[op]:
                left = f"({left})"
            if isinstance(b, Arith) and (_PRECEDENCE[b.op] < _PRECEDENCE[op]
                                         or (_PRECEDENCE[b.op] == _PRECEDENCE[op] and op in "-/")):
                right = f"({right})"
            return f"{left} {_SHOWN_OP[op]} {right}"
    try:
        return _shown(compile_value(node)(env), computed=True)
    except (Unknown, DivisionByZero, ArithmeticError):
        return "?"
