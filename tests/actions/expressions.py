"""The small part of the GitHub Actions expression language that the kit's actions use.

Enough to run an action's own steps outside GitHub: `inputs.*`, `github.*`, `env.*`,
`steps.<id>.outputs.*`, string and number literals, `== != ! && || ( )` with GitHub's rules
(strings compare case-insensitively; `a && b || c` yields a value), and the status functions.
Anything else raises ExpressionError, so a construct the harness cannot evaluate fails the test
instead of being guessed.
"""

from __future__ import annotations

import re
from collections.abc import Callable

TOKEN = re.compile(
    r"\s*(?:(?P<string>'(?:[^']|'')*')|(?P<number>-?\d+(?:\.\d+)?)"
    r"|(?P<op>==|!=|&&|\|\||!|\(|\))|(?P<name>[A-Za-z_][A-Za-z0-9_.-]*))"
)
TEMPLATE = re.compile(r"\$\{\{(.*?)\}\}", re.DOTALL)
CONTEXTS = ("inputs", "github", "env", "steps")
STATUS_FUNCTIONS = ("always", "success", "failure", "cancelled")


class ExpressionError(ValueError):
    """An expression outside the supported subset, or a reference to nothing."""


def tokenize(text: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    position = 0
    while position < len(text.rstrip()):
        match = TOKEN.match(text, position)
        if not match or match.end() == position or match.lastgroup is None:
            raise ExpressionError(f"cannot read {text[position:]!r} in {text!r}")
        kind = match.lastgroup
        tokens.append((kind, match.group(kind)))
        position = match.end()
    return tokens


def truthy(value: object) -> bool:
    return value not in (None, False, 0, "")


def equal(left: object, right: object) -> bool:
    if isinstance(left, str) and isinstance(right, str):
        return left.casefold() == right.casefold()
    return left == right


class Parser:
    """Recursive descent over: or := and ('||' and)*; and := unary ('&&' unary)*; ..."""

    def __init__(self, text: str, lookup: Callable[[str], object], status: str) -> None:
        self.text, self.lookup, self.status = text, lookup, status
        self.tokens, self.index = tokenize(text), 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def take(self, value: str | None = None) -> tuple[str, str]:
        token = self.peek()
        if token is None or (value is not None and token[1] != value):
            raise ExpressionError(f"expected {value or 'more'} in {self.text!r}")
        self.index += 1
        return token

    def parse(self) -> object:
        value = self.either()
        extra = self.peek()
        if extra is not None:
            raise ExpressionError(f"unexpected {extra[1]!r} in {self.text!r}")
        return value

    def either(self) -> object:
        value = self.both()
        while self.peek() == ("op", "||"):
            self.take()
            right = self.both()
            value = value if truthy(value) else right
        return value

    def both(self) -> object:
        value = self.comparison()
        while self.peek() == ("op", "&&"):
            self.take()
            right = self.comparison()
            value = right if truthy(value) else value
        return value

    def comparison(self) -> object:
        value = self.unary()
        while self.peek() in (("op", "=="), ("op", "!=")):
            operator = self.take()[1]
            same = equal(value, self.unary())
            value = same if operator == "==" else not same
        return value

    def unary(self) -> object:
        if self.peek() == ("op", "!"):
            self.take()
            return not truthy(self.unary())
        if self.peek() == ("op", "("):
            self.take()
            value = self.either()
            self.take(")")
            return value
        kind, text = self.take()
        if kind == "string":
            return text[1:-1].replace("''", "'")
        if kind == "number":
            return float(text) if "." in text else int(text)
        if kind == "name":
            return self.name(text)
        raise ExpressionError(f"unexpected {text!r} in {self.text!r}")

    def name(self, text: str) -> object:
        if text in ("true", "false"):
            return text == "true"
        if text == "null":
            return None
        if self.peek() == ("op", "("):
            if text not in STATUS_FUNCTIONS:
                raise ExpressionError(f"function {text}() is not supported by the harness")
            self.take()
            self.take(")")
            return {"always": True, "success": self.status == "success"}.get(
                text, self.status == text
            )
        return self.lookup(text)


def evaluate(text: str, lookup: Callable[[str], object], status: str = "success") -> object:
    return Parser(text, lookup, status).parse()


def as_string(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def substitute(text: str, lookup: Callable[[str], object]) -> str:
    """Replace every `${{ expr }}` in a string value (env, with, outputs) by its result."""
    return TEMPLATE.sub(lambda match: as_string(evaluate(match.group(1), lookup)), text)


def condition(text: str, lookup: Callable[[str], object], status: str) -> bool:
    """A step's `if:`; without a status function GitHub reads it as `success() && (...)`."""
    inner = text.strip()
    whole = TEMPLATE.fullmatch(inner)
    inner = whole.group(1) if whole else inner
    if not any(re.search(rf"\b{name}\(", inner) for name in STATUS_FUNCTIONS):
        inner = f"success() && ({inner})"
    return truthy(evaluate(inner, lookup, status))


def context_lookup(contexts: dict[str, dict]) -> Callable[[str], object]:
    """Resolve a dotted name against the contexts; a missing context or step is an error."""

    def lookup(dotted: str) -> object:
        root, *path = dotted.split(".")
        if root not in CONTEXTS or root not in contexts:
            raise ExpressionError(f"context {root!r} is not supported by the harness ({dotted})")
        if root in ("steps", "inputs") and (not path or path[0] not in contexts[root]):
            raise ExpressionError(f"{dotted}: no such {root[:-1]} in this action")
        value: object = contexts[root]
        for part in path:
            value = value.get(part) if isinstance(value, dict) else None
        return value

    return lookup
