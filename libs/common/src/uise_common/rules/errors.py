"""Why a rule is refused when its form is defined: a stable code, where in the rule's text (line
and column, 1-based), and a message in kk, ru and en.

Codes (docs/validation.md, "Rules"): RULE_SYNTAX, RULE_TOO_LONG, RULE_TOO_COMPLEX, RULE_TOO_MANY, RULE_EMPTY,
RULE_AMBIGUOUS, RULE_CODE_INVALID, RULE_CODE_REPEATED, RULE_MESSAGE_MISSING, RULE_UNKNOWN_CELL,
RULE_UNKNOWN_OPTION, RULE_UNKNOWN_FUNCTION, RULE_ARGUMENTS, RULE_WILDCARD_EMPTY,
RULE_WILDCARD_OUTSIDE_AGGREGATE, RULE_TYPE, RULE_NOT_COMPARISON, RULE_DATE_INVALID,
RULE_ROUND_PLACES, RULE_DIVISION_BY_ZERO.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Each message: the code it is reported under, then en, ru, kk templates (str.format fields).
_MESSAGES: dict[str, tuple[str, str, str, str]] = {
    "syntax": ("RULE_SYNTAX",
               "unexpected {found_en}; expected {expected_en}",
               "неожиданно {found_ru}; ожидалось: {expected_ru}",
               "күтпеген {found_kk}; күтілгені: {expected_kk}"),
    "too_long": ("RULE_TOO_LONG",
                 "a rule is at most {limit} characters, this one has {length}",
                 "правило не длиннее {limit} знаков, в этом {length}",
                 "ереже {limit} таңбадан аспауы тиіс, мұнда {length}"),
    "too_complex": ("RULE_TOO_COMPLEX",
                    "a rule nests at most {limit} levels deep",
                    "вложенность правила не глубже {limit} уровней",
                    "ереженің кірістірілу тереңдігі {limit} деңгейден аспауы тиіс"),
    "too_many": ("RULE_TOO_MANY",
                 "a form has at most {limit} rules, this one has {count}",
                 "в форме не больше {limit} правил, в этой {count}",
                 "нысанда {limit} ережеден аспауы тиіс, мұнда {count}"),
    "empty": ("RULE_EMPTY",
              "a rule needs `expr` (or, as in v1, `left` and `right`)",
              "правилу нужно выражение `expr` (или, как в v1, `left` и `right`)",
              "ережеге `expr` өрнегі (немесе v1 сияқты `left` пен `right`) қажет"),
    "ambiguous": ("RULE_AMBIGUOUS",
                  "a rule has either `expr` or v1's `left`/`right`, not both",
                  "у правила либо `expr`, либо `left`/`right` из v1, но не оба",
                  "ережеде не `expr`, не v1-дегі `left`/`right` болады, екеуі бірге емес"),
    "code_invalid": ("RULE_CODE_INVALID",
                     "rule code {code!r}: a Latin letter, then letters, digits, _ . -, up to 64",
                     "код правила {code!r}: латинская буква, затем буквы, цифры, _ . -, до 64 знаков",
                     "{code!r} ереже коды: латын әрпі, одан кейін әріптер, сандар, _ . -, 64 таңбаға дейін"),
    "code_repeated": ("RULE_CODE_REPEATED",
                      "rule code {code} appears more than once in the form",
                      "код правила {code} встречается в форме больше одного раза",
                      "{code} ереже коды нысанда бірнеше рет кездеседі"),
    "message_missing": ("RULE_MESSAGE_MISSING",
                        "the rule needs its message in Kazakh and Russian too (message_kk, message_ru)",
                        "правилу нужно сообщение также на казахском и русском (message_kk, message_ru)",
                        "ережеге қазақ және орыс тілдеріндегі хабарлама да қажет (message_kk, message_ru)"),
    "unknown_cell": ("RULE_UNKNOWN_CELL",
                     "the form has no cell {ref}{hint_en}",
                     "в форме нет ячейки {ref}{hint_ru}",
                     "нысанда {ref} ұяшығы жоқ{hint_kk}"),
    "unknown_option": ("RULE_UNKNOWN_OPTION",
                       "{value} is not an option of {cell} ({options}){hint_en}",
                       "{value} не входит в варианты {cell} ({options}){hint_ru}",
                       "{value} мәні {cell} нұсқаларына кірмейді ({options}){hint_kk}"),
    "unknown_function": ("RULE_UNKNOWN_FUNCTION",
                         "no function {name}; the functions are {known}{hint_en}",
                         "нет функции {name}; функции: {known}{hint_ru}",
                         "{name} функциясы жоқ; функциялар: {known}{hint_kk}"),
    "arguments": ("RULE_ARGUMENTS",
                  "{name} takes {takes} arguments, got {count}",
                  "функция {name} принимает аргументов: {takes}, передано {count}",
                  "{name} функциясының аргументтері: {takes}, берілгені {count}"),
    "wildcard_empty": ("RULE_WILDCARD_EMPTY",
                       "{ref} matches no cell of the form",
                       "{ref} не совпадает ни с одной ячейкой формы",
                       "{ref} нысанның бірде-бір ұяшығына сәйкес келмейді"),
    "wildcard_outside": ("RULE_WILDCARD_OUTSIDE_AGGREGATE",
                         "{ref}: a wildcard stands only inside sum, min, max or count",
                         "{ref}: шаблон * допустим только внутри sum, min, max или count",
                         "{ref}: * үлгісі тек sum, min, max немесе count ішінде жазылады"),
    "compare_types": ("RULE_TYPE",
                      "cannot compare {left} with {right}",
                      "нельзя сравнивать {left_ru_acc} с {right_ru_ins}",
                      "{left_kk_acc} {right_kk_ins} салыстыруға болмайды"),
    "arith_types": ("RULE_TYPE",
                    "arithmetic ({op}) needs numbers, got {got}",
                    "арифметике ({op}) нужны числа, а здесь {got_ru}",
                    "арифметикалық амалға ({op}) сандар қажет, мұнда {got_kk}"),
    "text_order": ("RULE_TYPE",
                   "text is compared only with == or !=, not {op}",
                   "текст сравнивается только через == или !=, не {op}",
                   "мәтін тек == немесе != арқылы салыстырылады, {op} емес"),
    "condition_type": ("RULE_TYPE",
                       "a condition must be true or false (a comparison), got {got}",
                       "условие должно быть истинным или ложным (сравнение), а здесь {got_ru}",
                       "шарт ақиқат не жалған (салыстыру) болуы тиіс, мұнда {got_kk}"),
    "function_types": ("RULE_TYPE",
                       "{name} needs {needs}, got {got}",
                       "функции {name} нужны {needs_ru}, а здесь {got_ru}",
                       "{name} функциясына {needs_kk} қажет, мұнда {got_kk}"),
    "branch_types": ("RULE_TYPE",
                     "both values of if() must be of one type, got {left} and {right}",
                     "оба значения if() должны быть одного типа, а здесь {left_ru} и {right_ru}",
                     "if() екі мәні бір типті болуы тиіс, мұнда {left_kk} және {right_kk}"),
    "not_comparison": ("RULE_NOT_COMPARISON",
                       "a rule is one comparison (a == b, a <= b, …), optionally after `if … then`",
                       "правило — одно сравнение (a == b, a <= b, …), возможно после `if … then`",
                       "ереже — бір салыстыру (a == b, a <= b, …), алдында `if … then` болуы мүмкін"),
    "date_invalid": ("RULE_DATE_INVALID",
                     "date() takes one date in quotes, written YYYY-MM-DD",
                     "date() принимает одну дату в кавычках в виде ГГГГ-ММ-ДД",
                     "date() тырнақшадағы ЖЖЖЖ-АА-КК түріндегі бір күнді қабылдайды"),
    "round_places": ("RULE_ROUND_PLACES",
                     "round's places are a whole number from 0 to {limit}, written as a number",
                     "число знаков round — целое число от 0 до {limit}, записанное числом",
                     "round таңбалар саны — 0-ден {limit}-ға дейінгі бүтін сан, санмен жазылады"),
    "division_by_zero": ("RULE_DIVISION_BY_ZERO",
                         "division by zero",
                         "деление на ноль",
                         "нөлге бөлу"),
}

# Type names as they read inside the three messages: en, then Russian nominative, accusative,
# instrumental, then Kazakh nominative, accusative, instrumental.
TYPE_NAMES = {
    "number": ("a number", "число", "число", "числом", "сан", "санды", "санмен"),
    "text": ("text", "текст", "текст", "текстом", "мәтін", "мәтінді", "мәтінмен"),
    "date": ("a date", "дата", "дату", "датой", "күн", "күнді", "күнмен"),
    "bool": ("a condition", "условие", "условие", "условием", "шарт", "шартты", "шартпен"),
}
_PLURAL = {"number": ("numbers", "числа", "сандар"), "text": ("text", "текст", "мәтін"),
           "date": ("dates", "даты", "күндер"), "bool": ("conditions", "условия", "шарттар")}



@dataclass(eq=False)
class RuleError(Exception):
    """One refused rule. `line`/`column` locate the problem in `expr` (None for a v1 rule, whose
    `where` names the part: `left` or `right[2]`)."""

    code: str
    messages: dict[str, str]
    rule: str | None = None
    line: int | None = None
    column: int | None = None
    where: str | None = None
    form: str | None = None

    def __str__(self) -> str:
        return self.describe("en")

    def describe(self, lang: str) -> str:
        """The message with who and where in front: `OSH-1 rule R7, line 1, column 12: …`."""
        words = {"en": ("rule", "line", "column"), "ru": ("правило", "строка", "позиция"),
                 "kk": ("ереже", "жол", "позиция")}[lang]
        head = " ".join(p for p in (self.form, f"{words[0]} {self.rule}" if self.rule else None) if p)
        place = ""
        if self.line is not None:
            place = f"{words[1]} {self.line}, {words[2]} {self.column}"
        elif self.where:
            place = self.where
        prefix = ", ".join(p for p in (head, place) if p)
        return f"{prefix}: {self.messages[lang]}" if prefix else self.messages[lang]

    def as_dict(self) -> dict:
        return {"code": self.code, "form": self.form, "rule": self.rule, "line": self.line,
                "column": self.column, "where": self.where,
                "message": {lang: self.describe(lang) for lang in ("kk", "ru", "en")}}


@dataclass(eq=False)
class RuleErrors(Exception):
    """Every refused rule of a form (one error per rule: the first found)."""

    errors: list[RuleError] = field(default_factory=list)

    def __str__(self) -> str:
        return "; ".join(str(e) for e in self.errors)


def error(kind: str, line: int | None = None, column: int | None = None, **args: object) -> RuleError:
    """A RuleError from the catalogue above; `args` fill the templates (type names are given as
    `left="number"` and expanded into each language here)."""
    code, en, ru, kk = _MESSAGES[kind]
    filled = dict(args)
    for key in ("left", "right", "got"):
        if key in args:
            (filled[key], filled[f"{key}_ru"], filled[f"{key}_ru_acc"], filled[f"{key}_ru_ins"],
             filled[f"{key}_kk"], filled[f"{key}_kk_acc"], filled[f"{key}_kk_ins"]) = TYPE_NAMES[str(args[key])]
    if "needs" in args:
        filled["needs"], filled["needs_ru"], filled["needs_kk"] = _PLURAL[str(args["needs"])]
    for lang in ("en", "ru", "kk"):
        filled.setdefault(f"hint_{lang}", "")
    return RuleError(code, {"en": en.format(**filled), "ru": ru.format(**filled), "kk": kk.format(**filled)},
                     line=line, column=column)


def did_you_mean(guess: str | None) -> dict[str, str]:
    """The `hint_*` arguments for a close match, or none."""
    if not guess:
        return {}
    return {"hint_en": f"; did you mean {guess}?", "hint_ru": f"; возможно, имелось в виду {guess}?",
            "hint_kk": f"; мүмкін, {guess} деп жазғыңыз келген шығар?"}
