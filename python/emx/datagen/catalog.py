"""What the generators may put in a house: rooms, their furniture, and the movable items that
belong there, all checked against the knowledge base (``emx.tasks.knowledge``) and the scene
builder's size priors, so every generated object has the abilities its task relies on and a body
the scene builder can lay out.

Rooms and furniture are a short curated table (the EmboMatrix release's room types, B1K's
furniture synsets for them). Movable items are mined from the BEHAVIOR-1K activities shipped in
the ``bddl`` package: an item is offered in a room when some activity's initial state puts it on
or in a piece of furniture that room has. Mining takes about a second and is cached.
"""

from __future__ import annotations

import collections
import functools
import os
from dataclasses import dataclass

from ..tasks.knowledge import load_abilities

__all__ = ["Catalog", "Furniture", "Item", "ROOMS", "catalog", "display_name"]

# room -> furniture synsets (fixed objects). The first few are the room's "anchor" furniture.
ROOMS: dict[str, tuple[str, ...]] = {
    "kitchen": ("countertop.n.01", "electric_refrigerator.n.01", "cabinet.n.01", "sink.n.01", "stove.n.01",
                "oven.n.01", "microwave.n.02", "dishwasher.n.01", "breakfast_table.n.01"),
    "living_room": ("coffee_table.n.01", "sofa.n.01", "bookcase.n.01", "cabinet.n.01", "console_table.n.01",
                    "television_receiver.n.01", "table.n.02"),
    "bedroom": ("bed.n.01", "desk.n.01", "cabinet.n.01", "wardrobe.n.01", "console_table.n.01"),
    "bathroom": ("sink.n.01", "countertop.n.01", "cabinet.n.01", "shelf.n.01", "bathtub.n.01", "toilet.n.02"),
    "dining_room": ("breakfast_table.n.01", "console_table.n.01", "table.n.02", "cabinet.n.01"),
    "utility_room": ("washer.n.03", "clothes_dryer.n.01", "sink.n.01", "cabinet.n.01", "countertop.n.01"),
    "garage": ("cabinet.n.01", "bookcase.n.01", "table.n.02", "shelf.n.01"),
    "private_office": ("desk.n.01", "table.n.02", "cabinet.n.01", "bookcase.n.01"),
    "childs_room": ("bed.n.01", "desk.n.01", "bookcase.n.01", "cabinet.n.01"),
}

# Movable tools some templates need, by role; the first that the knowledge base supports wins.
TOOLS: dict[str, tuple[str, ...]] = {
    "slicer": ("carving_knife.n.01", "knife.n.01"),
    "cleaning_tool": ("rag.n.01", "sponge.n.01", "dishtowel.n.01"),
    "cooking_vessel": ("frying_pan.n.01", "saucepan.n.01"),
}
# Movable containers items are put in (and, for plate/tray, on).
HOLDERS: tuple[str, ...] = ("bowl.n.01", "tupperware.n.01", "wicker_basket.n.01", "plate.n.04", "tray.n.01",
                            "carton.n.02", "hamper.n.02", "sack.n.01")
# Natural names where the synset lemma reads badly.
_DISPLAY = {
    "electric_refrigerator.n.01": "fridge", "television_receiver.n.01": "TV", "microwave.n.02": "microwave",
    "washer.n.03": "washing machine", "clothes_dryer.n.01": "dryer", "table.n.02": "table",
    "breakfast_table.n.01": "dining table", "toilet.n.02": "toilet", "plate.n.04": "plate",
    "carton.n.02": "carton", "hamper.n.02": "hamper", "tupperware.n.01": "food container",
}
_MAX_ITEM_EXTENT = 0.6      # m: something one hand carries
_MAX_SURFACE_HEIGHT = 1.25  # m: a top one puts things on
_EXCLUDED_ABILITIES = frozenset({"fixed", "substance", "floor", "agent"})


def display_name(category: str) -> str:
    """'electric_refrigerator.n.01' -> 'fridge'; 'bottle__of__detergent.n.01' -> 'bottle of detergent'."""
    if category in _DISPLAY:
        return _DISPLAY[category]
    return category.split(".")[0].replace("__", " ").replace("_", " ")


@dataclass(frozen=True)
class Furniture:
    category: str
    abilities: frozenset[str]
    surface: bool        # things can be put on it
    receptacle: bool     # things can be put in it
    size: tuple[float, float, float]
    interior: tuple[float, float, float]


@dataclass(frozen=True)
class Item:
    category: str
    abilities: frozenset[str]
    size: tuple[float, float, float]
    rooms: frozenset[str]                 # rooms where B1K puts it on/in furniture
    homes: frozenset[tuple[str, str]]     # (relation, furniture category) seen in B1K

    @property
    def volume(self) -> float:
        return self.size[0] * self.size[1] * self.size[2]

    def fits(self, holder_size: tuple[float, float, float], relation: str) -> bool:
        w, d, h = sorted(self.size[:2], reverse=True) + [self.size[2]]
        W, D, H = sorted(holder_size[:2], reverse=True) + [holder_size[2]]
        if relation == "ontop":
            return w <= 0.9 * W and d <= 0.9 * D
        return w <= 0.8 * W and d <= 0.8 * D and h <= 0.9 * H


@dataclass(frozen=True)
class Catalog:
    rooms: dict[str, tuple[Furniture, ...]]
    items: tuple[Item, ...]
    room_items: dict[str, tuple[Item, ...]]
    tools: dict[str, Item]
    holders: tuple[Item, ...]

    def furniture(self, category: str) -> Furniture:
        for furn in self.rooms.values():
            for f in furn:
                if f.category == category:
                    return f
        raise KeyError(category)

    @property
    def categories(self) -> frozenset[str]:
        cats = {f.category for fs in self.rooms.values() for f in fs}
        cats |= {i.category for i in self.items} | {t.category for t in self.tools.values()}
        cats |= {h.category for h in self.holders}
        return frozenset(cats)


def _size(category: str, fixed: bool, interior: bool = False) -> tuple[float, float, float] | None:
    """Outer size, or with ``interior`` the usable inside (an open-top basin is only ``basin`` deep)."""
    from ..scenes.sizes import size_prior

    prior, warning = size_prior(category, fixed=fixed)
    if warning:
        return None
    w, d, h = (float(v) for v in prior.size)
    if interior:
        return (0.85 * w, 0.85 * d, float(prior.basin) if prior.basin else 0.8 * h)
    return (w, d, h)


def _movable(abilities: frozenset[str] | None) -> bool:
    return abilities is not None and not (abilities & _EXCLUDED_ABILITIES)


def _mine_b1k() -> dict[str, set[tuple[str, str]]]:
    """item category -> {(relation, target category)} from every B1K activity's initial state."""
    from .. import _core
    from ..tasks.sources import _activity_dir, bddl_activities

    homes: dict[str, set[tuple[str, str]]] = collections.defaultdict(set)
    root = _activity_dir()
    for activity in bddl_activities():
        path = os.path.join(root, activity, "problem0.bddl")
        try:
            with open(path, encoding="utf-8") as f:
                problem = _core.parse_problem(f.read(), path)
        except Exception:  # one malformed activity must not cost the whole catalog
            continue
        cats = dict(problem["objects"])
        for lit in problem["init"]:
            words = lit.strip("()").split()
            if len(words) == 3 and words[0] in ("ontop", "inside") and words[1] in cats and words[2] in cats:
                homes[cats[words[1]]].add((words[0], cats[words[2]]))
    return homes


@functools.lru_cache(maxsize=1)
def catalog() -> Catalog:
    table = load_abilities()
    rooms: dict[str, tuple[Furniture, ...]] = {}
    for room, cats in ROOMS.items():
        furn = []
        for cat in cats:
            ab = table.get(cat)
            size = _size(cat, fixed=True)
            if ab is None or "fixed" not in ab or size is None:
                continue
            receptacle = "container" in ab and cat not in ("stove.n.01",)
            surface = size[2] <= _MAX_SURFACE_HEIGHT and cat not in ("television_receiver.n.01", "toilet.n.02",
                                                                     "sink.n.01", "bathtub.n.01", "sofa.n.01")
            furn.append(Furniture(cat, ab, surface, receptacle, size, _size(cat, fixed=True, interior=True)))
        rooms[room] = tuple(furn)
    furniture_rooms: dict[str, set[str]] = collections.defaultdict(set)
    for room, furn in rooms.items():
        for f in furn:
            furniture_rooms[f.category].add(room)

    def item(cat: str, homes: set[tuple[str, str]]) -> Item | None:
        ab = table.get(cat)
        if not _movable(ab):
            return None
        size = _size(cat, fixed=False)
        if size is None or max(size) > _MAX_ITEM_EXTENT or min(size) <= 0.0:
            return None
        # rooms through room-specific furniture first: a cabinet is in every room and says little
        item_rooms = {r for _rel, target in homes if len(furniture_rooms.get(target, ())) <= 3
                      for r in furniture_rooms[target]}
        if not item_rooms:
            item_rooms = {r for _rel, target in homes for r in furniture_rooms.get(target, ())}
        return Item(cat, ab, size, frozenset(item_rooms), frozenset(homes))  # type: ignore[arg-type]

    mined = _mine_b1k()
    items = []
    for cat in sorted(mined):
        if cat in HOLDERS:
            continue
        it = item(cat, {h for h in mined[cat] if h[1] in furniture_rooms})
        if it is not None and it.rooms:
            items.append(it)
    room_items = {room: tuple(i for i in items if room in i.rooms) for room in rooms}
    tools = {}
    for role, cats in TOOLS.items():
        for cat in cats:
            it = item(cat, mined.get(cat, set()))
            if it is not None and role in it.abilities:
                tools[role] = it
                break
    holders = tuple(h for h in (item(c, mined.get(c, set())) for c in HOLDERS)
                    if h is not None and "container" in h.abilities)
    return Catalog(rooms, tuple(items), room_items, tools, holders)
