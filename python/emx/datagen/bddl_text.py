"""Reading and writing the BDDL the generators handle: a tiny s-expression reader for goal
expressions (atoms and the categories they touch), and the problem-file writer in BEHAVIOR-1K's
layout (objects grouped by category, ``inroom`` facts in the init, the command kept as a comment).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

__all__ = ["Atom", "atoms_of", "parse_sexpr", "render_problem", "slug"]

_TOKEN = re.compile(r"\(|\)|[^\s()]+")
QUANTIFIERS = frozenset({"forall", "exists", "forn", "forpairs", "fornpairs"})
CONNECTIVES = frozenset({"and", "or", "not", "imply"})
_MAX_DEPTH = 64


def parse_sexpr(text: str):
    """'(and (a b) (c))' -> ['and', ['a', 'b'], ['c']]. Raises ValueError on unbalanced input."""
    tokens = _TOKEN.findall(text)
    stack: list[list] = [[]]
    for tok in tokens:
        if tok == "(":
            if len(stack) > _MAX_DEPTH:
                raise ValueError("expression nested too deeply")
            stack.append([])
        elif tok == ")":
            if len(stack) == 1:
                raise ValueError("unbalanced ')'")
            done = stack.pop()
            stack[-1].append(done)
        else:
            stack[-1].append(tok)
    if len(stack) != 1:
        raise ValueError("unbalanced '('")
    if len(stack[0]) != 1:
        raise ValueError("expected exactly one expression")
    return stack[0][0]


class Atom(tuple):
    """(predicate, args, negated, args' categories) of one goal atom."""

    __slots__ = ()

    def __new__(cls, predicate: str, args: tuple[str, ...], negated: bool, categories: tuple[str | None, ...]):
        return super().__new__(cls, (predicate, args, negated, categories))

    predicate = property(lambda self: self[0])
    args = property(lambda self: self[1])
    negated = property(lambda self: self[2])
    categories = property(lambda self: self[3])


def _var_decls(node) -> list[tuple[str, str]]:
    """['?x', '-', 'cat'] or [['?x','-','cat'], ...] -> [(var, cat)]."""
    out = []
    if isinstance(node, list) and len(node) >= 3 and node[1] == "-" and isinstance(node[0], str):
        out.append((node[0], node[2]))
    return out


def atoms_of(expr, object_categories: Mapping[str, str]) -> list[Atom]:
    """Every atom in a goal expression, with its polarity and the categories of its arguments
    (variables resolve to their declared type; ``cat.n.01_*`` wildcards to ``cat.n.01``)."""
    out: list[Atom] = []

    def cat_of(arg: str, scope: Mapping[str, str]) -> str | None:
        if arg in scope:
            return scope[arg]
        if arg in object_categories:
            return object_categories[arg]
        if arg.endswith("_*"):
            return arg[:-2]
        return None

    def walk(node, negated: bool, scope: dict[str, str]) -> None:
        if not isinstance(node, list) or not node:
            return
        head = node[0]
        if not isinstance(head, str):
            return
        if head in QUANTIFIERS:
            inner = dict(scope)
            rest = node[1:]
            if head in ("forn", "fornpairs") and rest and isinstance(rest[0], list):
                rest = rest[1:]     # the count
            body_start = 0
            for i, part in enumerate(rest):
                decls = _var_decls(part)
                if decls:
                    inner.update(decls)
                    body_start = i + 1
                else:
                    break
            for part in rest[body_start:]:
                walk(part, negated, inner)
            return
        if head == "not":
            for part in node[1:]:
                walk(part, not negated, scope)
            return
        if head in CONNECTIVES:
            for part in node[1:]:
                walk(part, negated, scope)
            return
        args = tuple(a for a in node[1:] if isinstance(a, str))
        out.append(Atom(head, args, negated, tuple(cat_of(a, scope) for a in args)))

    walk(expr, False, {})
    return out


def slug(text: str, max_len: int = 80) -> str:
    words = re.findall(r"[a-z0-9]+", text.lower())
    out = "_".join(words)
    return out[:max_len].rstrip("_") or "task"


def render_problem(name: str, objects: Mapping[str, str], init: Iterable[str], goal: Iterable[str],
                   command: str | None = None, comments: Iterable[str] = ()) -> str:
    """A BEHAVIOR-1K-style problem file. ``objects``: instance -> category (insertion order kept
    within a category); ``goal``: top-level goal expressions, conjoined."""
    by_cat: dict[str, list[str]] = {}
    for inst, cat in objects.items():
        by_cat.setdefault(cat, []).append(inst)
    lines = []
    if command:
        lines.append(f";; command: {' '.join(command.split())}")
    lines += [f";; {' '.join(c.split())}" for c in comments]
    lines.append(f"(define (problem {name})")
    lines.append("    (:domain omnigibson)")
    lines.append("")
    lines.append("    (:objects")
    for cat, insts in by_cat.items():
        lines.append(f"        {' '.join(insts)} - {cat}")
    lines.append("    )")
    lines.append("")
    lines.append("    (:init")
    lines += [f"        {lit}" for lit in init]
    lines.append("    )")
    lines.append("")
    lines.append("    (:goal")
    lines.append("        (and")
    lines += [f"            {g}" for g in goal]
    lines.append("        )")
    lines.append("    )")
    lines.append(")")
    return "\n".join(lines) + "\n"
