"""RGB camera observations of a PhysicsWorld, where a render device exists (a GPU with Vulkan).

The physics scene has no render system (so physics runs on machines without a GPU). A camera
builds a second, render-only SAPIEN scene that mirrors the world's boxes -- one visual box per
collision shape -- and copies the bodies' poses into it before every picture. Without a render
device, ``render_available()`` says why and ``RgbCamera`` raises PhysicsUnavailable.
"""

from __future__ import annotations

import functools

import numpy as np

from .world import PhysicsUnavailable

__all__ = ["render_available", "RgbCamera"]

_COLOURS = {"furniture": (0.55, 0.4, 0.25), "container": (0.35, 0.45, 0.6), "item": (0.8, 0.5, 0.2),
            "part": (0.8, 0.3, 0.3), "agent": (0.3, 0.3, 0.3), "floor": (0.75, 0.75, 0.7)}


@functools.lru_cache(maxsize=1)
def render_available() -> tuple[bool, str]:
    """(True, device) when SAPIEN can create a render system here, else (False, why not)."""
    try:
        import sapien
    except Exception as e:  # pragma: no cover - depends on the machine
        return False, f"SAPIEN is not installed: {e}"
    try:
        system = sapien.render.RenderSystem()
    except Exception as e:
        return False, f"no render device: {str(e).strip() or type(e).__name__}"
    name = getattr(getattr(system, "device", None), "name", "render device")
    return True, str(name)


class RgbCamera:
    """A pinhole camera on the robot's head (or at a given pose) looking at the world."""

    def __init__(self, world, width: int = 128, height: int = 128, fovy: float = 1.2, height_m: float = 1.3) -> None:
        ok, why = render_available()
        if not ok:
            raise PhysicsUnavailable(f"RGB observations need a render device: {why}")
        import sapien

        self.world = world
        self.height_m = height_m
        self.scene = sapien.Scene([sapien.physx.PhysxCpuSystem(), sapien.render.RenderSystem()])
        self.scene.set_ambient_light([0.4, 0.4, 0.4])
        self.scene.add_directional_light([0.3, 0.2, -1.0], [0.8, 0.8, 0.8])
        self.mirror = []   # (entity in the render scene, body in the world, True when it moves)
        for idx, body in world.bodies.items():
            b = self.scene.create_actor_builder()
            colour = _COLOURS.get(body.kind, (0.6, 0.6, 0.6))
            if body.kind == "floor":
                box = body.static_box
                c, h = (box[0] + box[1]) / 2, (box[1] - box[0]) / 2
                b.add_box_visual(sapien.Pose(c.astype(np.float32)), h.astype(np.float32), colour)
                self.mirror.append((b.build_kinematic(name=body.name), None, False))
                continue
            for c, h in body.shapes:
                b.add_box_visual(sapien.Pose(np.asarray(c, np.float32)), np.asarray(h, np.float32), colour)
            moving = body.dynamic
            e = b.build_kinematic(name=body.name)
            if not moving:
                e.pose = sapien.Pose()
            self.mirror.append((e, body, moving))
            if body.door is not None:
                d = self.scene.create_actor_builder()
                c, h, rot = body.door_shape
                from . import geometry as G
                d.add_box_visual(sapien.Pose(np.asarray(c, np.float32), G.matrix_to_quat(rot).astype(np.float32)),
                                 np.asarray(h, np.float32), colour)
                self.mirror.append((d.build_kinematic(name=body.name + "/door"), body, "door"))
        self.camera = self.scene.add_camera("head", width, height, fovy, 0.05, 50.0)

    def rgb(self, pose=None) -> np.ndarray:
        """(height, width, 3) uint8 picture from the robot's head, or from ``pose``."""
        import sapien

        from . import geometry as G

        for e, body, moving in self.mirror:
            if body is None or not moving:
                continue
            src = body.door if moving == "door" else self.world.bodies[body.index].entity
            e.pose = src.pose
        if pose is None:
            x, y, yaw = self.world.robot_pose
            pose = sapien.Pose(np.array([x, y, self.height_m], np.float32), G.yaw_quat(yaw).astype(np.float32))
        self.camera.entity.pose = pose
        self.scene.update_render()
        self.camera.take_picture()
        rgba = self.camera.get_picture("Color")
        return (np.clip(rgba[..., :3], 0, 1) * 255).astype(np.uint8)
