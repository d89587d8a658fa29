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
    "eai_scene_names",
    "eai_rooms",
    "eai_object_states",
    "eai_goal_options",
    "EAI_STATE_ABILITIES",
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


# --------------------------------------------------------------------------- EAI's scene data

# iGibson unary object states (what EAI's evolving graph copies into its nodes) -> emx abilities.
EAI_STATE_ABILITIES = {
    "Open": "openable", "ToggledOn": "toggleable", "Frozen": "freezable", "Cooked": "cookable",
    "Sliced": "sliceable", "Soaked": "soakable", "Dusty": "dustyable", "Stained": "stainable",
}


def _resource(*parts: str) -> str:
    return os.path.join(eai_data_dir(), "evaluation", *parts)


def eai_scene_names(task: EaiTask) -> dict[str, str]:
    """BEHAVIOR-100 instance name ("sink.n.01_1") -> the scene object name the prompt and plans
    use ("sink_37"). The prompt's object list is EAI's ``name_mapping.values()`` in
    ``task.object_scope`` order, which is the order of ``behavior_bddl_info``'s
    ``name_category`` without the agent (same categories, checked). Empty if eai-eval lacks
    the file."""
    names = _bddl_names(task.identifier)
    if names is None:
        return {}
    if [c for _, c in names] != [c for _, c in task.objects]:
        raise ValueError(f"EAI task {task.identifier}: behavior_bddl_info objects differ from the prompt's")
    return {b: name for (b, _), (name, _) in zip(names, task.objects)}


@functools.lru_cache(maxsize=None)
def _bddl_names(identifier: str) -> tuple[tuple[str, str], ...] | None:
    path = _resource("transition_modeling", "resources", "behavior_bddl_info", identifier + ".json")
    if not os.path.isfile(path):
        return None
    with open(path, encoding="utf-8") as f:  # some hold megabytes of goal options: read once
        return tuple((n, c) for n, c in json.load(f)["name_category"].items() if c != "agent.n.01")


_INROOM_RE = re.compile(r"\(\s*inroom\s+(\S+)\s+(\S+?)\s*\)")


def eai_rooms(task: EaiTask) -> dict[str, str]:
    """Scene object name -> room, from the ``(inroom X ROOM)`` facts of the BEHAVIOR-100
    problem eai-eval ships (``transition_modeling/resources/pddl_behavior``); the prompt's
    initial state leaves them out. Empty if eai-eval lacks the file."""
    path = _resource("transition_modeling", "resources", "pddl_behavior", task.identifier + ".pddl")
    if not os.path.isfile(path):
        return {}
    with open(path, encoding="utf-8") as f:
        text = f.read()
    to_scene = eai_scene_names(task)
    return {to_scene[b]: room for b, room in _INROOM_RE.findall(text) if b in to_scene}


@functools.lru_cache(maxsize=1)
def _all_objects() -> dict:
    path = _resource("goal_interpretation", "resources", "data", "all_objects.json")
    if not os.path.isfile(path):
        return {}
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def eai_object_states(task: EaiTask) -> dict[str, tuple[str, ...]]:
    """Scene object name -> the emx abilities of the unary states the object has in EAI's
    scenes (``goal_interpretation/resources/data/all_objects.json``: "the object's all possible
    unary states", which are the iGibson states EAI's evolving graph reads). Objects the file
    does not list are left out; an empty dict if eai-eval lacks the file."""
    states = _all_objects().get(task.identifier)
    if not states:
        return {}
    to_scene = eai_scene_names(task)
    return {to_scene[b]: tuple(EAI_STATE_ABILITIES[s] for s in names if s in EAI_STATE_ABILITIES)
            for b, names in states.items() if b in to_scene}


def eai_goal_options(task: EaiTask) -> list[list[list[tuple]]] | None:
    """The goal as EAI's task success checks it: per top-level condition, the list of ground
    options (each a list of atoms, ``(pred, a[, b])`` or ``("not", (pred, a[, b]))``, in scene
    names), any one of which satisfies the condition. They are the
    ``cond.flattened_condition_options`` that iGibson's ``BehaviorTask`` gets from the bddl
    package for the BEHAVIOR-100 problem, and ``GraphState.check_success`` reads nothing else.
    bddl truncates them (at most 20 options per product, 10 permutations for ``forpairs``), so
    a final state the quantified goal accepts can still fail EAI's check: that is EAI's rule.
    None if eai-eval lacks the problem file."""
    path = _resource("transition_modeling", "resources", "pddl_behavior", task.identifier + ".pddl")
    if not os.path.isfile(path):
        return None
    with open(path, encoding="utf-8") as f:
        text = f.read()
    return _ground_options(task.identifier, text, eai_scene_names(task))


@functools.lru_cache(maxsize=128)
def _ground_options_cached(identifier: str, text: str) -> tuple:
    from bddl.backend_abc import BDDLBackend
    from bddl.condition_evaluation import compile_state
    from bddl.logic_base import BinaryAtomicFormula, UnaryAtomicFormula
    from bddl.parsing import parse_problem

    classes: dict = {}

    class _GroundOnly(BDDLBackend):  # options only: nothing is evaluated
        def get_predicate_class(self, name):
            if name not in classes:
                base = UnaryAtomicFormula if name in UNARY_PREDICATES else BinaryAtomicFormula
                classes[name] = type(name, (base,), {"STATE_NAME": name, "_evaluate": lambda *a, **k: False,
                                                     "_sample": lambda *a, **k: None})
            return classes[name]

    _, objects, _, goal = parse_problem(identifier, 0, "igibson", predefined_problem=text)
    scope = {inst: None for insts in objects.values() for inst in insts}
    heads = compile_state(goal, _GroundOnly(), scope=scope, object_map=objects)
    return tuple(json.dumps(h.flattened_condition_options) for h in heads)


def _ground_options(identifier: str, text: str, to_scene: dict[str, str]) -> list:
    def atom(a: list) -> tuple:
        if a[0] == "not":
            return ("not", atom(a[1]))
        return (a[0], *(to_scene.get(t, t) for t in a[1:]))

    return [[[atom(a) for a in option] for option in json.loads(c)]
            for c in _ground_options_cached(identifier, text)]


def eai_to_bddl(task: EaiTask, ground_goal: bool = False) -> str:
    """A BDDL problem (omnigibson domain) equivalent to the task's prompt block. With
    ground_goal, the goal is the one EAI's task success checks (``eai_goal_options``): each
    condition an ``or`` of its ground options (the eai semantics profile compiles this)."""
    goals = [parse_flat_goal(line) for line in task.goal]
    if ground_goal and (options := eai_goal_options(task)) is not None:
        def conj(option: list) -> tuple:
            return option[0] if len(option) == 1 else ("and", *option)

        goals = [conj(opts[0]) if len(opts) == 1 else ("or", *(conj(o) for o in opts)) for opts in options]
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
    # Furniture rooms: the prompt leaves them out, the BEHAVIOR-100 problem has them.
    floors = {name for name, _ in rooms}
    rooms += [(name, room) for name, room in eai_rooms(task).items() if name in categories and name not in floors]

    ind = "    "
    lines = [f"(define (problem {task.identifier})", f"{ind}(:domain omnigibson)", "",
             f"{ind}(:objects"]
    for category, names in by_category.items():
        lines.append(f"{ind * 2}{' '.join(names)} - {category}")
    lines += [f"{ind})", "", f"{ind}(:init"]
    lines += [f"{ind * 2}{_sexp(lit)}" for lit in inits]
    lines += [f"{ind * 2}(inroom {name} {room})" for name, room in rooms]
    lines += [f"{ind})", "", f"{ind}(:goal", f"{ind * 2}(and"]
    lines += [f"{ind * 3}{_sexp(g)}" for g in goals]
    lines += [f"{ind * 2})", f"{ind})", ")", ""]
    return "\n".join(lines)
