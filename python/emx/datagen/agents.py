"""The LLM data engine: the EmboMatrix roles, each a prompt + parser + validator, run on any
completion backend with the validators in the loop.

Roles (one job = one house and one of its residents' needs):

    social   invents the household: members and their needs, room by room    -> JSON
    command  turns one need into a robot command that decomposes into the EAI
             action vocabulary (at most 8 objects, rooms named)               -> JSON
    writer   writes the BDDL problem (allowed predicates only, inroom only in
             the init); validated for syntax, vocabulary and symbolic
             feasibility (the oracle planner)                                 -> BDDL
    scene    the room level of scene generation: where every movable object
             goes (a tree of ontop/inside relations under the furniture); the
             plane level (positions without overlap) and the object level
             (sizes) are the scene builder's; validated by building the scene
             and settling it in physics                                       -> JSON
    judge    (optional) scores the laid-out scene from its description        -> JSON

A rejected answer is sent back to its agent with the validator's message, up to ``retries``
times. Every rejection is counted by ``role: stage: reason``.

The engine runs many jobs at once: each job is a generator that yields ``Request``s; every
round, the pending requests of all live jobs go to the backend in one batched call (through
``CachedBackend``: identical prompts are asked once, and answers persist on disk by prompt
hash). A finished job appends one line to ``DIR/agent_log.jsonl`` (accepted or not, with its
attempt history), accepted tasks go into the dataset first. A resumed run skips finished jobs,
and an interrupted job replays its answered prompts from the cache: no model call is repeated.
"""

from __future__ import annotations

import collections
import json
import random
import re
import time
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..tasks.knowledge import load_abilities
from .backends import CachedBackend
from .canonical import canonical_goal, canonical_hash
from .catalog import catalog, display_name
from .dataset import Dataset, append_jsonl, read_jsonl
from .validate import ALLOWED_GOAL_PREDICATES, Verdict, validate_bddl

__all__ = ["AgentConfig", "AgentRun", "Request", "extract_bddl", "extract_json", "run_agents", "ROLES"]

GENERATOR = "emx.datagen.agents/1"
ROLES = ("social", "command", "writer", "scene", "judge")
AGENT_LOG = "agent_log.jsonl"
_MAX_TEXT = 64_000
_MAX_JSON_STARTS = 64


# --------------------------------------------------------------------------- parsing model output

def _clean(text: str) -> str:
    text = text[:_MAX_TEXT]
    if "</think>" in text:
        text = text.rsplit("</think>", 1)[1]
    return text


def extract_json(text: str) -> tuple[Any | None, str]:
    """The first JSON object in model text (fences, prose and ``<think>`` tolerated): (object,
    "") or (None, why). Bounded: at most 64 candidate starts, 64 kB of text."""
    if not isinstance(text, str):
        return None, "not text"
    text = _clean(text)
    fence = re.search(r"```(?:json)?\s*(.*?)```", text, re.S)
    candidates = [fence.group(1)] if fence else []
    candidates.append(text)
    decoder = json.JSONDecoder()
    for cand in candidates:
        starts = [m.start() for m in re.finditer(r"\{", cand)][:_MAX_JSON_STARTS]
        for s in starts:
            try:
                obj, _end = decoder.raw_decode(cand, s)
            except (json.JSONDecodeError, RecursionError):
                continue
            if isinstance(obj, dict):
                return obj, ""
    return None, "no JSON object in the answer"


def extract_bddl(text: str) -> tuple[str | None, str]:
    """The ``(define (problem ...) ...)`` form in model text, balanced-paren scan (bounded)."""
    if not isinstance(text, str):
        return None, "not text"
    text = _clean(text)
    m = re.search(r"\(\s*define\s*\(\s*problem\b", text)
    if not m:
        return None, "no (define (problem ...)) form in the answer"
    depth = 0
    i = m.start()
    while i < len(text):
        c = text[i]
        if c == ";":        # a comment runs to the end of the line
            j = text.find("\n", i)
            if j < 0:
                break
            i = j
            continue
        if c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth == 0:
                return text[m.start():i + 1], ""
        i += 1
    return None, "the (define ...) form is not closed (unbalanced parentheses)"


# --------------------------------------------------------------------------- the engine's protocol

@dataclass(frozen=True)
class Request:
    role: str
    prompt: str
    max_tokens: int = 768
    temperature: float = 0.7


@dataclass
class AgentConfig:
    retries: int = 3                  # feedback rounds per role after the first answer
    max_objects: int = 8
    needs_per_house: int = 3
    physical: str | None = "settle"   # "settle" | "layout" | None
    judge: bool = False
    judge_threshold: float = 0.0      # judge score (0-10) below which a scene is rejected
    temperature: float = 0.7
    max_tokens: dict[str, int] = field(default_factory=lambda: {
        "social": 512, "command": 512, "writer": 1200, "scene": 600, "judge": 128})


@dataclass
class Attempt:
    role: str
    attempt: int
    transcript: str
    ok: bool
    stage: str          # "parse" | validator stage
    reason: str
    message: str = ""

    def to_dict(self) -> dict:
        return {"role": self.role, "attempt": self.attempt, "transcript": self.transcript, "ok": self.ok,
                "stage": self.stage, "reason": self.reason, "message": self.message[:400]}


class _Reject(Exception):
    def __init__(self, stage: str, reason: str, message: str) -> None:
        super().__init__(message)
        self.stage, self.reason, self.message = stage, reason, message


@dataclass
class _Job:
    id: str
    house: int
    need_index: int
    attempts: list[Attempt] = field(default_factory=list)
    outcome: str = "running"          # accepted | rejected
    final_stage: str = ""
    final_reason: str = ""
    task: Any = None                   # GeneratedTask when accepted


# --------------------------------------------------------------------------- houses and inventories

_ACTIONS = ("LEFT_GRASP", "RIGHT_GRASP", "LEFT_PLACE_ONTOP", "RIGHT_PLACE_ONTOP", "LEFT_PLACE_INSIDE",
            "RIGHT_PLACE_INSIDE", "LEFT_PLACE_NEXTTO", "RIGHT_PLACE_NEXTTO", "LEFT_PLACE_UNDER", "RIGHT_PLACE_UNDER",
            "LEFT_PLACE_NEXTTO_ONTOP", "RIGHT_PLACE_NEXTTO_ONTOP", "LEFT_RELEASE", "RIGHT_RELEASE", "OPEN", "CLOSE",
            "COOK", "CLEAN", "FREEZE", "UNFREEZE", "SLICE", "SOAK", "DRY", "TOGGLE_ON", "TOGGLE_OFF",
            "LEFT_TRANSFER_CONTENTS_INSIDE", "RIGHT_TRANSFER_CONTENTS_INSIDE", "LEFT_TRANSFER_CONTENTS_ONTOP",
            "RIGHT_TRANSFER_CONTENTS_ONTOP")
_ACTION_NEEDS = {"OPEN": "openable", "CLOSE": "openable", "TOGGLE_ON": "toggleable", "TOGGLE_OFF": "toggleable",
                 "COOK": "cookable", "SLICE": "sliceable", "SOAK": "soakable", "DRY": "soakable",
                 "FREEZE": "freezable", "UNFREEZE": "freezable"}
_ROOM_ITEMS_SHOWN = 30


def _house(seed: int, house: int) -> dict[str, list[str]]:
    """room -> furniture categories of one drawn house (3-5 rooms, the kitchen always)."""
    cat = catalog()
    rng = random.Random(f"emx-house:{seed}:{house}")
    others = [r for r in cat.rooms if r != "kitchen"]
    rooms = ["kitchen"] + rng.sample(others, rng.randint(2, 4))
    return {r: [f.category for f in cat.rooms[r]] for r in rooms}


def _inventory(seed: int, house: int, rooms: Sequence[str]) -> dict[str, list[str]]:
    """room -> movable item categories offered to the command agent (a seeded sample)."""
    cat = catalog()
    rng = random.Random(f"emx-inventory:{seed}:{house}")
    out = {}
    for r in rooms:
        pool = [i.category for i in cat.room_items.get(r, ())]
        out[r] = sorted(rng.sample(pool, min(_ROOM_ITEMS_SHOWN, len(pool))))
        out[r] += sorted(t.category for t in cat.tools.values() if t.category not in out[r] and r == "kitchen")
    return out


def _abilities(category: str) -> list[str]:
    shown = ("openable", "toggleable", "cookable", "freezable", "sliceable", "soakable", "container",
             "cleaning_tool", "slicer", "cooking_vessel", "water_source", "fixed")
    return [a for a in shown if a in load_abilities().get(category, ())]


# --------------------------------------------------------------------------- prompts

def social_prompt(house_id: int, house: dict[str, list[str]]) -> str:
    rooms = "\n".join(f"- {r}: {', '.join(display_name(c) for c in furn)}" for r, furn in house.items())
    return (
        "You simulate the people living in a house, to find chores a household robot could do.\n"
        f"House #{house_id} has these rooms and furniture:\n{rooms}\n\n"
        "Invent 2-4 household members. For each, list 2-3 everyday needs, each tied to one room of the "
        "house (something to put away, fetch, open, switch on or off, clean, cook, slice, freeze or soak).\n"
        "Answer with one JSON object only:\n"
        '{"members": [{"name": "Ana", "role": "parent", "needs": [{"room": "kitchen", '
        '"need": "wants the apples out of the fridge before breakfast"}]}]}\n'
    )


def command_prompt(need: dict, house: dict[str, list[str]], inventory: dict[str, list[str]], max_objects: int) -> str:
    lines = []
    for r in house:
        lines.append(f"{r}:")
        lines.append("  furniture: " + ", ".join(f"{c} ({'/'.join(_abilities(c)) or '-'})" for c in house[r]))
        lines.append("  items: " + ", ".join(f"{c} ({'/'.join(_abilities(c)) or '-'})" for c in inventory[r]))
    return (
        "You turn a household member's need into one command for a household robot.\n"
        f"Need ({need.get('member', 'someone')}, {need['room']}): {need['need']}\n\n"
        "Objects available (category (abilities)), by room:\n" + "\n".join(lines) + "\n\n"
        f"Rules: use at most {max_objects} objects, only categories listed above; name the rooms; the "
        "command must be doable with these robot actions: " + ", ".join(_ACTIONS) + ". OPEN/CLOSE need "
        "openable, TOGGLE_* toggleable, COOK cookable (in a pan), SLICE sliceable (a knife in hand), SOAK "
        "soakable (in a running sink), CLEAN needs a cleaning tool.\n"
        "Answer with one JSON object only:\n"
        '{"command": "Put the apple from the kitchen countertop into the fridge.", "rooms": ["kitchen"], '
        '"objects": [{"name": "apple", "category": "apple.n.01", "room": "kitchen"}, {"name": "fridge", '
        '"category": "electric_refrigerator.n.01", "room": "kitchen"}, {"name": "countertop", "category": '
        '"countertop.n.01", "room": "kitchen"}], "actions": ["RIGHT_GRASP apple", "OPEN fridge", '
        '"RIGHT_PLACE_INSIDE fridge"]}\n'
    )


_WRITER_EXAMPLE = """(define (problem put_the_apple_in_the_fridge-0)
    (:domain omnigibson)
    (:objects
        apple.n.01_1 - apple.n.01
        countertop.n.01_1 - countertop.n.01
        electric_refrigerator.n.01_1 - electric_refrigerator.n.01
        floor.n.01_1 - floor.n.01
        agent.n.01_1 - agent.n.01
    )
    (:init
        (ontop apple.n.01_1 countertop.n.01_1)
        (inroom countertop.n.01_1 kitchen)
        (inroom electric_refrigerator.n.01_1 kitchen)
        (inroom floor.n.01_1 kitchen)
        (ontop agent.n.01_1 floor.n.01_1)
    )
    (:goal
        (and
            (inside apple.n.01_1 electric_refrigerator.n.01_1)
            (not (open electric_refrigerator.n.01_1))
        )
    )
)"""


def writer_prompt(command: dict, max_objects: int) -> str:
    objs = "\n".join(f"- {o['name']}: {o['category']} in {o.get('room', '?')} ({'/'.join(_abilities(o['category'])) or '-'})"
                     for o in command["objects"])
    return (
        "You write BDDL problem files (BEHAVIOR-1K style) for household robot commands.\n"
        f"Command: {command['command']}\nRooms: {', '.join(command['rooms'])}\nObjects:\n{objs}\n\n"
        "Rules: instances are named CATEGORY_N (apple.n.01_1); declare a floor.n.01 per room and agent.n.01_1; "
        "in :init, every piece of furniture and every floor gets (inroom X ROOM), every item gets "
        "(ontop X Y) or (inside X Y), and the agent stands on a floor; inroom appears only in :init; "
        f"at most {max_objects} objects besides floors and the agent; goal predicates: "
        + ", ".join(sorted(ALLOWED_GOAL_PREDICATES)) + "; operators: and, or, not, forall, exists. "
        "The goal must not hold already in :init.\n\n"
        f"Example:\n{_WRITER_EXAMPLE}\n\nAnswer with the BDDL problem only.\n"
    )


def scene_prompt(task, furniture: dict[str, str], movable: list[str]) -> str:
    furn = "\n".join(f"- {n} ({c}) in {r}" for n, (c, r) in furniture.items())
    return (
        "You arrange a household scene (the room level: which furniture each object stands on or in).\n"
        f"Task: {task.command}\nFurniture:\n{furn}\nMovable objects: {', '.join(movable)}\n\n"
        "Give each movable object a support: furniture above, a floor, or another movable container. "
        "Use 'inside' only for containers; keep objects that the task moves away from where it must end.\n"
        "Answer with one JSON object only:\n"
        '{"placements": [{"object": "apple.n.01_1", "relation": "ontop", "support": "countertop.n.01_1"}]}\n'
    )


def judge_prompt(task, scene: dict) -> str:
    rows = []
    for o in scene.get("objects", [])[:40]:
        pos = o.get("position")
        where = f" at ({', '.join(f'{float(v):.2f}' for v in pos[:3])})" if isinstance(pos, list) else ""
        placed = o.get("placed_by") or {}
        on = f", {placed['relation']} {placed['target']}" if placed.get("relation") else ""
        rows.append(f"- {o.get('name')} ({o.get('category')}) in {o.get('room')}{where}{on}")
    return (
        "You judge whether a generated household scene is plausible and suits the task.\n"
        f"Task: {task.command}\nObjects:\n" + "\n".join(rows) + "\n\n"
        'Answer with one JSON object only: {"score": 0-10, "reason": "..."}\n'
    )


def _feedback(prompt: str, answer: str, message: str) -> str:
    return (prompt + "\n\nYour previous answer:\n" + answer[:3000] + "\n\nIt was rejected: " + message
            + "\nFix the problem and answer again in the same format.\n")


# --------------------------------------------------------------------------- validators per role

def _check_social(obj: Any, house: dict[str, list[str]]) -> list[dict]:
    members = obj.get("members") if isinstance(obj, dict) else None
    if not isinstance(members, list) or not members:
        raise _Reject("schema", "no members", 'expected {"members": [...]} with at least one member')
    needs = []
    for m in members[:8]:
        if not isinstance(m, dict):
            continue
        for nd in (m.get("needs") or [])[:6]:
            if not isinstance(nd, dict) or not isinstance(nd.get("need"), str) or not nd["need"].strip():
                continue
            room = str(nd.get("room", "")).strip().lower().replace(" ", "_")
            if room not in house:
                continue
            needs.append({"member": str(m.get("name", "someone"))[:40], "room": room, "need": nd["need"].strip()[:300]})
    if not needs:
        raise _Reject("schema", "no usable need",
                      "no need names a room of this house (rooms: " + ", ".join(house) + ")")
    return needs


def _check_command(obj: Any, house: dict[str, list[str]], max_objects: int) -> dict:
    table = load_abilities()
    if not isinstance(obj, dict) or not isinstance(obj.get("command"), str) or len(obj["command"].split()) < 2:
        raise _Reject("schema", "no command", 'expected "command": a sentence')
    objects = obj.get("objects")
    if not isinstance(objects, list) or not objects:
        raise _Reject("schema", "no objects", 'expected "objects": [{"name", "category", "room"}, ...]')
    if len(objects) > max_objects:
        raise _Reject("vocabulary", "too many objects", f"{len(objects)} objects; at most {max_objects}")
    rooms = [str(r).strip().lower().replace(" ", "_") for r in obj.get("rooms") or []]
    if not rooms:
        raise _Reject("schema", "no rooms", 'expected "rooms": the rooms the command involves')
    bad_rooms = [r for r in rooms if r not in house]
    if bad_rooms:
        raise _Reject("vocabulary", "unknown room", f"rooms not in this house: {', '.join(bad_rooms)}")
    by_name: dict[str, dict] = {}
    for o in objects:
        if not isinstance(o, dict) or not isinstance(o.get("category"), str) or not isinstance(o.get("name"), str):
            raise _Reject("schema", "bad object", 'each object needs "name" and "category"')
        if o["category"] not in table:
            raise _Reject("vocabulary", "unknown category", f"{o['category']} is not a known category")
        room = str(o.get("room", rooms[0])).strip().lower().replace(" ", "_")
        if room not in house:
            raise _Reject("vocabulary", "unknown room", f"{o['name']}: room {room!r} is not in this house")
        by_name[o["name"]] = {"name": o["name"], "category": o["category"], "room": room}
    actions = obj.get("actions")
    if not isinstance(actions, list) or not actions:
        raise _Reject("schema", "no actions", 'expected "actions": ["RIGHT_GRASP apple", ...]')
    for a in actions[:40]:
        words = str(a).replace(",", " ").split()
        if not words or words[0].upper() not in _ACTIONS:
            raise _Reject("vocabulary", "unknown action", f"{str(a)[:60]!r}: actions are {', '.join(_ACTIONS)}")
        for arg in words[1:]:
            if arg not in by_name:
                raise _Reject("vocabulary", "unknown object in action", f"{str(a)[:60]!r}: {arg!r} is not in objects")
        need = _ACTION_NEEDS.get(words[0].upper())
        if need and len(words) > 1 and need not in table.get(by_name[words[1]]["category"], ()):
            raise _Reject("vocabulary", f"not {need}",
                          f"{str(a)[:60]!r}: {by_name[words[1]]['category']} is not {need}")
    return {"command": obj["command"].strip()[:300], "rooms": rooms, "objects": list(by_name.values()),
            "actions": [str(a)[:80] for a in actions[:40]]}


def _check_scene(obj: Any, objects: dict[str, str], movable: list[str]) -> list[tuple[str, str, str]]:
    table = load_abilities()
    placements = obj.get("placements") if isinstance(obj, dict) else None
    if not isinstance(placements, list):
        raise _Reject("schema", "no placements", 'expected {"placements": [...]}')
    out: dict[str, tuple[str, str]] = {}
    for p in placements[:64]:
        if not isinstance(p, dict):
            continue
        o, rel, sup = str(p.get("object", "")), str(p.get("relation", "")), str(p.get("support", ""))
        if o not in movable:
            raise _Reject("vocabulary", "unknown object", f"{o!r} is not a movable object of the task")
        if sup not in objects or sup == o:
            raise _Reject("vocabulary", "unknown support", f"{o}: support {sup!r} is not an object of the task")
        if rel not in ("ontop", "inside"):
            raise _Reject("vocabulary", "bad relation", f"{o}: relation must be ontop or inside, got {rel!r}")
        if rel == "inside" and not (table.get(objects[sup], frozenset()) & {"container", "openable"}):
            raise _Reject("vocabulary", "not container", f"{o}: {objects[sup]} is not a container")
        out[o] = (rel, sup)
    # no cycles in the support tree
    for start in out:
        seen, cur = {start}, out[start][1]
        while cur in out:
            if cur in seen:
                raise _Reject("vocabulary", "support cycle", f"{start}'s supports form a cycle")
            seen.add(cur)
            cur = out[cur][1]
    missing = [m for m in movable if m not in out]
    if missing:
        raise _Reject("schema", "object without support", f"no placement for {', '.join(missing[:5])}")
    return [(rel, o, sup) for o, (rel, sup) in out.items()]


def _merge_placements(bddl: str, placements: list[tuple[str, str, str]]) -> str:
    """The writer's BDDL with the init's ontop/inside/onfloor facts of placed objects replaced."""
    placed = {o for _r, o, _s in placements}
    m = re.search(r"\(:init(.*?)\)\s*\(:goal", bddl, re.S)
    if not m:
        return bddl
    body = m.group(1)
    kept = []
    for lit in re.findall(r"\((?:[^()]|\([^()]*\))*\)", body):
        words = lit.strip("()").split()
        if len(words) == 3 and words[0] in ("ontop", "inside", "onfloor") and words[1] in placed:
            continue
        kept.append(lit)
    kept += [f"({r} {o} {s})" for r, o, s in placements]
    new_init = "(:init\n        " + "\n        ".join(kept) + "\n    )\n    (:goal"
    return bddl[:m.start()] + new_init + bddl[m.end():]


# --------------------------------------------------------------------------- one job

def _job(job: _Job, seed: int, cfg: AgentConfig, seen_ids: dict[str, str | None]) -> Generator[Request, tuple[str, str], None]:
    # seen_ids: task id -> the job that made it (None for tasks from elsewhere): a job resumed
    # after a crash between writing its task and logging itself finds its own task, not a duplicate
    """A generator: yields Requests, receives (transcript id, text); fills job.outcome/task."""
    from .offline import _generated

    house = _house(seed, job.house)
    temp = cfg.temperature

    def ask(role: str, prompt: str, check: Callable[[str], Any]):
        """Asks, validates, feeds errors back; returns check's value or raises _Reject (final)."""
        p = prompt
        last: _Reject | None = None
        for attempt in range(cfg.retries + 1):
            tid, text = yield Request(role, p, cfg.max_tokens.get(role, 768), temp)
            try:
                value = check(text)
            except _Reject as r:
                job.attempts.append(Attempt(role, attempt, tid, False, r.stage, r.reason, r.message))
                last = r
                p = _feedback(prompt, text, r.message)
                continue
            job.attempts.append(Attempt(role, attempt, tid, True, "accepted", ""))
            return value
        assert last is not None
        raise last

    def parsed_json(fn):
        def check(text: str):
            obj, why = extract_json(text)
            if obj is None:
                raise _Reject("parse", "no JSON", why)
            return fn(obj)
        return check

    try:
        # social: the household and its needs (one prompt per house: shared by its jobs via the cache)
        needs = yield from ask("social", social_prompt(job.house, house), parsed_json(lambda o: _check_social(o, house)))
        if job.need_index >= len(needs):
            raise _Reject("social", "fewer needs than jobs", f"{len(needs)} usable needs")
        need = needs[job.need_index]
        inventory = _inventory(seed, job.house, list(house))

        command = yield from ask("command", command_prompt(need, house, inventory, cfg.max_objects),
                                 parsed_json(lambda o: _check_command(o, house, cfg.max_objects)))

        verdicts: dict[str, Verdict] = {}

        def check_bddl(text: str) -> str:
            bddl, why = extract_bddl(text)
            if bddl is None:
                raise _Reject("parse", "no BDDL", why)
            bddl = f";; command: {' '.join(command['command'].split())}\n" + bddl
            v = validate_bddl(bddl, job.id, max_objects=cfg.max_objects)
            if not v.ok:
                raise _Reject(v.stage or "syntax", v.reason, v.message)
            verdicts["writer"] = v
            return bddl

        bddl = yield from ask("writer", writer_prompt(command, cfg.max_objects), check_bddl)
        task = verdicts["writer"].task
        objects = {o.name: o.category for o in task.objects}
        table = load_abilities()
        furniture = {o.name: (o.category, o.room or "?") for o in task.objects
                     if table.get(o.category, frozenset()) & {"fixed", "floor"}}
        movable = [o.name for o in task.visible_objects if o.name not in furniture]

        final: dict[str, Any] = {"bddl": bddl, "verdict": verdicts["writer"]}
        if cfg.physical and movable:
            def check_scene(text: str) -> str:
                obj, why = extract_json(text)
                if obj is None:
                    raise _Reject("parse", "no JSON", why)
                merged = _merge_placements(bddl, _check_scene(obj, objects, movable))
                v = validate_bddl(merged, job.id, max_objects=cfg.max_objects, physical=True,
                                  settle=cfg.physical == "settle", seed=seed)
                if not v.ok:
                    raise _Reject(v.stage or "physical", v.reason, v.message)
                final["bddl"], final["verdict"] = merged, v
                return merged

            yield from ask("scene", scene_prompt(task, furniture, movable), check_scene)

        judge_score = None
        if cfg.judge and final["verdict"].scene is not None:
            def check_judge(text: str) -> float:
                obj, why = extract_json(text)
                if obj is None:
                    raise _Reject("parse", "no JSON", why)
                score = obj.get("score")
                if isinstance(score, bool) or not isinstance(score, (int, float)) or not 0 <= score <= 10:
                    raise _Reject("schema", "no score", 'expected {"score": 0-10}')
                return float(score)

            judge_score = yield from ask("judge", judge_prompt(final["verdict"].task, final["verdict"].scene), check_judge)
            if judge_score < cfg.judge_threshold:
                raise _Reject("judge", "low score", f"judge scored {judge_score} < {cfg.judge_threshold}")

        # dedup on the canonical goal, as the offline generator does
        from .. import _core

        parsed = _core.parse_problem(final["bddl"], job.id)
        cats = dict(parsed["objects"])
        rooms = {w[1]: w[2] for w in (lit.strip("()").split() for lit in parsed["init"]) if len(w) == 3 and w[0] == "inroom"}
        canon = canonical_goal(list(parsed["goal"]), cats, rooms)
        task_id = f"agent_{canonical_hash(canon)}"
        if task_id in seen_ids and seen_ids[task_id] != job.id:
            raise _Reject("dedup", "same canonical goal", f"a task with this goal already exists ({task_id})")
        seen_ids[task_id] = job.id
        v = final["verdict"]
        meta = {
            "id": task_id, "source": "agents", "generator": GENERATOR, "seed": seed, "job": job.id,
            "house": job.house, "need": need, "command": command["command"], "rooms": command["rooms"],
            "command_actions": command["actions"], "categories": sorted(set(cats.values())),
            "n_objects": sum(1 for c in cats.values() if not (table.get(c, frozenset()) & {"floor", "agent"})),
            "goal_literals": len(task.goal_conditions), "plan_length": len(v.plan or ()),
            "canonical_goal": canon, "validation": v.to_dict(), "judge_score": judge_score,
            "transcripts": [a.transcript for a in job.attempts],
        }
        job.task = _generated(task_id, final["bddl"], command["command"], meta, source="agents")
        job.outcome = "accepted"
    except _Reject as r:
        job.outcome = "rejected"
        job.final_stage, job.final_reason = r.stage, r.reason
        if job.attempts:
            job.final_stage = f"{job.attempts[-1].role}: {r.stage}" if r.stage not in ("dedup", "judge") else r.stage


# --------------------------------------------------------------------------- the engine

@dataclass
class AgentRun:
    accepted: int
    rejected: int
    skipped: int
    seconds: float
    model_calls: int               # prompts sent to the backend (cache misses)
    cache_hits: int
    rejections: dict[str, int]     # "role: stage: reason" per attempt
    final: dict[str, int]          # job outcome: "accepted" or the rejecting role/stage/reason
    stages: dict[str, dict[str, int]]   # role -> {"in", "passed"} per attempt

    def summary(self) -> dict:
        return {"source": "agents", "accepted": self.accepted, "rejected": self.rejected, "skipped": self.skipped,
                "seconds": round(self.seconds, 3), "model_calls": self.model_calls, "cache_hits": self.cache_hits,
                "rejections": self.rejections, "final": self.final, "stages": self.stages}


def agent_stats(rows: Sequence[dict]) -> dict:
    """Acceptance per role and rejections by reason, from agent_log rows (any number of runs)."""
    stages: dict[str, dict[str, int]] = {r: {"in": 0, "passed": 0} for r in ROLES}
    rejections: collections.Counter = collections.Counter()
    final: collections.Counter = collections.Counter()
    for row in rows:
        final["accepted" if row.get("outcome") == "accepted" else f"{row.get('final_stage')}: {row.get('final_reason')}"] += 1
        for a in row.get("attempts", []):
            s = stages.setdefault(a["role"], {"in": 0, "passed": 0})
            s["in"] += 1
            if a["ok"]:
                s["passed"] += 1
            else:
                rejections[f"{a['role']}: {a['stage']}: {a['reason']}"] += 1
    return {"stages": {k: v for k, v in stages.items() if v["in"]}, "rejections": dict(rejections.most_common()),
            "final": dict(final.most_common())}


def run_agents(backend: Any, out_dir: str | Path, houses: int, seed: int = 0, config: AgentConfig | None = None,
               concurrency: int = 64, cache_dir: str | Path | None = None, max_jobs: int | None = None,
               progress: Callable[[int, int], None] | None = None) -> AgentRun:
    """Runs the agents over ``houses`` houses (``config.needs_per_house`` jobs each) into the
    dataset ``out_dir``. ``backend``: a completion backend (wrapped in a CachedBackend at
    ``cache_dir``, default ``out_dir/agent_cache``). ``max_jobs``: stop after finishing this many
    jobs in this call (an interruption, for tests)."""
    cfg = config or AgentConfig()
    t0 = time.perf_counter()
    ds = Dataset(out_dir)
    ds.root.mkdir(parents=True, exist_ok=True)
    cached = backend if isinstance(backend, CachedBackend) else CachedBackend(backend, cache_dir or ds.root / "agent_cache")
    hits0, misses0 = cached.hits, cached.misses
    log_path = ds.root / AGENT_LOG
    done = {row["job"] for row in read_jsonl(log_path) if isinstance(row.get("job"), str)}
    seen_ids: dict[str, str | None] = {tid: row.get("job") for tid, row in ds.metadata().items()}
    all_jobs = [_Job(f"s{seed}-h{h:05d}-n{j}", h, j) for h in range(houses) for j in range(cfg.needs_per_house)]
    todo = [j for j in all_jobs if j.id not in done]
    skipped = len(all_jobs) - len(todo)
    live: list[tuple[_Job, Generator, Request]] = []
    finished: list[_Job] = []
    queue = list(reversed(todo))
    existing = set(seen_ids)

    def start(job: _Job) -> None:
        gen = _job(job, seed, cfg, seen_ids)
        try:
            req = next(gen)
        except StopIteration:
            finish(job)
            return
        live.append((job, gen, req))

    def finish(job: _Job) -> None:
        if job.outcome == "accepted" and job.task.id not in existing:
            ds.add(job.task)
            existing.add(job.task.id)
        row = {"job": job.id, "outcome": job.outcome, "final_stage": job.final_stage, "final_reason": job.final_reason,
               "task": job.task.id if job.task else None, "attempts": [a.to_dict() for a in job.attempts]}
        append_jsonl(log_path, [row])
        finished.append(job)
        if progress is not None:
            progress(len(finished), len(todo))

    while (queue or live) and (max_jobs is None or len(finished) < max_jobs):
        while queue and len(live) < concurrency:
            start(queue.pop())
        if not live:
            break
        # one batched call per distinct sampling setting
        groups: dict[tuple[int, float], list[int]] = collections.defaultdict(list)
        for i, (_j, _g, req) in enumerate(live):
            groups[(req.max_tokens, req.temperature)].append(i)
        answers: dict[int, tuple[str, str]] = {}
        for (max_tokens, temperature), idx in groups.items():
            got = cached.complete_ids([live[i][2].prompt for i in idx], 1, max_tokens=max_tokens,
                                      temperature=temperature, seed=seed, roles=[live[i][2].role for i in idx])
            for i, (tid, texts) in zip(idx, got):
                answers[i] = (tid, texts[0] if texts else "")
        still: list[tuple[_Job, Generator, Request]] = []
        for i, (job, gen, _req) in enumerate(live):
            try:
                nxt = gen.send(answers[i])
                still.append((job, gen, nxt))
            except StopIteration:
                if max_jobs is None or len(finished) < max_jobs:
                    finish(job)
        live = still

    rows = list(read_jsonl(log_path))
    stats = agent_stats([r for r in rows if r["job"] in {j.id for j in finished}])
    summary_counts = collections.Counter(j.outcome for j in finished)
    run = AgentRun(accepted=summary_counts["accepted"], rejected=summary_counts["rejected"], skipped=skipped,
                   seconds=time.perf_counter() - t0, model_calls=cached.misses - misses0,
                   cache_hits=cached.hits - hits0, rejections=stats["rejections"], final=stats["final"],
                   stages=stats["stages"])
    ds.add_summary({**run.summary(), "backend": cached.name, "houses": houses, "seed": seed})
    return run
