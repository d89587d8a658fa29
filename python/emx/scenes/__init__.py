"""Scenes: the physical realisation of a task's initial state (docs/scene-format.md).

    from emx.scenes import build_scene, save_scene, load_scene, draw_schematic
    scene = build_scene(task, seed=0)          # dict; never raises for an unrealisable init
    path = save_scene(scene, "scene.json")     # validated, atomic
    scene = load_scene(path, task)             # validated; SceneFileError names file + JSON path
    draw_schematic(scene, "scene.png")         # top-down plan

The CLI's ``emx scenes build|show`` call ``build_scenes`` and ``show_scene``.
"""

from .build import build_scenes, settle_scene, show_scene
from .layout import FORMAT, GENERATOR, VERSION, SceneWarning, build_scene, check_relations, interior_box, object_box
from .materials import MATERIALS, Material, mass_of
from .scene_file import SceneFileError, cache_key, load_scene, save_scene, scene_path, validate_scene
from .schematic import draw_schematic
from .sizes import SizePrior, load_priors, size_prior

__all__ = [
    "FORMAT", "GENERATOR", "MATERIALS", "Material", "SceneFileError", "SceneWarning", "SizePrior", "VERSION", "build_scene",
    "build_scenes", "cache_key", "check_relations", "draw_schematic", "interior_box", "load_priors",
    "load_scene", "mass_of", "object_box", "save_scene", "scene_path", "settle_scene", "show_scene",
    "size_prior", "validate_scene",
]
