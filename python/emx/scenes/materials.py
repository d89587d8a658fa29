"""Material classes: how heavy and how grippy a box of a given size is.

Scene objects are boxes, so a material's density is an *effective* density of the whole
bounding box (a mug is mostly air), and hollow things (containers, furniture) are scaled
down further by ``fill``. Masses only matter for dynamic items; static furniture gets one
for completeness. Friction is the static = dynamic coefficient SAPIEN's material takes.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Material", "MATERIALS", "material", "mass_of", "DEFAULT_MATERIAL"]


@dataclass(frozen=True)
class Material:
    name: str
    density: float    # kg / m^3 of a solid box of this material class
    friction: float   # static and dynamic friction coefficient
    restitution: float = 0.0


MATERIALS: dict[str, Material] = {m.name: m for m in (
    Material("wood", 500.0, 0.5),
    Material("metal", 900.0, 0.4),
    Material("plastic", 350.0, 0.45),
    Material("glass", 700.0, 0.3),
    Material("ceramic", 800.0, 0.45),
    Material("stone", 1500.0, 0.6),
    Material("fabric", 150.0, 0.8),
    Material("paper", 600.0, 0.5),
    Material("food", 850.0, 0.6),
    Material("liquid", 950.0, 0.4),     # bottled or boxed drinks, sauces
    Material("rubber", 500.0, 0.9),
    Material("organic", 400.0, 0.7),    # plants, wood logs, leaves
    Material("generic", 400.0, 0.5),
)}

DEFAULT_MATERIAL = "generic"

# Fraction of the bounding box that is solid, by what the box stands for.
_FILL = {"item": 1.0, "container": 0.25, "furniture": 0.12, "floor": 1.0, "agent": 0.3}
_MIN_MASS, _MAX_MASS = 0.005, 2000.0


def material(name: str) -> Material:
    """The material class ``name``; unknown names are a programming error in the priors."""
    try:
        return MATERIALS[name]
    except KeyError:
        raise ValueError(f"unknown material class {name!r}; known: {', '.join(sorted(MATERIALS))}") from None


def mass_of(size: tuple[float, float, float] | list[float], material_name: str, kind: str) -> float:
    """Mass in kg of a box of ``size`` (m) of this material, for a scene object ``kind``."""
    volume = float(size[0]) * float(size[1]) * float(size[2])
    mass = material(material_name).density * volume * _FILL.get(kind, 1.0)
    return round(min(_MAX_MASS, max(_MIN_MASS, mass)), 4)
