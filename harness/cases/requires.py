"""Capability expressions (`edev-list and not aggregator`): what a DUT must support for a case or step."""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from dataclasses import dataclass

_TOKEN = re.compile(r"\s*(\(|\)|[A-Za-z0-9_][A-Za-z0-9_.:-]*)")
_KEYWORDS = {"and", "or", "not"}


class RequiresSyntaxError(ValueError):
    """A capability expression that cannot be parsed."""


@dataclass(frozen=True)
class Requirement:
    """One parsed capability expression; evaluate it against a DUT's capabilities."""

    text: str
    tree: tuple

    def holds(self, capabilities: Collection[str]) -> bool:
        """Whether the capabilities satisfy the expression (an unknown capability is unsupported)."""
        return _evaluate(self.tree, capabilities.__contains__)

    def evaluate(self, truth: Callable[[str], bool]) -> bool:
        """The expression's value when each name is worth truth(name) (a step's `when:` over variables)."""
        return _evaluate(self.tree, truth)

    def names(self) -> list[str]:
        """Every name the expression uses, in order of appearance."""
        return _names(self.tree)


def _tokens(text: str) -> list[str]:
    tokens: list[str] = []
    position = 0
    while position < len(text):
        if text[position:].strip() == "":
            break
        match = _TOKEN.match(text, position)
        if not match:
            raise RequiresSyntaxError(f"{text!r}: unexpected {text[position:].strip()[:10]!r} at column {position + 1}")
        tokens.append(match.group(1))
        position = match.end()
    return tokens


def parse_requirement(text: str) -> Requirement:
    """Parse 'a and (b or not c)'; raise RequiresSyntaxError naming the problem."""
    tokens = _tokens(text)
    position = 0

    def peek() -> str | None:
        return tokens[position] if position < len(tokens) else None

    def take() -> str:
        nonlocal position
        token = peek()
        if token is None:
            raise RequiresSyntaxError(f"{text!r}: expression ends too early")
        position += 1
        return token

    def parse_or() -> tuple:
        node = parse_and()
        while peek() == "or":
            take()
            node = ("or", node, parse_and())
        return node

    def parse_and() -> tuple:
        node = parse_not()
        while peek() == "and":
            take()
            node = ("and", node, parse_not())
        return node

    def parse_not() -> tuple:
        if peek() == "not":
            take()
            return ("not", parse_not())
        token = take()
        if token == "(":
            node = parse_or()
            if take() != ")":
                raise RequiresSyntaxError(f"{text!r}: expected ')'")
            return node
        if token in _KEYWORDS or token == ")":
            raise RequiresSyntaxError(f"{text!r}: expected a capability name, saw {token!r}")
        return ("cap", token)

    if not tokens:
        raise RequiresSyntaxError("expected a capability expression, saw an empty string")
    tree = parse_or()
    if peek() is not None:
        raise RequiresSyntaxError(f"{text!r}: unexpected {peek()!r}")
    return Requirement(text=text, tree=tree)


def _evaluate(node: tuple, truth: Callable[[str], bool]) -> bool:
    kind = node[0]
    if kind == "cap":
        return truth(node[1])
    if kind == "not":
        return not _evaluate(node[1], truth)
    if kind == "and":
        return _evaluate(node[1], truth) and _evaluate(node[2], truth)
    return _evaluate(node[1], truth) or _evaluate(node[2], truth)


def _names(node: tuple) -> list[str]:
    if node[0] == "cap":
        return [node[1]]
    return [name for child in node[1:] for name in _names(child)]


def unmet(requirements: list[Requirement], capabilities: Collection[str]) -> list[str]:
    """The texts of the requirements that the capabilities do not satisfy."""
    return [r.text for r in requirements if not r.holds(capabilities)]
