"""The rule language's syntax tree. The parser builds it from a rule's text (or from a v1 rule's
`left`/`right`); the type checker fills in `type` and, on references, the cells they name."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Literal

Type = Literal["number", "text", "date", "bool"]

# Comparison operators as written, and the Unicode aliases a person may copy from a message.
COMPARISONS = ("==", "!=", "<", "<=", ">", ">=")
ALIASES = {"≠": "!=", "≤": "<=", "≥": ">="}


@dataclass(eq=False)
class Node:
    line: int
    column: int
    type: Type | None = field(default=None, init=False)


@dataclass(eq=False)
class Num(Node):
    value: Decimal
    text: str


@dataclass(eq=False)
class Str(Node):
    value: str


@dataclass(eq=False)
class DateLit(Node):
    value: date


@dataclass(eq=False)
class Ref(Node):
    """A cell (`teachers`, `pupils.g01.total`) or, with `*` in a row or column, several: `*`
    is any, `g*` any code that starts with `g`. The checker fills `cells`, in the form's order."""

    text: str
    cells: tuple[str, ...] = field(default=(), init=False)
    wildcard: bool = field(default=False, init=False)


@dataclass(eq=False)
class Call(Node):
    name: str
    args: list[Node]


@dataclass(eq=False)
class IfValue(Node):
    """`if(cond, a, b)`: a when cond holds, else b."""

    cond: Node
    then: Node
    other: Node


@dataclass(eq=False)
class Arith(Node):
    op: Literal["+", "-", "*", "/"]
    left: Node
    right: Node


@dataclass(eq=False)
class Neg(Node):
    operand: Node


@dataclass(eq=False)
class Compare(Node):
    op: str
    left: Node
    right: Node


@dataclass(eq=False)
class Logic(Node):
    op: Literal["and", "or"]
    operands: list[Node]


@dataclass(eq=False)
class Not(Node):
    operand: Node


@dataclass(eq=False)
class RuleTree(Node):
    """The whole rule: an optional guard (`if … then`) and the body, which the checker requires to
    be one comparison."""

    guard: Node | None
    body: Node


def children(node: Node) -> list[Node]:
    match node:
        case Call(args=args):
            return list(args)
        case IfValue(cond=c, then=t, other=o):
            return [c, t, o]
        case Arith(left=a, right=b) | Compare(left=a, right=b):
            return [a, b]
        case Neg(operand=x) | Not(operand=x):
            return [x]
        case Logic(operands=xs):
            return list(xs)
        case RuleTree(guard=g, body=b):
            return [b] if g is None else [g, b]
    return []


def refs(node: Node) -> list[Ref]:
    """Every reference under `node`, left to right."""
    out: list[Ref] = []
    stack = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, Ref):
            out.append(n)
        stack.extend(reversed(children(n)))
    return out


def cells_of(node: Node) -> tuple[str, ...]:
    """The cells `node` reads, each once, in the order first read."""
    return tuple(dict.fromkeys(c for r in refs(node) for c in r.cells))
