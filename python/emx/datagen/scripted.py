"""A scripted stand-in for the agents' model: reads each role's prompt and answers sensibly, with
one deliberate mistake per BDDL problem (furniture without its room) that the validator catches
and the feedback round fixes. Deterministic; no model needed.

    emx gen tasks --agents scripted:emx.datagen.scripted:demo_agent --houses 4 --out DIR

Tests use it to drive the whole feedback loop; people use it to try the pipeline dry.
"""

from __future__ import annotations

import hashlib
import json
import re

from ..tasks.knowledge import load_abilities

__all__ = ["demo_agent"]


def _h(text: str) -> int:
    return int(hashlib.sha1(text.encode("utf-8")).hexdigest()[:8], 16)


def _social(prompt: str) -> str:
    rooms = re.findall(r"^- (\w+): ", prompt, re.M)
    needs = [{"room": r, "need": f"wants things tidied in the {r.replace('_', ' ')}"} for r in rooms[:3]]
    needs.insert(0, {"room": "kitchen", "need": "wants the groceries put away"})
    return json.dumps({"members": [{"name": "Ana", "role": "parent", "needs": needs}]})


def _command(prompt: str) -> str:
    table = load_abilities()
    need = re.search(r"^Need \([^,]*, (\w+)\): (.*)$", prompt, re.M)
    room = need.group(1) if need else "kitchen"
    block = re.search(rf"^{room}:\n  furniture: (.*)\n  items: (.*)$", prompt, re.M)
    if not block:
        return "{}"
    furniture = re.findall(r"([\w.]+\.n\.\d+) \(([^)]*)\)", block.group(1))
    items = [c for c, ab in re.findall(r"([\w.]+\.n\.\d+) \(([^)]*)\)", block.group(2)) if "__" not in c]
    if not items or not furniture:
        return "{}"
    item = items[_h(prompt) % len(items)]
    containers = [c for c, ab in furniture if "container" in ab.split("/")]
    surfaces = [c for c, ab in furniture if "container" not in ab.split("/")]
    dest = (containers or surfaces)[_h(prompt + "d") % len(containers or surfaces)]
    src = (surfaces or containers)[0]
    rel = "INSIDE" if "container" in table.get(dest, ()) else "ONTOP"
    objects = [{"name": n, "category": c, "room": room} for n, c in
               (("thing", item), ("target", dest), ("source", src)) if not (n == "source" and c == dest)]
    actions = ["RIGHT_GRASP thing"] + (["OPEN target"] if "openable" in table.get(dest, ()) else []) + [
        f"RIGHT_PLACE_{rel} target"]
    word = item.split(".")[0].replace("_", " ")
    where = dest.split(".")[0].replace("_", " ")
    return json.dumps({"command": f"Put the {word} {'in' if rel == 'INSIDE' else 'on'} the {where}.",
                       "rooms": [room], "objects": objects, "actions": actions})


def _writer(prompt: str) -> str:
    table = load_abilities()
    objs = re.findall(r"^- (\w+): ([\w.]+) in (\w+)", prompt, re.M)
    rooms = sorted({r for _n, _c, r in objs})
    names = {}
    counts: dict[str, int] = {}
    for n, c, _r in objs:
        counts[c] = counts.get(c, 0) + 1
        names[n] = f"{c}_{counts[c]}"
    decl = [f"{names[n]} - {c}" for n, c, _r in objs] + [f"floor.n.01_{i + 1} - floor.n.01" for i in range(len(rooms))]
    floors = {r: f"floor.n.01_{i + 1}" for i, r in enumerate(rooms)}
    fixed = [(n, c, r) for n, c, r in objs if "fixed" in table.get(c, ())]
    init = []
    mistake = "It was rejected" not in prompt     # first answer: forget the furniture's rooms
    for n, c, r in fixed:
        if not mistake:
            init.append(f"(inroom {names[n]} {r})")
    surface = next((names[n] for n, c, r in fixed if "container" not in table.get(c, ())), None)
    for n, c, r in objs:
        if "fixed" not in table.get(c, ()):
            init.append(f"(ontop {names[n]} {surface or floors[r]})")
    init += [f"(inroom {f} {r})" for r, f in floors.items()] + [f"(ontop agent.n.01_1 {floors[rooms[0]]})"]
    goal = "(true)"
    if "thing" in names and "target" in names:
        target_cat = dict((n, c) for n, c, _r in objs)["target"]
        rel = "inside" if "container" in table.get(target_cat, ()) else "ontop"
        goal = f"({rel} {names['thing']} {names['target']})"
    return ("```lisp\n(define (problem scripted-0)\n  (:domain omnigibson)\n  (:objects\n    "
            + "\n    ".join(decl) + "\n    agent.n.01_1 - agent.n.01\n  )\n  (:init\n    " + "\n    ".join(init)
            + "\n  )\n  (:goal (and " + goal + "))\n)\n```")


def _scene(prompt: str) -> str:
    table = load_abilities()
    furniture = re.findall(r"^- ([\w.]+) \(([\w.]+)\) in (\w+)", prompt, re.M)
    movable = re.search(r"^Movable objects: (.*)$", prompt, re.M)
    names = [m.strip() for m in movable.group(1).split(",")] if movable else []
    surfaces = [n for n, c, _r in furniture if not (table.get(c, frozenset()) & {"container", "floor"})]
    floors = [n for n, c, _r in furniture if "floor" in table.get(c, ())]
    support = (surfaces or floors or [""])[0]
    return json.dumps({"placements": [{"object": n, "relation": "ontop", "support": support} for n in names]})


def demo_agent(prompt: str, k: int = 0) -> str:
    """Answers any agent prompt of emx.datagen.agents."""
    if prompt.startswith("You simulate the people"):
        return _social(prompt)
    if prompt.startswith("You turn a household member's need"):
        return _command(prompt)
    if prompt.startswith("You write BDDL"):
        return _writer(prompt)
    if prompt.startswith("You arrange a household scene"):
        return _scene(prompt)
    if prompt.startswith("You judge"):
        return '{"score": 7, "reason": "plausible"}'
    return "I do not know."
