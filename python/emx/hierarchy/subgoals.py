"""Sub-goals: ground BDDL literals a hierarchical policy says it will reach, compiled against a task.

A sub-goal is one of
  * a literal ``(ontop apple_0 table_1)`` or a negated one ``(not (open fridge_0))``;
  * a conjunction of those, ``(and (...) (...))`` (nested ``and`` is flattened);
  * the same written as EAI's flat token lists: ``["ontop", "apple_0", "table_1"]``,
    ``["not", "open", "fridge_0"]``, or a list of such lists (a conjunction).
Quantifiers, ``or`` and ``imply`` are not sub-goals: a sub-goal is a state the policy commits to,
and a disjunction commits to nothing checkable step by step.

`compile_subgoal` resolves predicate and object names against the task and never raises: a
problem (unknown predicate or object, wrong arity, bad shape) becomes a `SubgoalError` with a
reason. Both results answer ``holds(state)``, the error always ``False``, so a closed-loop
runner can call ``compile_subgoal(task, text).holds(state)`` on any model output.

`goal_coverage` compares a set of sub-goal literals with the task's goal (see its docstring).
"""

from __future__ import annotations

import re
import weakref
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .. import _core

__all__ = ["Literal", "Subgoal", "SubgoalError", "compile_subgoal", "subgoal_text", "goal_coverage",
           "MAX_SUBGOAL_CHARS", "MAX_LITERALS"]

MAX_SUBGOAL_CHARS = 2_000   # one sub-goal; longer text is model rambling, not a state
MAX_LITERALS = 32
_MAX_DEPTH = 8              # and > not > atom needs 3; the rest is slack for nested and
_TOKEN = re.compile(r"\(|\)|[^\s()]+")


@dataclass(frozen=True)
class Literal:
    predicate: str
    args: tuple[str, ...]
    positive: bool = True

    @property
    def text(self) -> str:
        atom = "(" + " ".join((self.predicate, *self.args)) + ")"
        return atom if self.positive else f"(not {atom})"


@dataclass(frozen=True, eq=False)
class Subgoal:
    """A compiled sub-goal: a conjunction of ground literals of one task."""

    text: str                       # canonical BDDL
    literals: tuple[Literal, ...]
    core: Any = field(repr=False)   # the task's emx._core.Task

    ok = True
    reason = None

    def holds(self, state: Any) -> bool:
        try:
            return all(bool(self.core.holds(state, lit.predicate, *lit.args)) == lit.positive
                       for lit in self.literals)
        except (ValueError, TypeError):  # a state of another task: not this sub-goal's state
            return False


@dataclass(frozen=True)
class SubgoalError:
    """Why a sub-goal could not be compiled. It never holds."""

    text: str
    reason: str

    ok = False

    def holds(self, state: Any) -> bool:  # noqa: ARG002 - the same call as Subgoal.holds
        return False


# --------------------------------------------------------------------------- text forms

def _flat_to_tree(tokens: Sequence[Any]) -> Any:
    """EAI flat tokens to a tree: ["not", "open", "x"] -> ["not", ["open", "x"]]."""
    if tokens and tokens[0] == "not":
        return ["not", list(tokens[1:])]
    return list(tokens)


def subgoal_text(value: Any) -> str:
    """Any sub-goal form as BDDL text, for display and for `compile_subgoal`. Never raises:
    something that is no sub-goal at all becomes a short repr, which then fails to compile."""
    try:
        if isinstance(value, str):
            return value.strip()[:MAX_SUBGOAL_CHARS + 1]
        if isinstance(value, (list, tuple)) and value and all(isinstance(v, str) for v in value):
            return _render(_flat_to_tree([v.strip() for v in value]))
        if isinstance(value, (list, tuple)) and value and all(isinstance(v, (list, tuple)) for v in value):
            return "(and " + " ".join(subgoal_text(v) for v in value[:MAX_LITERALS + 1]) + ")"
    except RecursionError:
        pass
    return repr(value)[:200]


def _render(tree: Any) -> str:
    if isinstance(tree, list):
        return "(" + " ".join(_render(t) for t in tree) + ")"
    return str(tree)


def _read_sexpr(text: str, max_depth: int) -> tuple[Any, str]:
    """One s-expression as nested lists of atoms. Returns (tree, error)."""
    stack: list[list] = [[]]
    for m in _TOKEN.finditer(text):
        tok = m.group()
        if tok == "(":
            if len(stack) > max_depth:
                return None, f"nested deeper than {max_depth} levels"
            stack.append([])
        elif tok == ")":
            if len(stack) == 1:
                return None, "unbalanced ')'"
            done = stack.pop()
            stack[-1].append(done)
        else:
            stack[-1].append(tok)
    if len(stack) != 1:
        return None, "unbalanced '('"
    top = stack[0]
    if len(top) != 1:
        return None, "expected exactly one parenthesised literal" if top else "empty sub-goal"
    return top[0], ""


# --------------------------------------------------------------------------- vocabulary

_ARITY: dict[str, int] = {}


def _arity(predicate: str) -> int | None:
    """1 or 2, None for an unknown predicate. The core lists unary predicates first, ending
    with "real" (cpp/include/emx/vocabulary.hpp); "inroom" is init-only (its second argument
    is a room) and so is never a sub-goal."""
    if not _ARITY:
        names = list(_core.predicate_names())
        last_unary = names.index("real")
        for i, n in enumerate(names):
            _ARITY[n] = 1 if i <= last_unary else 2
        _ARITY.pop("inroom", None)
    return _ARITY.get(predicate)


def _object_names(core: Any) -> frozenset[str]:
    names = _NAMES.get(core)
    if names is None:
        names = _NAMES[core] = frozenset(o[0] for o in core.objects)
    return names


_NAMES: "weakref.WeakKeyDictionary[Any, frozenset[str]]" = weakref.WeakKeyDictionary()


def _core_of(task: Any) -> Any:
    return task.core if hasattr(task, "core") else task


# --------------------------------------------------------------------------- compiling

def _literals(tree: Any, names: frozenset[str], out: list[Literal], positive: bool = True) -> str:
    """Appends the literals of `tree` to `out`; returns an error reason or ""."""
    if not isinstance(tree, list) or not tree:
        return f"expected a literal '(predicate object ...)', got {_render(tree)[:60]!r}"
    head = tree[0]
    if isinstance(head, list):
        return "expected a predicate name, got a list"
    if head == "and":
        if not positive:
            return "'(not (and ...))' is a disjunction; a sub-goal must be a conjunction of literals"
        if len(tree) == 1:
            return "'and' with no literals"
        for part in tree[1:]:
            err = _literals(part, names, out)
            if err:
                return err
        return ""
    if head == "not":
        if len(tree) != 2:
            return f"'not' takes one literal, got {len(tree) - 1}"
        return _literals(tree[1], names, out, not positive)
    if head in ("or", "imply", "forall", "exists", "forn", "forpairs", "fornpairs"):
        return f"'{head}' is not allowed in a sub-goal (only ground literals, 'not' and 'and')"
    arity = _arity(head)
    if arity is None:
        return f"unknown predicate {head[:40]!r}"
    args = tree[1:]
    if len(args) != arity:
        return f"predicate '{head}' takes {arity} object(s), got {len(args)}"
    resolved = []
    for a in args:
        if isinstance(a, list):
            return f"predicate '{head}': expected an object name, got a list"
        name = a[1:] if a.startswith("?") else a
        if name not in names:
            return f"unknown object {name[:60]!r}"
        resolved.append(name)
    if len(out) >= MAX_LITERALS:
        return f"more than {MAX_LITERALS} literals"
    out.append(Literal(head, tuple(resolved), positive))
    return ""


def compile_subgoal(task: Any, literal: Any) -> Subgoal | SubgoalError:
    """Compiles one sub-goal (BDDL text or EAI token list) against `task`. Never raises."""
    try:
        core = _core_of(task)
        if literal is None:
            return SubgoalError("", "no sub-goal")
        if not isinstance(literal, (str, list, tuple)):
            return SubgoalError(repr(literal)[:200],
                                f"expected a BDDL literal or a list of tokens, got {type(literal).__name__}")
        text = subgoal_text(literal)
        if len(text) > MAX_SUBGOAL_CHARS:
            return SubgoalError(text[:200], f"sub-goal longer than {MAX_SUBGOAL_CHARS} characters")
        if not text:
            return SubgoalError("", "empty sub-goal")
        if "(" not in text and ")" not in text:
            tree: Any = _flat_to_tree(text.split())  # "ontop apple_0 table_1": EAI tokens, unbracketed
        else:
            tree, err = _read_sexpr(text, _MAX_DEPTH)
            if err:
                return SubgoalError(text, err)
        lits: list[Literal] = []
        err = _literals(tree, _object_names(core), lits)
        if err:
            return SubgoalError(text, err)
        canonical = lits[0].text if len(lits) == 1 else "(and " + " ".join(lit.text for lit in lits) + ")"
        return Subgoal(canonical, tuple(lits), core)
    except Exception as e:  # noqa: BLE001 - model output never raises; should be unreachable
        return SubgoalError(repr(literal)[:200], f"uncompilable sub-goal ({type(e).__name__})")


# --------------------------------------------------------------------------- goal coverage
#
# The task's goal, compiled here exactly as the C++ GoalCompiler does (cpp/src/task.cpp:
# quantifiers expanded over objects of the named category, negations pushed to the literals,
# 'cat_*' terms as any instance), and scored as the core's goal fraction is (cpp/src/goal.cpp,
# best grounding node by node) -- with "the literal is satisfied" replaced by "a sub-goal names
# this literal with this polarity". tests/test_hierarchy.py checks the expansion against the
# core's own literal count.

_GOALS: "weakref.WeakKeyDictionary[Any, tuple]" = weakref.WeakKeyDictionary()


class _GoalShape(Exception):
    pass


def _goal_program(core: Any) -> tuple:
    prog = _GOALS.get(core)
    if prog is None:
        by_category: dict[str, list[str]] = {}
        for name, category, _abilities, whole, _room in core.objects:
            if whole < 0:  # slice parts are added after compiling: no quantifier ranges over them
                by_category.setdefault(category, []).append(name)
        names = _object_names(core)
        roots = []
        for text in core.goal_conditions:
            tree, err = _read_sexpr(text, 256)
            if err:
                raise _GoalShape(err)
            roots.append(_compile_goal(tree, False, by_category, names, {}))
        prog = _GOALS[core] = tuple(roots)
    return prog


def _resolve(term: Any, by_category: dict, names: frozenset[str], scope: dict) -> list[str]:
    if isinstance(term, list):
        raise _GoalShape("a list where an object was expected")
    if term.startswith("?"):
        if term in scope:
            return [scope[term]]
        return [term[1:]]
    if term.endswith("_*"):
        return list(by_category.get(term[:-2], []))
    return [term]


def _compile_goal(e: Any, neg: bool, by_category: dict, names: frozenset[str], scope: dict) -> tuple:
    head = e[0]
    kids = e[1:]

    def binding(decl: list) -> tuple[str, list[str]]:
        return decl[0], list(by_category.get(decl[2], []))

    def under(var: str, obj: str, body: Any, n: bool) -> tuple:
        return _compile_goal(body, n, by_category, names, {**scope, var: obj})

    if head in ("and", "or"):
        op = "and" if (head == "and") != neg else "or"
        return (op, tuple(_compile_goal(k, neg, by_category, names, scope) for k in kids))
    if head == "not":
        return _compile_goal(kids[0], not neg, by_category, names, scope)
    if head == "imply":
        a = _compile_goal(kids[0], not neg, by_category, names, scope)
        b = _compile_goal(kids[1], neg, by_category, names, scope)
        return ("and" if neg else "or", (a, b))
    if head in ("forall", "exists"):
        var, dom = binding(kids[0])
        op = "and" if (head == "forall") != neg else "or"
        return (op, tuple(under(var, o, kids[1], neg) for o in dom))
    if head == "forn":
        count = int(kids[0][0] if isinstance(kids[0], list) else kids[0])
        var, dom = binding(kids[1])
        node = ("forn", count, tuple(under(var, o, kids[2], False) for o in dom))
        return ("not", node) if neg else node
    if head in ("forpairs", "fornpairs"):
        k = 0
        count = 0
        if head == "fornpairs":
            count = int(kids[0][0] if isinstance(kids[0], list) else kids[0])
            k = 1
        var1, dom1 = binding(kids[k])
        var2, dom2 = binding(kids[k + 1])
        body = kids[k + 2]
        cells = tuple(("const", False) if a == b else
                      _compile_goal(body, False, by_category, names, {**scope, var1: a, var2: b})
                      for a in dom1 for b in dom2)
        want = min(len(dom1), len(dom2)) if head == "forpairs" else count
        node = ("pairs", want, len(dom1), len(dom2), cells)
        return ("not", node) if neg else node
    lits = [("lit", head, a, b, neg)
            for a in _resolve(kids[0], by_category, names, scope)
            for b in (_resolve(kids[1], by_category, names, scope) if len(kids) > 1 else [""])]
    if len(lits) == 1:
        return lits[0]
    return ("and" if neg else "or", tuple(lits))


def _ratio(s: tuple[float, float, bool]) -> float:
    sat, total, truth = s
    return sat / total if total > 0 else (1.0 if truth else 0.0)


def _score(node: tuple, named: frozenset) -> tuple[float, float, bool]:
    """(satisfied, total, truth) of a goal node, a literal being satisfied when it is named."""
    op = node[0]
    if op == "lit":
        _, pred, a, b, neg = node
        t = (pred, a, b, not neg) in named
        return (float(t), 1.0, t)
    if op == "const":
        return (0.0, 0.0, bool(node[1]))
    if op == "and":
        scores = [_score(k, named) for k in node[1]]
        return (sum(s[0] for s in scores), sum(s[1] for s in scores), all(s[2] for s in scores))
    if op == "or":
        best = None
        truth = False
        for k in node[1]:
            s = _score(k, named)
            truth |= s[2]
            if best is None or _ratio(s) > _ratio(best) or (_ratio(s) == _ratio(best) and s[0] > best[0]):
                best = s
        return (best[0], best[1], truth) if best else (0.0, 0.0, False)
    if op == "not":
        t = not _score(node[1], named)[2]
        return (float(t), 1.0, t)
    if op == "forn":
        count, kids = node[1], node[2]
        scores = [_score(k, named) for k in kids]
        chosen = sorted(scores, key=_ratio, reverse=True)[:count]
        return (sum(s[0] for s in chosen), sum(s[1] for s in chosen) + count - len(chosen),
                sum(s[2] for s in scores) == count)
    # pairs: `want` cells, no two in a row or column, greedily by ratio (ties by index)
    want, rows, cols, cells = node[1], node[2], node[3], node[4]
    scores = [_score(k, named) for k in cells]
    order = sorted(range(len(scores)), key=lambda i: (-_ratio(scores[i]), i))
    used_r, used_c, sat, total, picked = set(), set(), 0.0, 0.0, 0
    for i in order:
        if picked >= want:
            break
        r, c = divmod(i, cols) if cols else (0, 0)
        if r in used_r or c in used_c:
            continue
        used_r.add(r)
        used_c.add(c)
        sat += scores[i][0]
        total += scores[i][1]
        picked += 1
    rows_any = sum(any(scores[r * cols + c][2] for c in range(cols)) for r in range(rows))
    cols_any = sum(any(scores[r * cols + c][2] for r in range(rows)) for c in range(cols))
    return (sat, total + want - picked, rows_any >= want and cols_any >= want)


def _count_literals(node: tuple) -> int:
    op = node[0]
    if op == "lit":
        return 1
    if op == "const":
        return 0
    if op == "not":
        return _count_literals(node[1])
    kids = node[1] if op in ("and", "or") else node[2] if op == "forn" else node[4]
    return sum(_count_literals(k) for k in kids)


def goal_literal_count(task: Any) -> int:
    """Literal leaves of the goal as compiled here (the core's ``num_goal_literals``)."""
    return sum(_count_literals(r) for r in _goal_program(_core_of(task)))


def goal_coverage(task: Any, literals: Iterable[Literal]) -> tuple[float, float]:
    """(named, total): how much of the task's goal the given literals spell out.

    The goal's ground literals are scored as the core scores its goal fraction -- best grounding
    node by node: an or/exists takes its best-covered alternative, forn its N best children,
    forpairs its best distinct pairs -- except that a literal counts as satisfied when one of
    `literals` names it with the same polarity, instead of when a state makes it true. So
    ``named / total`` is the goal fraction of "the state the sub-goals describe", with every
    literal no sub-goal mentions counted as unmet. (0, 0) for a goal this reader cannot expand.
    """
    try:
        named = frozenset((lit.predicate, *(lit.args + ("",))[:2], lit.positive) for lit in literals)
        sat = total = 0.0
        for root in _goal_program(_core_of(task)):
            s, t, _ = _score(root, named)
            sat += s
            total += t
        return sat, total
    except (_GoalShape, IndexError, ValueError, RecursionError):
        return 0.0, 0.0
