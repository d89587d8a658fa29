"""The 100 EAI (Embodied Agent Interface) BEHAVIOR action-sequencing tasks, as BDDL problems.

EAI ships its benchmark as prompts (``eai-eval`` package, ``behavior_eval/evaluation/
action_sequencing/resources/prompts/helm_prompts.json``): each prompt ends with a "Your task:"
block holding the initial state, the target state and the interactable objects, one Python
literal per line. Earlier in the same prompt an "Example" block uses the same headers, so only
the last block is read. We keep the prompt verbatim (a policy evaluated on EAI must see the
benchmark's own text) and rebuild a BDDL problem from the block so that emx's compiler, goal
checker and simulators treat EAI tasks like any other BDDL source.

Target lines are BDDL goal formulas with the parentheses dropped, e.g.::

    ['forall', 'jar.n.01', '-', 'jar.n.01', 'not', 'open', 'jar.n.01']
    ['exists', 'carton.n.02', '-', 'carton.n.02', 'and', 'forall', 'ball.n.01', '-', ...]

They are read back as prefix notation with known arities (see ``parse_flat_goal``). The only
connectives of variable arity are ``and``/``or``; they take every remaining formula of the line.
That reading is exact for all 100 tasks: it consumes every token, and its shape equals the goal
of the BEHAVIOR-100 problem file that eai-eval ships for the same task
(``transition_modeling/resources/pddl_behavior``), which tests/test_task_sources.py checks.

The package is located with ``importlib.util.find_spec`` and never imported: importing
``behavior_eval`` prints to stdout and needs dependencies (iGibson) we do not install.
"""

from __future__ import annotations

import ast
import functools
import importlib.util
import json
import os
import re
from dataclasses import dataclass

__all__ = [
    "EaiTask",
    "load_eai_tasks",
    "eai_to_bddl",
    "parse_flat_goal",
    "eai_data_dir",
    "UNARY_PREDICATES",
    "BINARY_PREDICATES",
]

UNARY_PREDICATES = frozenset({
    "open", "toggled_on", "cooked", "frozen", "sliced", "soaked", "dusty", "stained", "hot",
    "on_fire", "broken",
})
BINARY_PREDICATES = frozenset({"ontop", "inside", "nextto", "under", "onfloor", "touching"})
_QUANTIFIERS = frozenset({"forall", "exists", "forn", "forpairs", "fornpairs"})
_CONNECTIVES = frozenset({"and", "or", "not", "imply"})
_KEYWORDS = UNARY_PREDICATES | BINARY_PREDICATES | _QUANTIFIERS | _CONNECTIVES | {"-"}

_PROMPTS_RELPATH = os.path.join(
    "evaluation", "action_sequencing", "resources", "prompts", "helm_prompts.json")
# "<activity>_<instance>_<Scene>[_<k>]_int_<k>_<yyyy-mm-dd>_<hh-mm-ss>"
_IDENTIFIER_RE = re.compile(
    r"^(?P<activity>.+?)_\d+_[A-Z][A-Za-z]*(?:_\d+)?_int_\d+_\d{4}-\d\d-\d\d_\d\d-\d\d-\d\d$")
_ROOM_FLOOR_RE = re.compile(r"^room_floor_(?P<room>.+)_\d+$")
_INSTANCE_SUFFIX_RE = re.compile(r"_\d+$")

_HEADERS = {
    "initial environment state:": "init",
    "target environment state:": "goal",
    "interactable objects:": "objects",
}


@dataclass(frozen=True)
class EaiTask:
    identifier: str                        # e.g. "assembling_gift_baskets_0_Beechwood_0_int_0_2021-10-26_12-46-37"
    activity: str                          # "assembling_gift_baskets"
    prompt: str                            # the full llm_prompt (the benchmark's own prompt text)
    objects: tuple[tuple[str, str], ...]   # (name, category) interactable objects, in prompt order
    init: tuple[tuple[str, ...], ...]      # literal lists as given
    goal: tuple[tuple[str, ...], ...]      # flattened target lines as given


def eai_data_dir() -> str:
    """Directory of the installed ``behavior_eval`` package (found without importing it)."""
    spec = importlib.util.find_spec("behavior_eval")
    if spec is None or not spec.submodule_search_locations:
        raise ValueError("the EAI tasks need the eai-eval package (pip install eai-eval --no-deps)")
    return list(spec.submodule_search_locations)[0]


def _activity_of(identifier: str) -> str:
    m = _IDENTIFIER_RE.match(identifier)
    return m.group("activity") if m else identifier


def _parse_task_block(identifier: str, prompt: str) -> EaiTask:
    start = prompt.rfind("Your task:")
    if start < 0:
        raise ValueError(f"EAI prompt {identifier}: no 'Your task:' block")
    sections: dict[str, list[object]] = {"init": [], "goal": [], "objects": []}
    current: str | None = None
    for raw in prompt[start:].splitlines():
        line = raw.strip()
        if line in _HEADERS:
            current = _HEADERS[line]
            continue
        if not line.startswith(("[", "{")):
            # blank lines and the instructions after the object list end the literal runs
            if line:
                current = None
            continue
        if current is None:
            continue
        # Trusted package data (never model output): a literal parser, not eval.
        sections[current].append(ast.literal_eval(line))
    objects = tuple((str(o["name"]), str(o["category"])) for o in sections["objects"])  # type: ignore[index]
    init = tuple(tuple(str(t) for t in lit) for lit in sections["init"])  # type: ignore[union-attr]
    goal = tuple(tuple(str(t) for t in lit) for lit in sections["goal"])  # type: ignore[union-attr]
    if not objects or not goal:
        raise ValueError(f"EAI prompt {identifier}: empty object list or goal")
    return EaiTask(identifier, _activity_of(identifier), prompt, objects, init, goal)


@functools.lru_cache(maxsize=1)
def _load() -> tuple[EaiTask, ...]:
    path = os.path.join(eai_data_dir(), _PROMPTS_RELPATH)
    with open(path, encoding="utf-8") as f:
        entries = json.load(f)
    return tuple(_parse_task_block(e["identifier"], e["llm_prompt"]) for e in entries)


def load_eai_tasks() -> list[EaiTask]:
    """The 100 EAI BEHAVIOR tasks, in the order of the benchmark's prompt file (cached)."""
    return list(_load())


# --------------------------------------------------------------------------- flattened goals

def parse_flat_goal(tokens: tuple[str, ...] | list[str]) -> tuple:
    """Parse one flattened EAI target line into a BDDL s-expression (nested tuples).

    Prefix notation with fixed arities: unary predicates take 1 term, binary ones 2; ``not``
    one formula; ``imply`` two; ``forall``/``exists`` ``VAR - TYPE FORMULA``; ``forn``
    ``N VAR - TYPE FORMULA``; ``forpairs`` two typed variables and a formula; ``fornpairs``
    ``N`` and two typed variables and a formula. ``and``/``or`` take all the remaining
    formulas of the line (the flattening left no closing marks; no EAI goal needs otherwise).
    Inside a quantifier its variable is written as the category itself ("jar.n.01"); it becomes
    the BDDL variable "?jar.n.01". Raises ValueError unless exactly all tokens are consumed.
    """
    toks = tuple(tokens)
    if not toks:
        raise ValueError("empty goal line")
    expr, pos = _parse_formula(toks, 0, frozenset())
    if pos != len(toks):
        raise ValueError(f"goal line has {len(toks) - pos} unconsumed tokens: {list(toks[pos:])}")
    return expr


def _take(toks: tuple[str, ...], pos: int, what: str) -> str:
    if pos >= len(toks):
        raise ValueError(f"goal line ended early: expected {what} in {list(toks)}")
    return toks[pos]


def _term(toks: tuple[str, ...], pos: int, scope: frozenset[str]) -> str:
    tok = _take(toks, pos, "an object")
    if tok in _KEYWORDS:
        raise ValueError(f"expected an object, got {tok!r} in {list(toks)}")
    return "?" + tok if tok in scope else tok


def _typed_var(toks: tuple[str, ...], pos: int) -> tuple[tuple[str, str, str], str, int]:
    var = _take(toks, pos, "a variable")
    if _take(toks, pos + 1, "'-'") != "-":
        raise ValueError(f"expected '-' after quantified variable {var!r} in {list(toks)}")
    typ = _take(toks, pos + 2, "a type")
    if var in _KEYWORDS or typ in _KEYWORDS:
        raise ValueError(f"bad typed variable {var!r} - {typ!r} in {list(toks)}")
    return ("?" + var, "-", typ), var, pos + 3


def _count(toks: tuple[str, ...], pos: int) -> str:
    n = _take(toks, pos, "a count")
    if not n.isdigit():
        raise ValueError(f"expected a count, got {n!r} in {list(toks)}")
    return n


def _parse_formula(toks: tuple[str, ...], pos: int, scope: frozenset[str]) -> tuple[tuple, int]:
    head = _take(toks, pos, "a formula")
    if head in UNARY_PREDICATES:
        return (head, _term(toks, pos + 1, scope)), pos + 2
    if head in BINARY_PREDICATES:
        return (head, _term(toks, pos + 1, scope), _term(toks, pos + 2, scope)), pos + 3
    if head == "not":
        body, pos = _parse_formula(toks, pos + 1, scope)
        return ("not", body), pos
    if head == "imply":
        lhs, pos = _parse_formula(toks, pos + 1, scope)
        rhs, pos = _parse_formula(toks, pos, scope)
        return ("imply", lhs, rhs), pos
    if head in ("and", "or"):
        parts = []
        pos += 1
        while pos < len(toks):  # greedy: the rest of the line
            part, pos = _parse_formula(toks, pos, scope)
            parts.append(part)
        if not parts:
            raise ValueError(f"'{head}' with no operands in {list(toks)}")
        return (head, *parts), pos
    if head in ("forall", "exists"):
        decl, var, pos = _typed_var(toks, pos + 1)
        body, pos = _parse_formula(toks, pos, scope | {var})
        return (head, decl, body), pos
    if head == "forn":
        n = _count(toks, pos + 1)
        decl, var, pos = _typed_var(toks, pos + 2)
        body, pos = _parse_formula(toks, pos, scope | {var})
        return (head, (n,), decl, body), pos
    if head in ("forpairs", "fornpairs"):
        prefix: tuple = ()
        pos += 1
        if head == "fornpairs":
            prefix = ((_count(toks, pos),),)
            pos += 1
        decl1, var1, pos = _typed_var(toks, pos)
        decl2, var2, pos = _typed_var(toks, pos)
        body, pos = _parse_formula(toks, pos, scope | {var1, var2})
        return (head, *prefix, decl1, decl2, body), pos
    raise ValueError(f"unknown goal token {head!r} in {list(toks)}")


def _sexp(expr: object) -> str:
    if isinstance(expr, tuple):
        return "(" + " ".join(_sexp(e) for e in expr) + ")"
    return str(expr)


def _terms(expr: object, out: list[str]) -> None:
    """Object names (not variables, keywords or types) mentioned in a parsed goal."""
    if not isinstance(expr, tuple):
        return
    head = expr[0]
    if head in UNARY_PREDICATES or head in BINARY_PREDICATES:
        out.extend(t for t in expr[1:] if isinstance(t, str) and not t.startswith("?"))
        return
    for sub in expr[1:]:
        if isinstance(sub, tuple) and not (len(sub) == 3 and sub[1] == "-"):  # skip declarations
            _terms(sub, out)


def _init_literal(lit: tuple[str, ...]) -> tuple:
    if lit and lit[0] == "not":
        return ("not", _init_literal(lit[1:]))
    if not lit or lit[0] in _KEYWORDS - UNARY_PREDICATES - BINARY_PREDICATES:
        raise ValueError(f"unexpected initial literal {list(lit)}")
    return tuple(lit)


def _category_for_undeclared(name: str) -> str:
    if _ROOM_FLOOR_RE.match(name):
        return "floor.n.01"
    # "agent.n.01_1" -> "agent.n.01": BDDL instance names are the synset plus "_N"
    return _INSTANCE_SUFFIX_RE.sub("", name)


def eai_to_bddl(task: EaiTask) -> str:
    """A BDDL problem (omnigibson domain) equivalent to the task's prompt block."""
    goals = [parse_flat_goal(line) for line in task.goal]
    inits = [_init_literal(lit) for lit in task.init]

    categories: dict[str, str] = {}
    for name, category in task.objects:
        categories.setdefault(name, category)
    mentioned: list[str] = []
    for lit in inits:
        core = lit[1] if lit[0] == "not" else lit
        mentioned.extend(core[1:])
    for g in goals:
        _terms(g, mentioned)
    for name in mentioned:
        if name not in categories:
            categories[name] = _category_for_undeclared(name)

    by_category: dict[str, list[str]] = {}
    for name, category in categories.items():
        by_category.setdefault(category, []).append(name)

    rooms: list[tuple[str, str]] = []
    for name in categories:
        m = _ROOM_FLOOR_RE.match(name)
        if m:
            rooms.append((name, m.group("room")))

    ind = "    "
    lines = [f"(define (problem {task.identifier})", f"{ind}(:domain omnigibson)", "",
             f"{ind}(:objects"]
    for category, names in by_category.items():
        lines.append(f"{ind * 2}{' '.join(names)} - {category}")
    lines += [f"{ind})", "", f"{ind}(:init"]
    lines += [f"{ind * 2}{_sexp(lit)}" for lit in inits]
    lines += [f"{ind * 2}(inroom {floor} {room})" for floor, room in rooms]
    lines += [f"{ind})", "", f"{ind}(:goal", f"{ind * 2}(and"]
    lines += [f"{ind * 3}{_sexp(g)}" for g in goals]
    lines += [f"{ind * 2})", f"{ind})", ")", ""]
    return "\n".join(lines)
