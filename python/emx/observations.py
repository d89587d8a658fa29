"""What a policy sees. Three kinds, and each policy declares which it takes (its ``observations``
attribute, e.g. ``("text",)`` or ``("text", "schematic")``):

* ``text``: the world as words. EAI style: the true facts as EAI's flat lists
  (``['ontop', 'apple_0', 'table_1']``); native (EmboMatrix) style: indexed objects with their
  relations and states.
* ``schematic``: a top-down drawing of the task's scene (rooms, furniture, numbered items), made
  on the CPU with matplotlib. In physics mode it follows the world (object boxes are read from
  SAPIEN); in symbolic mode there is no geometry, so it shows the initial layout and the text
  carries the changes.
* ``rgb``: a SAPIEN camera picture from the robot's head, where a render device exists
  (``emx.sim.render.render_available()`` says why not otherwise).
"""

from __future__ import annotations

import copy
import io
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .task import Task

OBSERVATION_KINDS = ("text", "schematic", "rgb")

__all__ = ["OBSERVATION_KINDS", "Observation", "observe", "rgb_image", "schematic_image", "state_text",
           "check_kinds"]


@dataclass(frozen=True)
class Observation:
    text: str
    image: np.ndarray | None = None     # (H, W, 3) uint8: the schematic or the RGB picture
    image_kind: str | None = None       # "schematic" | "rgb" | None

    def parts(self) -> list[dict[str, Any]]:
        """The observation as chat-message content parts (image first, as VLM prompts put it)."""
        parts: list[dict[str, Any]] = []
        if self.image is not None:
            parts.append({"type": "image", "image": self.image})
        parts.append({"type": "text", "text": self.text})
        return parts


def check_kinds(kinds: Sequence[str]) -> tuple[str, ...]:
    kinds = tuple(kinds)
    bad = [k for k in kinds if k not in OBSERVATION_KINDS]
    if bad:
        raise ValueError(f"unknown observation kind(s) {bad} (expected some of {', '.join(OBSERVATION_KINDS)})")
    if "schematic" in kinds and "rgb" in kinds:
        raise ValueError("a policy takes one image: 'schematic' or 'rgb', not both")
    return kinds


def _atoms(task: Task, state: Any) -> list[tuple[str, str, str]]:
    # slice parts before slicing and the agent itself are not things a policy is told about
    visible = {o.name for o in task.visible_objects}
    return [a for a in task.core.true_atoms(state) if a[1] in visible and (not a[2] or a[2] in visible)]


def state_text(task: Task, state: Any = None, fmt: str = "eai") -> str:
    """The world state as text: EAI's flat fact lists, or (``native``) indexed objects with what
    holds of each. ``state`` defaults to the task's initial state."""
    state = task.core.initial_state if state is None else state
    atoms = _atoms(task, state)
    if fmt == "eai":
        return "\n".join(repr([p, a, b] if b else [p, a]) for p, a, b in atoms)
    if fmt != "native":
        raise ValueError(f"unknown text observation format {fmt!r} (expected 'eai' or 'native')")
    index = {o.name: o.index for o in task.objects}
    facts: dict[str, list[str]] = {}
    for p, a, b in atoms:
        facts.setdefault(a, []).append(f"{p} {index.get(b, '?')}:{b}" if b else p)
    lines = []
    for o in task.visible_objects:
        where = f" in {o.room}" if o.room else ""
        lines.append(f"{o.index}: {o.name}{where}: {', '.join(facts.get(o.name, [])) or '-'}")
    return "\n".join(lines)


# Scenes are laid out once per task and kept (a few, least recently used dropped): a closed-loop
# episode asks for a picture every turn.
_scene_lock = threading.Lock()
_scenes: OrderedDict[int, tuple[Task, dict]] = OrderedDict()
_SCENE_CACHE = 32


def _scene(task: Task) -> dict:
    with _scene_lock:
        hit = _scenes.get(id(task))
        if hit is not None and hit[0] is task:
            _scenes.move_to_end(id(task))
            return hit[1]
    from .scenes import build_scene

    scene = build_scene(task)
    with _scene_lock:
        _scenes[id(task)] = (task, scene)
        while len(_scenes) > _SCENE_CACHE:
            _scenes.popitem(last=False)
    return scene


def _follow_world(scene: dict, world: Any) -> dict:
    """A copy of ``scene`` with every object's position read from the physics world."""
    scene = copy.deepcopy(scene)
    boxes, _, _, _, present = world.geometry()
    index = {name: i for i, name in enumerate(world.names)}
    for o in scene["objects"]:
        i = index.get(o["name"])
        if i is None or not present[i] or o["kind"] == "floor":
            continue
        o["position"] = [float(v) for v in (boxes[i][0] + boxes[i][1]) / 2]
    return scene


def schematic_image(task: Task, *, world: Any = None, scene: dict | None = None, dpi: int = 60,
                    title: str | None = None) -> np.ndarray:
    """The top-down schematic of ``task``'s scene as an (H, W, 3) uint8 array. With a
    PhysicsWorld, objects are drawn where the world has them now."""
    import matplotlib.image as mpimg

    from .scenes.schematic import render_schematic

    scene = scene if scene is not None else (world.scene_dict if world is not None else _scene(task))
    if world is not None:
        scene = _follow_world(scene, world)
    png = render_schematic(scene, dpi=dpi, title=title or task.command[:80])
    rgba = mpimg.imread(io.BytesIO(png), format="png")
    return (np.clip(rgba[..., :3], 0, 1) * 255).astype(np.uint8)


def rgb_image(world: Any, width: int = 224, height: int = 224) -> np.ndarray:
    """A SAPIEN RGB picture from the robot's head. Raises PhysicsUnavailable (with the reason)
    where no render device exists."""
    from .sim.render import RgbCamera

    cam = getattr(world, "_emx_camera", None)
    if cam is None or cam.camera.width != width or cam.camera.height != height:
        cam = RgbCamera(world, width=width, height=height)
        world._emx_camera = cam
    return cam.rgb()


def observe(task: Task, kinds: Sequence[str] = ("text",), *, state: Any = None, world: Any = None,
            fmt: str = "eai") -> Observation:
    """One observation of ``task`` in ``state`` (symbolic) or ``world`` (physics)."""
    kinds = check_kinds(kinds)
    if world is not None and state is None:
        state = world.shadow
    text = state_text(task, state, fmt) if "text" in kinds else ""
    if "schematic" in kinds:
        return Observation(text, schematic_image(task, world=world), "schematic")
    if "rgb" in kinds:
        if world is None:
            raise ValueError("an RGB observation needs a physics world (mode='physics')")
        return Observation(text, rgb_image(world), "rgb")
    return Observation(text)
