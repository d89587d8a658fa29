"""Size priors: how big an object of a category is, and what kind of body it is.

The table ships as data (``size_priors.json`` next to this file). A lookup tries, in order:

1. the object's *name stem* (``coffee_table_33`` -> ``coffee_table``): EAI names say more than
   their categories (a ``table.n.02`` may be a coffee table or a breakfast table);
2. the category itself (``apple.n.01``);
3. B1K compound synsets, by their parts: ``liquid_soap__bottle.n.01`` and
   ``bottle__of__perfume.n.01`` are bottles, ``half__apple.n.01`` is half an apple,
   ``diced__carrot.n.01`` is a small piece;
4. the nearest ancestor in the bddl synset hierarchy (``output_hierarchy.json``) that has a
   prior of the right class: a bolted-down object never takes an item-sized ancestor's size and
   a movable item never takes a furniture-sized one;
5. a default by class (furniture for objects with the ``fixed`` ability, item otherwise), with a
   warning: the size is a guess.

Sizes are ``[width, depth, height]`` in metres: width along the object's front, depth from front
to back. The layout turns them into the scene's local frame (front faces local +x).
"""

from __future__ import annotations

import functools
import json
import math
import os
import re
from dataclasses import dataclass, field, replace
from typing import Mapping

from .materials import MATERIALS

__all__ = ["SizePrior", "PriorTable", "load_priors", "size_prior", "PRIORS_PATH", "name_stem"]

PRIORS_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "size_priors.json")

INTERIOR_STYLES = ("front", "top", "none")
OPEN_STYLES = ("door_left", "door_right", "door_bottom", "drawer", "lid", "none")
MAX_SIZE = 20.0   # m; the scene format's bound on any extent

# B1K synsets for an object in a changed state: the base object, resized.
_DERIVED_PREFIXES = {"half": (0.5, 1.0, 1.0), "diced": None, "sliced": (1.0, 1.0, 0.3), "cooked": (1.0, 1.0, 1.0),
                     "melted": (1.0, 1.0, 0.3), "broken": (1.0, 1.0, 1.0), "chopped": None}
_DICED_SIZE = (0.025, 0.025, 0.025)
_NAME_INDEX_RE = re.compile(r"_\d+$")
_SOURCE = {"names": "name", "categories": "category", "defaults": "default", "compounds": "compound"}


@dataclass(frozen=True)
class SizePrior:
    size: tuple[float, float, float]         # width, depth, height (m)
    material: str
    interior: str | None = None               # front | top | none | None (not said: decided by abilities)
    open: str | None = None                   # door_left | door_right | door_bottom | drawer | lid | none | None
    basin: float | None = None                # open-top interior only this deep, at the top
    legs: float | None = None                 # clear height below a top slab
    mount: float | None = None                # wall-mounted: height of the bottom
    rooms: tuple[str, ...] = ()               # room hints for furniture without an inroom fact
    source: str = ""                          # where the prior came from (for people and tests)

    @property
    def volume(self) -> float:
        return self.size[0] * self.size[1] * self.size[2]


@dataclass(frozen=True)
class PriorTable:
    path: str
    names: Mapping[str, SizePrior]
    categories: Mapping[str, SizePrior]
    defaults: Mapping[str, SizePrior]
    compounds: Mapping[str, SizePrior] = field(default_factory=dict)   # packaging word -> prior
    by_lemma: Mapping[str, str] = field(default_factory=dict)   # "bottle" -> "bottle.n.01"


def _parse_entry(path: str, where: str, raw: object) -> SizePrior:
    def bad(msg: str) -> ValueError:
        return ValueError(f"{path}: {where}: {msg}")

    if not isinstance(raw, dict):
        raise bad(f"must be an object, got {type(raw).__name__}")
    size = raw.get("size")
    if not (isinstance(size, list) and len(size) == 3):
        raise bad("size must be a list of 3 numbers [width, depth, height]")
    for k, v in enumerate(size):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or not 0 < v <= MAX_SIZE:
            raise bad(f"size[{k}] must be a number in (0, {MAX_SIZE:g}] m, got {v!r}")
    mat = raw.get("material")
    if mat not in MATERIALS:
        raise bad(f"material must be one of {', '.join(sorted(MATERIALS))}, got {mat!r}")
    interior = raw.get("interior")
    if interior is not None and interior not in INTERIOR_STYLES:
        raise bad(f"interior must be one of {', '.join(INTERIOR_STYLES)}, got {interior!r}")
    open_style = raw.get("open")
    if open_style is not None and open_style not in OPEN_STYLES:
        raise bad(f"open must be one of {', '.join(OPEN_STYLES)}, got {open_style!r}")
    numbers = {}
    for key in ("basin", "legs", "mount"):
        v = raw.get(key)
        if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v)
                              or not 0 < v <= MAX_SIZE):
            raise bad(f"{key} must be a number in (0, {MAX_SIZE:g}] m, got {v!r}")
        numbers[key] = None if v is None else float(v)
    if numbers["legs"] is not None and numbers["legs"] >= size[2]:
        raise bad(f"legs ({numbers['legs']} m) must be lower than the height ({size[2]} m)")
    rooms = raw.get("rooms", [])
    if not (isinstance(rooms, list) and all(isinstance(r, str) and r for r in rooms)):
        raise bad("rooms must be a list of room names")
    unknown = set(raw) - {"size", "material", "interior", "open", "basin", "legs", "mount", "rooms"}
    if unknown:
        raise bad(f"unknown keys {sorted(unknown)}")
    return SizePrior(tuple(float(v) for v in size), mat, interior, open_style, numbers["basin"], numbers["legs"],
                     numbers["mount"], tuple(rooms))


def load_priors(path: str | os.PathLike[str] | None = None) -> PriorTable:
    """Reads and validates a size-prior table; errors name the file and the entry."""
    path = os.fspath(path or PRIORS_PATH)
    try:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
    except json.JSONDecodeError as e:
        raise ValueError(f"{path}: not valid JSON at line {e.lineno} column {e.colno}: {e.msg}") from None
    except OSError as e:
        raise ValueError(f"{path}: cannot read ({e.strerror})") from None
    if not isinstance(doc, dict) or doc.get("format") != "emx-size-priors" or doc.get("version") != 1:
        raise ValueError(f"{path}: not an emx-size-priors version 1 file")
    tables = {}
    for section in ("names", "categories", "defaults", "compounds"):
        raw = doc.get(section, {} if section == "compounds" else None)
        if not isinstance(raw, dict):
            raise ValueError(f"{path}: {section}: must be an object")
        tables[section] = {k: replace(_parse_entry(path, f"{section}.{k}", v),
                                      source=f"{_SOURCE[section]}:{k}")
                           for k, v in raw.items()}
    for cls in ("furniture", "item"):
        if cls not in tables["defaults"]:
            raise ValueError(f"{path}: defaults.{cls}: missing")
    by_lemma: dict[str, str] = {}
    for key in sorted(tables["categories"]):
        by_lemma.setdefault(key.split(".")[0], key)
    return PriorTable(path, tables["names"], tables["categories"], tables["defaults"], tables["compounds"], by_lemma)


@functools.lru_cache(maxsize=1)
def _default_table() -> PriorTable:
    return load_priors()


@functools.lru_cache(maxsize=1)
def _parents() -> Mapping[str, tuple[str, ...]]:
    """synset -> parents in the bddl hierarchy (empty when bddl is not installed)."""
    try:
        import bddl
    except ImportError:  # the priors still work, without the hierarchy fallback
        return {}
    path = os.path.join(os.path.dirname(bddl.__file__), "generated_data", "output_hierarchy.json")
    try:
        with open(path, encoding="utf-8") as f:
            top = json.load(f)
    except (OSError, json.JSONDecodeError):
        return {}
    parents: dict[str, set[str]] = {}
    stack = [top]
    while stack:
        node = stack.pop()
        parents.setdefault(node["name"], set())
        for child in node.get("children") or ():
            parents.setdefault(child["name"], set()).add(node["name"])
            stack.append(child)
    return {k: tuple(sorted(v)) for k, v in parents.items()}


def name_stem(name: str) -> str:
    """``coffee_table_33`` -> ``coffee_table``; ``book.n.02_1`` -> ``book.n.02``."""
    return _NAME_INDEX_RE.sub("", name)


def _fits_class(prior: SizePrior, fixed: bool) -> bool:
    if fixed:
        return max(prior.size) >= 0.3
    return prior.volume <= 0.5


def _compound(category: str, table: PriorTable, fixed: bool) -> SizePrior | None:
    lemma, _, sense = category.partition(".")
    parts = lemma.split("__")
    if len(parts) < 2:
        return None
    scale: tuple[float, float, float] | None = (1.0, 1.0, 1.0)
    if parts[0] in _DERIVED_PREFIXES:
        scale = _DERIVED_PREFIXES[parts[0]]
        base = "__".join(parts[1:])
        inner = _lookup_category(f"{base}.{sense}", table, fixed, depth=1) if base else None
        if inner is None:
            return None
        if scale is None:
            return replace(inner, size=_DICED_SIZE, interior=None, open=None, basin=None, legs=None,
                           source=f"compound:{parts[0]}:{inner.source}")
        size = tuple(round(max(0.005, s * k), 4) for s, k in zip(inner.size, scale))
        return replace(inner, size=size, source=f"compound:{parts[0]}:{inner.source}")
    holder = parts[0] if "of" in parts else parts[-1]
    if holder in table.compounds:   # packaging: a milk carton is not a moving box
        return table.compounds[holder]
    key = table.by_lemma.get(holder)
    if key is None:
        return None
    return replace(table.categories[key], source=f"compound:{key}")


def _lookup_category(category: str, table: PriorTable, fixed: bool, depth: int = 0) -> SizePrior | None:
    if category in table.categories:
        return table.categories[category]
    if depth > 2:
        return None
    found = _compound(category, table, fixed)
    if found is not None:
        return found
    parents = _parents()
    frontier, seen = list(parents.get(category, ())), {category}
    while frontier:  # breadth-first: the nearest ancestor wins
        nxt: list[str] = []
        for p in frontier:
            if p in seen:
                continue
            seen.add(p)
            prior = table.categories.get(p)
            if prior is not None and _fits_class(prior, fixed):
                return replace(prior, source=f"ancestor:{p}")
            nxt.extend(parents.get(p, ()))
        frontier = nxt
    return None


def size_prior(category: str, name: str | None = None, fixed: bool = False,
               table: PriorTable | None = None) -> tuple[SizePrior, str | None]:
    """(prior, warning): the prior for an object, and a warning when it is only a default."""
    table = table or _default_table()
    if name is not None:
        stem = name_stem(name)
        if stem in table.names:
            return table.names[stem], None
    found = _lookup_category(category, table, fixed)
    if found is not None:
        return found, None
    cls = "furniture" if fixed else "item"
    prior = table.defaults[cls]
    known = category in _parents()
    why = "has no size prior and no ancestor with one" if known else "is an unknown category"
    size = " x ".join(f"{v:g}" for v in prior.size)
    return prior, f"{category} ({name or category}) {why}: using the default {cls} size {size} m"
