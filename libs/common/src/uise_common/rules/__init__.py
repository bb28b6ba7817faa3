"""The validation rule language (docs/validation.md, "Rules"): assertions over a form's cells,
parsed and type-checked when the form is defined, evaluated over exact values per document.

    from uise_common.rules import compile_form, check_form, RuleErrors

    compiled = compile_form(form)          # cached per form version; RuleErrors if a rule is bad
    findings = compiled.evaluate(values)   # {cell: Decimal | str | date | None} -> [Finding]

Modules: `grammar` (the parser, on lark), `nodes` (the syntax tree), `checker` (types and cells),
`evaluator` (closures over exact values), `forms` (a form's rules, missing-value strategies,
findings, the cache), `errors` (reason codes and kk/ru/en messages).
"""

from uise_common.rules.errors import RuleError, RuleErrors
from uise_common.rules.forms import (
    CompiledForm,
    CompiledRule,
    check_form,
    compile_form,
    compile_rule,
)

__all__ = ["CompiledForm", "CompiledRule", "RuleError", "RuleErrors", "check_form", "compile_form", "compile_rule"]
