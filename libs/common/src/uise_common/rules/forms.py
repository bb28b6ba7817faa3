"""A form's rules compiled once (per form version) and judged against many documents.

    compiled = compile_form(form)            # RuleErrors if a rule does not parse or type-check
    findings = compiled.evaluate(values)     # values: {cell code: Decimal | str | date | None}

Each rule is one comparison `left OP right`, optionally guarded by `if COND then`. Per document:
the guard is computed; when it does not hold, or reads an empty cell (outside sum, min, max and
count, which skip empty cells), the rule does not apply. Then each side's missing-value strategy (DHIS2's) looks at the cells that side reads:
`skip_if_any_missing` skips the rule when any is empty, `skip_if_all_missing` when all are,
`never_skip` never (an empty cell counts as 0). A comparison that does not hold is a Finding with
the cells involved, their exact values, the relation as written and kk/ru/en messages showing the
two sides' values (`24 + 26 ≠ 51`).

A v1 rule (`left` equals the sum of `right`) is translated into the same tree, `left == r1 + r2 …`.
"""

from __future__ import annotations

import decimal
import hashlib
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from uise_common.rules import checker, grammar
from uise_common.rules.errors import RuleError, RuleErrors, error
from uise_common.rules.evaluator import (
    COMPARE,
    CONTEXT,
    NEGATED,
    DivisionByZero,
    Env,
    Unknown,
    compile_value,
    exact,
    show,
)
from uise_common.rules.nodes import Arith, Compare, Node, Num, Ref, RuleTree, cells_of
from uise_contracts.events import Finding, FormDefinition, FormRule

_RULE_CODE = re.compile(r"[A-Za-z][A-Za-z0-9_.\-]{0,63}")
_CACHE_SIZE = 256
MAX_RULES = 2000  # a form's rules are compiled when its list is drafted: the work stays bounded

# "cannot be checked" in three languages, for a rule whose arithmetic fails on this document
_CANNOT = {"en": "cannot be checked: {why}", "ru": "невозможно проверить: {why}", "kk": "тексеру мүмкін емес: {why}"}
_WHY = {"division": {"en": "division by zero", "ru": "деление на ноль", "kk": "нөлге бөлу"},
        "arithmetic": {"en": "the arithmetic overflows", "ru": "переполнение в вычислении",
                       "kk": "есептеуде толып кету"}}


@dataclass(frozen=True)
class Side:
    fn: Callable[[Env], object]
    node: Node
    cells: tuple[str, ...]
    strategy: str

    def skipped(self, env: Env) -> bool:
        if self.strategy == "never_skip" or not self.cells:
            return False
        if self.strategy == "skip_if_any_missing":
            return any(env[c] is None for c in self.cells)
        return all(env[c] is None for c in self.cells)


@dataclass(frozen=True)
class CompiledRule:
    code: str
    severity: str
    expected: str
    messages: dict[str, str]
    guard: Callable[[Env], object] | None
    guard_cells: tuple[str, ...]
    left: Side
    op: str
    right: Side
    cells: tuple[str, ...]

    def evaluate(self, env: Env) -> Finding | None:
        """The finding this rule raises on `env` (a prepared document), or None."""
        try:
            if self.guard is not None and not self.guard(env):
                return None
            if self.left.skipped(env) or self.right.skipped(env):
                return None
            if COMPARE[self.op](self.left.fn(env), self.right.fn(env)):
                return None
        except Unknown:
            return None
        except DivisionByZero as exc:
            return self._cannot(env, "division", exc.node)
        except ArithmeticError:
            return self._cannot(env, "arithmetic", None)
        relation = f"{show(self.left.node, env)} {NEGATED[self.op]} {show(self.right.node, env)}"
        return self._finding(env, {lang: f"{text}: {relation}" for lang, text in self.messages.items()})

    def _cannot(self, env: Env, why: str, node: Arith | None) -> Finding:
        where = f" ({show(node, env)})" if node is not None else ""
        return self._finding(env, {lang: f"{text}: {_CANNOT[lang].format(why=_WHY[why][lang])}{where}"
                                   for lang, text in self.messages.items()})

    def _finding(self, env: Env, messages: dict[str, str]) -> Finding:
        return Finding(rule=self.code, severity=self.severity, message=messages["en"],  # type: ignore[arg-type]
                       field=self.left.cells[0] if self.left.cells else (self.cells[0] if self.cells else None),
                       cells=list(self.cells), observed={c: exact(env[c]) for c in self.cells},
                       expected=self.expected, messages={k: messages[k] for k in ("kk", "ru", "en")})


@dataclass(frozen=True)
class CompiledForm:
    code: str
    version: int
    rules: tuple[CompiledRule, ...]
    types: dict[str, str]  # the type of every cell the rules read

    def prepare(self, values: Mapping[str, object]) -> dict[str, Decimal | str | date | None]:
        """The cells the rules read, each checked to be of its type: Decimal (or int) for a number,
        str for text, date for a date, None (or "") when empty. Anything else is a programming
        error of the caller (the document reader types every value) and raises TypeError; a
        float never passes, because it is not exact."""
        env: dict[str, Decimal | str | date | None] = {}
        for code, kind in self.types.items():
            v = values.get(code)
            if v is None or v == "":
                env[code] = None
            elif kind == "number" and isinstance(v, Decimal):
                if not v.is_finite():
                    raise ValueError(f"{code}: {v} is not a finite number")
                env[code] = v
            elif kind == "number" and isinstance(v, int) and not isinstance(v, bool):
                env[code] = Decimal(v)
            elif kind == "text" and isinstance(v, str):
                env[code] = v
            elif kind == "date" and isinstance(v, date):
                env[code] = v.date() if isinstance(v, datetime) else v
            else:
                raise TypeError(f"{code}: a {kind} cell got {type(v).__name__} {v!r}")
        return env

    def evaluate(self, values: Mapping[str, object]) -> list[Finding]:
        """Every finding of the form's rules on one document, in the rules' order."""
        env = self.prepare(values)
        with decimal.localcontext(CONTEXT):
            return [f for rule in self.rules if (f := rule.evaluate(env)) is not None]


# --- compiling -----------------------------------------------------------------------------


def compile_rule(rule: FormRule, cells: checker.Cells, require_translations: bool = False) -> CompiledRule:
    """One rule, parsed and checked against the form's cells; RuleError names what is wrong."""
    if not _RULE_CODE.fullmatch(rule.code):
        raise error("code_invalid", code=rule.code[:70])
    if rule.expr is not None and (rule.left is not None or rule.right):
        raise error("ambiguous")
    if rule.expr is not None:
        tree = checker.check(grammar.parse(rule.expr), cells)
        expected = rule.expr
        if require_translations and not (rule.message_kk and rule.message_ru):
            raise error("message_missing")
    elif rule.left is not None:
        tree, expected = _v1_tree(rule, cells)
    else:
        raise error("empty")
    assert isinstance(tree.body, Compare)
    body = tree.body
    left = Side(compile_value(body.left), body.left, cells_of(body.left), rule.missing_left)
    right = Side(compile_value(body.right), body.right, cells_of(body.right), rule.missing_right)
    guard_cells = cells_of(tree.guard) if tree.guard is not None else ()
    return CompiledRule(
        code=rule.code, severity=rule.severity, expected=expected,
        messages={"en": rule.message, "ru": rule.message_ru or rule.message, "kk": rule.message_kk or rule.message},
        guard=compile_value(tree.guard, guard=True) if tree.guard is not None else None, guard_cells=guard_cells,
        left=left, op=body.op, right=right, cells=tuple(dict.fromkeys(guard_cells + left.cells + right.cells)))


def _v1_tree(rule: FormRule, cells: checker.Cells) -> tuple[RuleTree, str]:
    """`left` == the sum of `right`, built as a tree (not as text, so any cell code works). Each
    reference gets column = its place (0 for left, i + 1 for right[i]) to name it in an error."""
    assert rule.left is not None
    left: Node = Ref(0, 0, text=rule.left)
    parts: list[Node] = [Ref(0, i + 1, text=code) for i, code in enumerate(rule.right)]
    total: Node = parts[0] if parts else Num(0, 0, value=Decimal(0), text="0")
    for part in parts[1:]:
        total = Arith(0, 0, op="+", left=total, right=part)
    tree = RuleTree(0, 0, guard=None, body=Compare(0, 0, op="==", left=left, right=total))
    try:
        checker.check(tree, cells)
    except RuleError as exc:
        exc.where = "left" if exc.column == 0 else f"right[{(exc.column or 1) - 1}]"
        exc.line = exc.column = None
        raise
    return tree, f"{rule.left} == {' + '.join(rule.right) or '0'}"


def check_form(form: FormDefinition, require_translations: bool = False) -> CompiledForm:
    """Compile every rule of `form`; RuleErrors lists each refused rule (its first problem), and
    repeated rule codes (explanations of queries are keyed by the rule's code)."""
    if len(form.rules) > MAX_RULES:
        too_many = error("too_many", limit=MAX_RULES, count=len(form.rules))
        too_many.form = form.code
        raise RuleErrors([too_many])
    cells = checker.Cells.of(form)
    compiled: list[CompiledRule] = []
    problems: list[RuleError] = []
    seen: set[str] = set()
    for rule in form.rules:
        try:
            if rule.code in seen:
                raise error("code_repeated", code=rule.code)
            seen.add(rule.code)
            compiled.append(compile_rule(rule, cells, require_translations))
        except RuleError as exc:
            exc.rule, exc.form = rule.code[:70], form.code
            problems.append(exc)
    if problems:
        raise RuleErrors(problems)
    used = dict.fromkeys(c for r in compiled for c in r.cells)
    return CompiledForm(form.code, form.version, tuple(compiled), {c: cells.types[c] for c in used})


_BY_IDENTITY: OrderedDict[int, tuple[FormDefinition, CompiledForm]] = OrderedDict()
_BY_CONTENT: OrderedDict[tuple[str, int, str], CompiledForm] = OrderedDict()
_LOCK = threading.Lock()  # a service may judge documents in worker threads


def compile_form(form: FormDefinition) -> CompiledForm:
    """`check_form`, cached: compiled once per form version and reused for every document. The
    same object is found by identity (the entry keeps it alive, so its id is not reused); an equal
    copy (the same form read again from an event) by its code, version and a digest of its cells
    and rules."""
    with _LOCK:
        hit = _BY_IDENTITY.get(id(form))
        if hit is not None and hit[0] is form:
            _BY_IDENTITY.move_to_end(id(form))
            return hit[1]
    digest = hashlib.sha256(form.model_dump_json(include={"fields", "sections", "rules"}).encode()).hexdigest()
    key = (form.code, form.version, digest)
    with _LOCK:
        compiled = _BY_CONTENT.get(key)
    if compiled is None:
        compiled = check_form(form)  # outside the lock: a refused form raises, nothing is kept
    with _LOCK:
        _BY_CONTENT[key] = compiled
        _BY_IDENTITY[id(form)] = (form, compiled)
        for cache in (_BY_CONTENT, _BY_IDENTITY):
            while len(cache) > _CACHE_SIZE:
                cache.popitem(last=False)
    return compiled
