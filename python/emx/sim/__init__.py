"""Physics mode: tasks executed in SAPIEN rigid-body physics (CPU; no GPU needed).

    from emx.sim import PhysicsWorld, evaluate_physics
    world = PhysicsWorld(task, scene)            # scene: an emx-scene dict (emx.scenes)
    snap = world.snapshot()                      # complete state, restorable in microseconds
    out = world.step(task.core.eai_action("RIGHT_GRASP", ["apple_0"]))
    world.restore(snap)
    d = evaluate_physics(task, actions, True, "default", scene=scene)   # same dict as _core.evaluate

Symbolic preconditions are checked by the C++ executor first, so a symbolic mistake reports the
same error type as symbolic mode; physics adds the ``physics`` error (no room, does not fit, fell
off, blocked). Relations are read from geometry by the C++ core after every step.
"""

import warnings

# SAPIEN looks for a Vulkan loader at import and warns when it falls back to its
# own; physics here needs no renderer, so the warning is noise for users.
warnings.filterwarnings("ignore", message="Failed to find system libvulkan")

from .evaluate import SceneUnavailable, clear_cache, evaluate_physics, evaluate_physics_batch, scene_for, world_for
from .scene_build import SceneError, validate
from .snapshot import Held, Snapshot
from .world import PhysicsConfig, PhysicsUnavailable, PhysicsWorld, StepOutcome

__all__ = [
    "Held", "PhysicsConfig", "PhysicsUnavailable", "PhysicsWorld", "SceneError", "SceneUnavailable", "Snapshot",
    "StepOutcome", "clear_cache", "evaluate_physics", "evaluate_physics_batch", "scene_for", "validate", "world_for",
]
