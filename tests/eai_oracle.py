"""A deliberate test oracle: EAI's own BEHAVIOR evaluator, run unmodified.

eai-eval judges an action sequence with ``behavior_eval/evolving_graph/evolving_graph.py``
(executability and error types) and ``GraphState.check_success`` (task success,
``all_goal_satisfied_graph``), driven by ``ActionSequenceEvaluator`` (format check, error
priority, additional steps not fatal). Those files are pure Python over networkx; they only
*import* iGibson for class identities (``URDFObject``, ``RoomFloor``, ``object_states.*``) and
read a handful of facts off the scene objects. This module imports EAI's files as shipped,
with those iGibson names bound to small stand-ins, and builds each task's scene from data:

EAI's own data (eai-eval 1.0.5):
  * objects, names, categories: the action-sequencing prompt's object list
    (``helm_prompts.json``), aligned with the BDDL names of
    ``transition_modeling/resources/behavior_bddl_info`` (same order, same categories);
  * which unary states each object has (the iGibson ``obj.states`` keys the evolving graph
    copies): ``goal_interpretation/resources/data/all_objects.json``;
  * the initial relations and unary values: the BEHAVIOR-100 ``:init`` (``behavior_bddl_info``),
    plus ``(inroom X R)`` from ``transition_modeling/resources/pddl_behavior``;
  * the goal: the BEHAVIOR-100 problem (``pddl_behavior``) compiled by the bddl package as
    iGibson's ``BehaviorTask`` does (``compile_state``), which gives each top-level condition
    its ``flattened_condition_options``: bddl truncates them (20 options, 10 permutations).
    That truncation is EAI's too: bddl reproduces eai-eval's own dump of those options
    (``goal_interpretation/resources/data/all_conditions_sampled.json``) exactly for every
    task whose goal is the same there.

Facts EAI does not ship, taken from emx (so the oracle checks emx's *rules*, not these):
  * bounding-box volumes and which objects are wall-mounted: emx's size priors (the
    ``;@emx volume`` / ``mounted`` lines emx compiles with);
  * the Slicer and CleaningTool states (tool abilities): emx's ability table;
  * geometric relations iGibson derives from the scene that the BDDL does not state: an
    object that is in a room, on no other object and not wall-mounted stands on that room's floor
    (``OnFloor``), nothing else is next to or under anything, and an unstated unary state
    is False.

The only thing not EAI's in the loop is ``ActionSequenceEvaluator.__init__`` (it starts
iGibson); its ``evaluate_format``, ``evaluate_trajectory`` and ``evaluate_graph_success`` run
as shipped on an instance given the attributes its ``__init__`` would set. Plans are passed
as parsed action lists (EAI's ``parse_response`` ``eval``s model text; for the JSON
annotations ``json.loads`` of the same slice is equivalent).
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import importlib.util
import json
import os
import sys
import types

__all__ = ["available", "EaiOracle", "oracle_verdict", "emx_scene_facts", "EMX_TO_EAI_ERROR"]

_IGIBSON_UNARY = ("Cooked", "Dusty", "Frozen", "Open", "Sliced", "Soaked", "Stained", "ToggledOn",
                  "Burnt", "Slicer", "CleaningTool", "HeatSourceOrSink", "WaterSource")
_IGIBSON_BINARY = ("Inside", "OnFloor", "OnTop", "Under", "NextTo", "Touching")


def _data_dir() -> str | None:
    spec = importlib.util.find_spec("behavior_eval")
    if spec is None or not spec.submodule_search_locations:
        return None
    return list(spec.submodule_search_locations)[0]


# ----------------------------------------------------------------------------- iGibson stand-ins

class _State:
    """An iGibson object state: get_value() for unary states, get_value(other) for binary."""

    def __init__(self, value=None, relation=None):
        self._value = value
        self._relation = relation  # set of object names this one stands in the relation to

    def get_value(self, other=None):
        if other is None:
            return bool(self._value)
        return getattr(other, "name", None) in self._relation


def _stub_modules() -> dict[str, types.ModuleType]:
    mods: dict[str, types.ModuleType] = {}

    def mod(name: str, **attrs) -> types.ModuleType:
        m = types.ModuleType(name)
        m.__dict__.update(attrs)
        mods[name] = m
        return m

    states = {n: type(n, (), {}) for n in _IGIBSON_UNARY + _IGIBSON_BINARY}

    class URDFObject:  # a scene object
        def __init__(self, name, category, states_, volume):
            self.name, self.category, self.states = name, category, states_
            self.bounding_box = (float(volume), 1.0, 1.0)

    class RoomFloor:  # a room's floor
        def __init__(self, name, states_):
            self.name, self.category, self.states = name, "floor", states_
            self.bounding_box = (1e6, 1.0, 1.0)

    class ObjectGrouper:
        def __init__(self, objects):
            self.objects = objects

    class ObjectMultiplexer:  # a sliceable object: the whole and its parts
        def __init__(self, name, whole, parts):
            self.name = name
            self._multiplexed_objects = [whole, ObjectGrouper(parts)]

    class BaseRobot:
        pass

    class _Unused:
        def __init__(self, *a, **k):
            raise RuntimeError("iGibson is not available: only the evolving graph runs here")

    on_floor = mod("igibson.object_states.on_floor", RoomFloor=RoomFloor)
    object_states = mod("igibson.object_states", on_floor=on_floor, **states)
    articulated = mod("igibson.objects.articulated_object", URDFObject=URDFObject)
    wrappers = mod("igibson.objects.multi_object_wrappers", ObjectMultiplexer=ObjectMultiplexer,
                   ObjectGrouper=ObjectGrouper)
    objects = mod("igibson.objects", articulated_object=articulated, multi_object_wrappers=wrappers)
    behavior_task = mod("igibson.tasks.behavior_task", BehaviorTask=type("BehaviorTask", (), {}))
    tasks = mod("igibson.tasks", behavior_task=behavior_task)
    igibson_env = mod("igibson.envs.igibson_env", iGibsonEnv=_Unused)
    envs = mod("igibson.envs", igibson_env=igibson_env)
    robots = mod("igibson.robots", BaseRobot=BaseRobot)
    mod("igibson", object_states=object_states, objects=objects, tasks=tasks, envs=envs, robots=robots)
    mod("gym", spaces=types.SimpleNamespace(Tuple=None, Discrete=None))
    mod("behavior_eval.transition_model.base_env", BaseEnv=type("BaseEnv", (), {}))
    mod("behavior_eval.transition_model.eval_env", EvalEnv=_Unused)
    return mods


@functools.lru_cache(maxsize=1)
def _eai():
    """EAI's modules (evolving_graph, eval_evolving_graph_env, action_sequence_evaluator) and
    the stand-in classes they were imported against."""
    base = _data_dir()
    if base is None:
        raise ImportError("eai-eval is not installed")
    stubs = _stub_modules()
    # behavior_eval/__init__.py reads a config and logs; a bare package with the real path
    # loads the submodules without it.
    pkg = types.ModuleType("behavior_eval")
    pkg.__path__ = [base]
    stubs["behavior_eval"] = pkg
    for sub in ("transition_model", "evolving_graph", "evaluation", "evaluation.action_sequencing",
                "evaluation.action_sequencing.resources", "evaluation.action_sequencing.resources.prompt_templates"):
        m = types.ModuleType("behavior_eval." + sub)
        m.__path__ = [os.path.join(base, *sub.split("."))]
        stubs["behavior_eval." + sub] = m
    stubs["behavior_eval.evaluation.action_sequencing.scripts"] = m = types.ModuleType(
        "behavior_eval.evaluation.action_sequencing.scripts")
    m.__path__ = [os.path.join(base, "evaluation", "action_sequencing", "scripts")]
    if importlib.util.find_spec("fire") is None:  # evaluate_results.py's CLI helper, unused here
        stubs["fire"] = types.ModuleType("fire")
    names = ("behavior_eval.evolving_graph.evolving_graph", "behavior_eval.evolving_graph.eval_evolving_graph_env",
             "behavior_eval.transition_model.relation_tree",
             "behavior_eval.evaluation.action_sequencing.resources.prompt_templates.one_shot",
             "behavior_eval.evaluation.action_sequencing.action_sequence_evaluator",
             "behavior_eval.evaluation.action_sequencing.scripts.evaluate_results")
    saved = {k: sys.modules[k] for k in list(stubs) + list(names) if k in sys.modules}
    try:
        sys.modules.update(stubs)
        for k in names:
            sys.modules.pop(k, None)
        eg = importlib.import_module(names[0])
        env = importlib.import_module(names[1])
        ase = importlib.import_module(names[4])
        results = importlib.import_module(names[5])
    finally:  # leave no stand-in behind for other code in the process
        for k in list(stubs) + list(names):
            sys.modules.pop(k, None)
        sys.modules.update(saved)
    return types.SimpleNamespace(eg=eg, env=env, ase=ase, results=results, stubs=stubs)


def available() -> bool:
    try:
        _eai()
        return True
    except Exception:  # noqa: BLE001 - any failure means: cannot run the oracle here
        return False


# ----------------------------------------------------------------------------- EAI's task data

@functools.lru_cache(maxsize=1)
def _goal_interpretation_data():
    base = _data_dir()
    d = os.path.join(base, "evaluation", "goal_interpretation", "resources", "data")
    with open(os.path.join(d, "all_objects.json")) as f:
        return json.load(f)


def _bddl_info(identifier: str) -> dict:
    with open(os.path.join(_data_dir(), "evaluation", "transition_modeling", "resources", "behavior_bddl_info",
                           identifier + ".json")) as f:
        return json.load(f)


def _inroom(identifier: str) -> dict[str, str]:
    """(inroom X R) of the BEHAVIOR-100 problem file EAI ships: BDDL name -> room."""
    import re

    path = os.path.join(_data_dir(), "evaluation", "transition_modeling", "resources", "pddl_behavior",
                        identifier + ".pddl")
    with open(path) as f:
        text = f.read()
    return dict(re.findall(r"\(inroom\s+(\S+)\s+(\S+)\)", text))


def bddl_to_scene_names(identifier: str, prompt_objects) -> dict[str, str]:
    """BDDL instance name -> the scene object name the prompt and plans use. The prompt's
    object list is EAI's ``name_mapping.values()``, in ``task.object_scope`` order, which is
    ``behavior_bddl_info``'s ``name_category`` order without the agent."""
    info = _bddl_info(identifier)
    bddl = [(n, c) for n, c in info["name_category"].items() if c != "agent.n.01"]
    assert [c for _, c in bddl] == [c for _, c in prompt_objects], identifier
    return {b: name for (b, _), (name, _) in zip(bddl, prompt_objects)}


def _goal_conditions(identifier: str) -> list:
    """bddl's compiled goal (HEAD per top-level condition, with ``terms`` and
    ``flattened_condition_options``) of the BEHAVIOR-100 problem eai-eval ships."""
    from bddl.backend_abc import BDDLBackend
    from bddl.condition_evaluation import compile_state
    from bddl.logic_base import BinaryAtomicFormula, UnaryAtomicFormula
    from bddl.parsing import parse_problem

    unary = {"cooked", "dusty", "frozen", "open", "sliced", "soaked", "stained", "toggled_on", "burnt"}
    classes: dict = {}

    class Backend(BDDLBackend):  # ground options only: nothing is evaluated against a simulator
        def get_predicate_class(self, name):
            if name not in classes:
                base = UnaryAtomicFormula if name in unary else BinaryAtomicFormula
                classes[name] = type(name, (base,), {"STATE_NAME": name, "_evaluate": lambda *a, **k: False,
                                                     "_sample": lambda *a, **k: None})
            return classes[name]

    path = os.path.join(_data_dir(), "evaluation", "transition_modeling", "resources", "pddl_behavior",
                        identifier + ".pddl")
    with open(path) as f:
        text = f.read()
    _, objects, _, goal = parse_problem(identifier, 0, "igibson", predefined_problem=text)
    scope = {inst: None for insts in objects.values() for inst in insts}
    return compile_state(goal, Backend(), scope=scope, object_map=objects)


class EaiOracle:
    """One EAI task as EAI's evaluator sees it. ``volumes`` and ``tools`` (scene name -> set of
    "Slicer"/"CleaningTool") are the facts EAI does not ship (see the module docstring)."""

    def __init__(self, eai_task, volumes: dict[str, float], tools: dict[str, set[str]],
                 mounted: set[str] = frozenset()):
        m = _eai()
        S = m.stubs["igibson.object_states"]
        URDFObject = m.stubs["igibson.objects.articulated_object"].URDFObject
        RoomFloor = m.stubs["igibson.object_states.on_floor"].RoomFloor
        Multiplexer = m.stubs["igibson.objects.multi_object_wrappers"].ObjectMultiplexer
        self.identifier = eai_task.identifier
        objects_data = _goal_interpretation_data()
        to_scene = bddl_to_scene_names(eai_task.identifier, eai_task.objects)
        info = _bddl_info(eai_task.identifier)
        has_states = {to_scene[b]: set(s) for b, s in objects_data[eai_task.identifier].items() if b in to_scene}
        rooms = {to_scene[b]: r for b, r in _inroom(eai_task.identifier).items() if b in to_scene}

        # Initial facts from the BEHAVIOR-100 :init (scene names).
        unary: dict[tuple[str, str], bool] = {}
        binary: set[tuple[str, str, str]] = set()
        for lit in info["initial_condition"]:
            value = lit[0] != "not"
            lit = lit[1:] if not value else lit
            terms = [to_scene.get(t, t) for t in lit[1:]]
            if len(terms) == 1:
                unary[(lit[0], terms[0])] = value
            elif value:
                binary.add((lit[0], terms[0], terms[1]))
        floors = {name for name, cat in eai_task.objects if cat == "floor.n.01"}
        floor_of_room = {rooms[f]: f for f in floors if f in rooms}
        supported = {a for rel, a, _ in binary if rel in ("ontop", "inside", "onfloor")}
        for name, room in rooms.items():  # furniture stands on its room's floor
            if name not in floors and name not in supported and name not in mounted and room in floor_of_room:
                binary.add(("onfloor", name, floor_of_room[room]))

        state_name = {"Cooked": "cooked", "Dusty": "dusty", "Frozen": "frozen", "Open": "open", "Sliced": "sliced",
                      "Soaked": "soaked", "Stained": "stained", "ToggledOn": "toggled_on"}
        relation_name = {S.Inside: "inside", S.OnTop: "ontop", S.OnFloor: "onfloor", S.Under: "under",
                         S.NextTo: "nextto"}

        def states_for(name: str, own: str) -> dict:
            st = {}
            for s in has_states.get(own, ()):
                if s in state_name:
                    st[getattr(S, s)] = _State(unary.get((state_name[s], name), False))
            for s in tools.get(own, ()):
                st[getattr(S, s)] = _State(True)
            for cls, rel in relation_name.items():
                targets = {b for r, a, b in binary if r == rel and a == name}
                if rel == "nextto":
                    targets |= {a for r, a, b in binary if r == rel and b == name}
                st[cls] = _State(relation=targets)
            return st

        scope = {}
        by_scene = {v: k for k, v in to_scene.items()}
        for name, category in eai_task.objects:
            if category == "floor.n.01":
                obj = RoomFloor(name, states_for(name, name))
            elif "Sliced" in has_states.get(name, ()):
                whole = URDFObject(name, category, states_for(name, name), volumes.get(name, 0.0))
                parts = [URDFObject(f"{name}_part_{k}", category, states_for(f"{name}_part_{k}", name),
                                    volumes.get(name, 0.0) / 2) for k in range(2)]
                obj = Multiplexer(name + "_multiplexer", whole, parts)
            else:
                obj = URDFObject(name, category, states_for(name, name), volumes.get(name, 0.0))
            scope[by_scene[name]] = obj
        task = types.SimpleNamespace(object_scope=scope, goal_conditions=_goal_conditions(eai_task.identifier))
        self.task = task
        self._m = m

    def evaluate(self, actions: list) -> dict:
        """EAI's verdict on a parsed plan: ``evaluation_info`` as ``evaluate_all`` fills it
        (``error_type`` with EAI's keys, ``all_goal_satisfied_graph``), plus ``failed_step``."""
        m = self._m
        ev = m.ase.ActionSequenceEvaluator.__new__(m.ase.ActionSequenceEvaluator)
        ev.task = self.task
        with contextlib.redirect_stdout(open(os.devnull, "w")):
            ev.evolving_graph = m.env.EvalGraphEnv(task=self.task)
        ev.evaluation_info = {
            "error_type": {"parsing": None, "hullucination": None, "arguments": None, "execution_success": True},
            "goal_rst": {"all_goal_satisfied_graph": None, "tot_executable_steps": None},
        }
        ev.object_name = set(ev.evolving_graph.obj_name_to_obj.keys())
        ev.action_name = {a.name for a in m.env.EvalActions}
        ev.evaluation_info["parsed_actions"] = actions
        if not ev.evaluate_format(actions):
            ev.evaluation_info["error_type"]["execution_success"] = False
            return ev.evaluation_info
        graph_success = ev.evaluate_graph_success
        crash: list[str] = []

        def guarded():  # EAI's get_state_dict raises when the graph has no edge left (see below)
            try:
                return graph_success()
            except UnboundLocalError as e:
                crash.append(repr(e))
                return None

        ev.evaluate_graph_success = guarded
        with contextlib.redirect_stdout(open(os.devnull, "w")):
            ev.evaluate_trajectory(actions)
        if crash:
            # GraphState.get_state_dict reads `relation`, a variable of its edge loop, in its
            # ancestor loop: with no edge in the graph it is unbound. Then EAI has no verdict.
            ev.evaluation_info["goal_rst"]["graph_check_error"] = crash[0]
        return ev.evaluation_info


def oracle_verdict(info: dict) -> tuple[bool | None, bool, str | None]:
    """(task success, all steps executable, EAI's fatal error key or None) from evaluation_info;
    success is None where EAI's goal check itself raised."""
    et = info["error_type"]
    success = bool(info["goal_rst"].get("all_goal_satisfied_graph"))
    if info["goal_rst"].get("graph_check_error"):
        success = None
    executable = bool(et.get("execution_success"))
    fatal = None
    if not executable:
        for k in ("parsing", "hullucination", "arguments", "ErrorType.AFFORDANCE_ERROR",
                  "ErrorType.WRONG_TEMPORAL_ORDER", "ErrorType.MISSING_STEP"):
            if et.get(k):
                fatal = k
                break
        if fatal is None and info.get("unknown_execution_error"):
            fatal = "unknown_execution_error"
    return success, executable, fatal


def emx_scene_facts(task) -> tuple[dict[str, float], dict[str, set[str]], set[str]]:
    """The facts EAI does not ship, as emx compiled them for an eai task: volumes and the
    wall-mounted objects (its ``;@emx volume`` / ``mounted`` lines, from emx's size priors) and
    the Slicer / CleaningTool states (its abilities)."""
    volumes, mounted = {}, set()
    for line in task.spec.bddl_text.splitlines():
        if line.startswith(";@emx volume "):
            _, _, name, v = line.split()
            volumes[name] = float(v)
        elif line.startswith(";@emx mounted "):
            mounted.add(line.split()[2])
    tools = {}
    for o in task.objects:
        s = {state for ability, state in (("slicer", "Slicer"), ("cleaning_tool", "CleaningTool"))
             if ability in o.abilities}
        if s:
            tools[o.name] = s
    return volumes, tools, mounted


# emx's error names -> the key EAI's evaluator files the plan under (None: not fatal).
EMX_TO_EAI_ERROR = {
    "format": "parsing", "unknown_action": "hullucination", "unknown_object": "hullucination",
    "wrong_arity": "arguments", "affordance": "ErrorType.AFFORDANCE_ERROR",
    "missing_step": "ErrorType.MISSING_STEP", "wrong_order": "ErrorType.WRONG_TEMPORAL_ORDER",
}


def eai_summary(infos: dict[str, dict], result_dir: str) -> dict:
    """EAI's own summary of a run (``evaluate_results.evaluate_one_llm``, as shipped: its worker
    processes, its counting and rounding) over ``infos`` (identifier -> ``evaluation_info`` from
    EaiOracle.evaluate), with its per-task evaluator answering from ``infos``."""
    m = _eai()
    er = m.results

    class Answer:  # stands in for ActionSequenceEvaluator(demo_name=...) inside EAI's workers
        def __init__(self, demo_name, **_):
            self.demo_name = demo_name
            self.transition_model = types.SimpleNamespace(env=types.SimpleNamespace(close=lambda: None))

        def evaluate_all(self, _raw):
            return infos[self.demo_name]

    os.makedirs(result_dir, exist_ok=True)
    path = os.path.join(result_dir, "plans.json")
    with open(path, "w") as f:
        json.dump([{"identifier": k, "llm_output": ""} for k in infos], f)
    saved = er.ActionSequenceEvaluator
    er.ActionSequenceEvaluator = Answer
    try:
        with contextlib.redirect_stdout(open(os.devnull, "w")):
            return er.evaluate_one_llm(path, worker_num=1, result_dir=result_dir)
    finally:
        er.ActionSequenceEvaluator = saved
