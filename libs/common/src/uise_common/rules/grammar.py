"""The rule language's grammar and parser: text in, a syntax tree (`nodes`) out, or a
RULE_SYNTAX error with the line and column.

Lark (MIT, pure Python, no dependencies) parses it with an LALR(1) table built once per
process: linear time, no backtracking, so a hostile rule cannot make parsing slow; its errors
carry the position and the tokens that would have fitted, which become the kk/ru/en message. A
rule's text is only ever parsed, never handed to `eval`.

    rule       := [ "if" condition "then" ] expr          (the checker wants one comparison)
    expr       := or ; or := and ("or" and)* ; and := not ("and" not)*
    not        := "not" not | comparison
    comparison := arith [ ("=="|"!="|"<"|"<="|">"|">="|"≠"|"≤"|"≥") arith ]
    arith      := term (("+"|"-") term)* ; term := factor (("*"|"/") factor)*
    factor     := "-" factor | atom
    atom       := NUMBER | STRING | REF | REF "(" args ")" | "if" "(" expr "," expr "," expr ")" | "(" expr ")"
"""

from __future__ import annotations

from decimal import Decimal

from lark import Lark, Token, Tree
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from uise_common.rules.errors import RuleError, error
from uise_common.rules.nodes import (
    ALIASES,
    Arith,
    Call,
    Compare,
    IfValue,
    Logic,
    Neg,
    Node,
    Not,
    Num,
    Ref,
    RuleTree,
    Str,
)

MAX_LENGTH = 2000
MAX_DEPTH = 40

# A reference is one token: a code, then `.segment`s. A segment is a code, `*`, or a prefix and
# `*` (`g*`) in a row position: the lookahead `(?=\.)` keeps `a.b*2` a product, not a wildcard.
# Digits are spelled [0-9]: `\d` would accept any script's digits.
_GRAMMAR = r"""
start: expr
     | IF expr THEN expr -> guarded

?expr: or_
?or_: and_ (OR and_)*
?and_: not_ (AND not_)*
?not_: NOT not_ -> not_
     | comparison
?comparison: arith (COMP arith)?
?arith: term ((PLUS | MINUS) term)*
?term: factor ((STAR | SLASH) factor)*
?factor: MINUS factor -> neg
       | atom
?atom: NUMBER -> number
     | STRING -> string
     | REF -> ref
     | REF LPAR [expr (COMMA expr)*] RPAR -> call
     | IF LPAR expr COMMA expr COMMA expr RPAR -> ifvalue
     | LPAR expr RPAR

IF: "if"
THEN: "then"
AND: "and"
OR: "or"
NOT: "not"
COMP: "==" | "!=" | "<=" | ">=" | "<" | ">" | "≠" | "≤" | "≥"
PLUS: "+"
MINUS: "-"
STAR: "*"
SLASH: "/"
LPAR: "("
RPAR: ")"
COMMA: ","
NUMBER: /[0-9]+(\.[0-9]+)?/
STRING: /"[^"\\\r\n]*"/
REF: /[A-Za-z_][A-Za-z0-9_]*(\.([A-Za-z0-9_]+\*(?=\.)|[A-Za-z0-9_]+|\*))*/

%ignore /[ \t\r\n]+/
"""

_PARSER = Lark(_GRAMMAR, parser="lalr", propagate_positions=True, maybe_placeholders=False)

# What a token is called in a syntax error: symbols as they are written, words in three languages.
_TOKEN_WORDS = {
    "NUMBER": ("a number", "число", "сан"),
    "STRING": ('a text in "quotes"', 'текст в "кавычках"', '"тырнақшадағы" мәтін'),
    "REF": ("a cell or a function", "ячейка или функция", "ұяшық немесе функция"),
    "$END": ("end of the rule", "конец правила", "ереже соңы"),
}
_TOKEN_SYMBOLS = {"IF": "if", "THEN": "then", "AND": "and", "OR": "or", "NOT": "not", "PLUS": "«+»",
                  "MINUS": "«-»", "STAR": "«*»", "SLASH": "«/»", "LPAR": "«(»", "RPAR": "«)»", "COMMA": "«,»",
                  "COMP": "«==» «!=» «<» «<=» «>» «>=»"}


def _describe_tokens(names: set[str]) -> dict[str, str]:
    out = {}
    for i, lang in enumerate(("en", "ru", "kk")):
        words = [_TOKEN_WORDS[n][i] for n in sorted(names) if n in _TOKEN_WORDS]
        symbols = [_TOKEN_SYMBOLS[n] for n in sorted(names) if n in _TOKEN_SYMBOLS]
        out[f"expected_{lang}"] = ", ".join(words + symbols) or "?"
    return out


def _found(text: str | None, kind: str | None) -> dict[str, str]:
    if kind == "$END" or text is None:
        return {f"found_{lang}": _TOKEN_WORDS["$END"][i] for i, lang in enumerate(("en", "ru", "kk"))}
    shown = text if len(text) <= 30 else text[:30] + "…"
    return {f"found_{lang}": f"«{shown}»" for lang in ("en", "ru", "kk")}


def _syntax_error(exc: UnexpectedInput, text: str) -> RuleError:
    if isinstance(exc, UnexpectedToken):
        tok = exc.token
        if tok.type == "$END":
            line, column = _end_position(text)
            return error("syntax", line, column, **_found(None, "$END"), **_describe_tokens(set(exc.expected)))
        return error("syntax", tok.line, tok.column, **_found(str(tok), tok.type),
                     **_describe_tokens(set(exc.expected)))
    if isinstance(exc, UnexpectedCharacters):
        return error("syntax", exc.line, exc.column, **_found(text[exc.pos_in_stream], None),
                     **_describe_tokens(set(exc.allowed or ())))
    if isinstance(exc, UnexpectedEOF):
        line, column = _end_position(text)
        return error("syntax", line, column, **_found(None, "$END"), **_describe_tokens(set(exc.expected)))
    return error("syntax", getattr(exc, "line", 1), getattr(exc, "column", 1), **_found(None, None),
                 **_describe_tokens(set()))


def _end_position(text: str) -> tuple[int, int]:
    lines = text.split("\n")
    return len(lines), len(lines[-1]) + 1


def parse(text: str) -> RuleTree:
    """The syntax tree of a rule's text; RuleError (RULE_SYNTAX, RULE_TOO_LONG, RULE_TOO_COMPLEX)
    with the position of what is wrong."""
    if len(text) > MAX_LENGTH:
        raise error("too_long", 1, MAX_LENGTH + 1, limit=MAX_LENGTH, length=len(text))
    if not text.strip():
        raise error("syntax", 1, 1, **_found(None, "$END"), **_describe_tokens({"REF", "NUMBER", "IF"}))
    try:
        tree = _PARSER.parse(text)
    except UnexpectedInput as exc:
        raise _syntax_error(exc, text) from None
    _check_depth(tree)
    return _rule(tree)


def _check_depth(tree: Tree) -> None:
    """Refuse deep nesting before the tree is walked recursively (here, by the checker and by the
    compiled rule): `((((…))))` or `- - - - x` is bounded by MAX_DEPTH, not by Python's stack."""
    stack = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            meta = node.meta
            raise error("too_complex", getattr(meta, "line", 1), getattr(meta, "column", 1), limit=MAX_DEPTH)
        stack.extend((c, depth + 1) for c in node.children if isinstance(c, Tree))


def _pos(item: Tree | Token) -> tuple[int, int]:
    if isinstance(item, Token):
        return item.line or 1, item.column or 1
    return getattr(item.meta, "line", 1), getattr(item.meta, "column", 1)


def _rule(tree: Tree) -> RuleTree:
    line, column = _pos(tree)
    if tree.data == "guarded":
        _if, guard, _then, body = tree.children
        return RuleTree(line, column, guard=_node(guard), body=_node(body))
    return RuleTree(line, column, guard=None, body=_node(tree.children[0]))


def _node(item: Tree | Token) -> Node:
    if isinstance(item, Token):  # a bare token only ever stands for itself inside the rules below
        raise AssertionError(f"unexpected token {item.type}")
    kids = item.children
    match item.data:
        case "number":
            tok = kids[0]
            return Num(*_pos(tok), value=Decimal(str(tok)), text=str(tok))
        case "string":
            tok = kids[0]
            return Str(*_pos(tok), value=str(tok)[1:-1])
        case "ref":
            tok = kids[0]
            return Ref(*_pos(tok), text=str(tok))
        case "call":
            name = kids[0]
            args = [_node(k) for k in kids[2:-1] if not (isinstance(k, Token) and k.type == "COMMA")]
            return Call(*_pos(name), name=str(name), args=args)
        case "ifvalue":
            cond, then, other = (_node(k) for k in kids if isinstance(k, Tree))
            return IfValue(*_pos(kids[0]), cond=cond, then=then, other=other)
        case "neg":
            return Neg(*_pos(kids[0]), operand=_node(kids[1]))
        case "not_":
            return Not(*_pos(kids[0]), operand=_node(kids[1]))
        case "comparison":
            left, op, right = kids
            return Compare(*_pos(op), op=ALIASES.get(str(op), str(op)), left=_node(left), right=_node(right))
        case "arith" | "term":
            # left-associative: a - b - c is (a - b) - c
            out = _node(kids[0])
            for i in range(1, len(kids), 2):
                op = kids[i]
                out = Arith(*_pos(op), op=str(op), left=out, right=_node(kids[i + 1]))  # type: ignore[arg-type]
            return out
        case "or_" | "and_":
            op = kids[1]
            operands = [_node(k) for k in kids if isinstance(k, Tree)]
            return Logic(*_pos(op), op=str(op), operands=operands)  # type: ignore[arg-type]
        case "atom" | "expr":  # parentheses
            inner = [k for k in kids if isinstance(k, Tree)]
            return _node(inner[0])
    raise AssertionError(f"unknown rule {item.data}")
