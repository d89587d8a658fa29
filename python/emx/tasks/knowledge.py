"""Ability table: which symbolic abilities each object category (WordNet synset) has.

The C++ core stores one bit per ability per object and uses them in action preconditions
(OPEN needs ``openable``, SLICE needs a ``slicer`` in hand, SOAK needs a ``water_source``...).
This module derives those bits from the BEHAVIOR-1K knowledge base shipped in the ``bddl``
package, so that every task source (EAI BEHAVIOR-100 tasks, BEHAVIOR-1K activities, generated
tasks) is judged by one table:

* ``generated_data/propagated_annots_canonical.json`` -- the properties of every synset, already
  propagated down the hierarchy;
* ``generated_data/prop_param_annots/<property>.csv`` -- per-property parameter tables. A few
  synsets appear there but not in the JSON (e.g. ``duffel_bag.n.01`` in particleRemover.csv), so
  each file also counts as "this synset has <property>";
* ``generated_data/output_hierarchy.json`` -- the synset tree, for abilities that belong to a whole
  subtree (plants, pots and pans, floors, soaps).

Ability names and order (the C++ core maps them to bits in this order)::

    ability         B1K property / rule
    --------------  ---------------------------------------------------------------
    openable        openable
    toggleable      toggleable
    cookable        cookable
    freezable       freezable
    sliceable       sliceable | diceable
    soakable        cloth | particleRemover (rags, towels, sponges, brushes), plus
                    plants: plant.n.02 and pot_plant.n.01 and their non-substance
                    descendants (watering a plant is "soaking" it in BEHAVIOR-100)
    dustyable       dustyable
    stainable       stainable
    heat_source     heatSource
    cold_source     coldSource
    slicer          slicer
    cleaning_tool   particleRemover
    container       fillable | openable (| cooking_vessel, see below)
    water_source    waterSource | particleSink (sinks)
    fixed           sceneObject
    substance       substance
    heatable        heatable
    flammable       flammable
    cooking_vessel  pan.n.01, pot.n.01, saucepan.n.01 and their descendants (frying pan,
                    wok, stockpot, kettle, teapot, dutch oven, ...)
    dishwasher      dishwasher.n.01 and descendants
    floor           floor.n.01 and descendants
    agent           agent.n.01 and descendants
    soap            detergent.n.01 / detergent.n.02 / soap.n.01 and descendants, the
                    generic cleansing_agent.n.01 itself, and B1K compound synsets built on
                    one of those (bottle__of__detergent.n.01, soap__bottle.n.01, ...)

Two derived rules follow the table: ``container`` also comes with ``openable`` and with
``cooking_vessel`` (B1K leaves the generic pan.n.01/pot.n.01 unannotated as fillable, though
every concrete pan and pot is), so overrides that add either stay consistent.

**Abstract synsets.** B1K annotates only synsets it has models for; a general synset such as
tomato.n.01, cheese.n.01 or food.n.02 has an empty property set, while BEHAVIOR-100 used these
very synsets as object categories. A synset with no properties at all takes the abilities held
by at least half of its concrete descendants (annotated, not substances, not B1K derived states
like ``half__tomato.n.01``); e.g. tomato.n.01 <- cherry_tomato.n.02, beefsteak_tomato.n.01.

Synsets missing from the B1K annotations (EAI's tasks use BEHAVIOR-100 synsets; 7 of their 193
categories are absent) are resolved in this order:

1. **Hierarchy.** A synset that sits in ``output_hierarchy.json`` without annotations takes its
   nearest annotated ancestor's abilities, minus ``fixed`` unless that ancestor is furniture
   (a cabinet subtype is bolted down; a "device" subtype need not be). In bddl 3.6.0 every
   tree node is annotated, and none of EAI's 7 missing synsets is in the tree, so this rule is a
   safeguard for other bddl versions.
2. **Stand-ins** (``_STAND_INS`` below): BEHAVIOR-100 synsets that BEHAVIOR-1K renamed or
   dropped, each mapped to the B1K synset that now models the same object. Where the bddl
   package's own ``object_renames.csv`` records the iGibson category's new synset, that is the
   stand-in ("rename"); otherwise the WordNet hypernym is ("hypernym": ``fixed`` dropped as in 1).
   The synset's own CSV properties, if any, are added.
3. **Overrides** (``_OVERRIDES``): a few abilities that iGibson (BEHAVIOR-100's simulator, which
   EAI's evaluator mirrors) gave an object but the B1K annotations do not, e.g. packages open.

``unknown_categories`` lists categories that none of this resolves.
"""

from __future__ import annotations

import csv
import functools
import json
import os
from typing import Iterable, Mapping

__all__ = [
    "ABILITY_NAMES",
    "ability_names",
    "load_abilities",
    "abilities_of",
    "unknown_categories",
]

ABILITY_NAMES: tuple[str, ...] = (
    "openable", "toggleable", "cookable", "freezable", "sliceable", "soakable", "dustyable",
    "stainable", "heat_source", "cold_source", "slicer", "cleaning_tool", "container",
    "water_source", "fixed", "substance", "heatable", "flammable", "cooking_vessel",
    "dishwasher", "floor", "agent", "soap",
)

# ability <- any of these B1K properties
_FROM_PROPERTIES: Mapping[str, tuple[str, ...]] = {
    "openable": ("openable",),
    "toggleable": ("toggleable",),
    "cookable": ("cookable",),
    "freezable": ("freezable",),
    "sliceable": ("sliceable", "diceable"),
    "soakable": ("cloth", "particleRemover"),
    "dustyable": ("dustyable",),
    "stainable": ("stainable",),
    "heat_source": ("heatSource",),
    "cold_source": ("coldSource",),
    "slicer": ("slicer",),
    "cleaning_tool": ("particleRemover",),
    "container": ("fillable", "openable"),
    "water_source": ("waterSource", "particleSink"),
    "fixed": ("sceneObject",),
    "substance": ("substance",),
    "heatable": ("heatable",),
    "flammable": ("flammable",),
}

# ability <- the synset is one of these roots or below one (roots absent from the tree are skipped)
_FROM_SUBTREES: Mapping[str, tuple[str, ...]] = {
    "soakable": ("plant.n.02", "pot_plant.n.01"),
    "cooking_vessel": ("pan.n.01", "pot.n.01", "saucepan.n.01"),
    "dishwasher": ("dishwasher.n.01",),
    "floor": ("floor.n.01",),
    "agent": ("agent.n.01",),
    "soap": ("detergent.n.01", "detergent.n.02", "soap.n.01"),
}
# Subtree abilities that only make sense for solid objects: a plant subtree also holds
# diced/cooked food substances, which are not watered.
_SUBTREE_SOLID_ONLY = frozenset({"soakable"})
# Synsets that are soap themselves but whose subtree is not (toothpaste, shampoo, vinegar...).
_SOAP_SINGLETONS = ("cleansing_agent.n.01",)

_FURNITURE_ROOT = "furniture.n.01"

# B1K synsets for an object in a changed state (cooked__, diced__...): not typical members
_DERIVED_STATE_PREFIXES = frozenset({"cooked", "half", "diced", "sliced", "melted", "broken"})

# BEHAVIOR-100 synsets absent from BEHAVIOR-1K: synset -> (stand-in, kind, source).
# kind "rename": the same object under a new synset; every ability carries over.
# kind "hypernym": a more general synset; 'fixed' carries over only for furniture.
_STAND_INS: Mapping[str, tuple[str, str, str]] = {
    "highlighter.n.02": ("marker.n.03", "rename", "object_renames.csv: highlighter -> marker"),
    "perfume.n.02": ("bottle__of__perfume.n.01", "rename",
                     "object_renames.csv: perfume -> bottle_of_perfume"),
    "pop.n.02": ("bottle__of__pop.n.01", "rename",
                 "object_renames.csv: pop -> bottle_of_pop (40 models; 11 -> can_of_soda)"),
    "stocking.n.01": ("christmas_stocking.n.01", "rename",
                      "object_renames.csv: stocking -> christmas_stocking"),
    "sunglass.n.01": ("sunglasses.n.02", "rename", "object_renames.csv: sunglass -> sunglasses"),
    "underwear.n.01": ("drawers.n.01", "rename", "object_renames.csv: underwear -> boxers"),
    # Not in object_renames.csv. WordNet: duffel bag, "a large cylindrical bag of heavy cloth;
    # for carrying personal belongings"; B1K's bag.n.06 (luggage) is the rigid, fillable bag.
    "duffel_bag.n.01": ("bag.n.06", "hypernym", "WordNet hypernym: bag (luggage)"),
}

# Abilities added on top of whatever the data says: synset -> (abilities, why). Each entry is
# something iGibson (BEHAVIOR-100) modelled and an EAI task's initial state, goal or reference
# plan relies on, but the B1K annotations lack.
# Abilities B1K gives that EAI's tasks contradict.
_REMOVALS: Mapping[str, tuple[frozenset[str], str]] = {
    "pot_plant.n.01": (frozenset({"fixed"}),
                       "EAI 'watering_houseplants' carries the plant to the sink to soak it"),
}

_OVERRIDES: Mapping[str, tuple[frozenset[str], str]] = {
    "package.n.02": (frozenset({"openable"}),
                     "iGibson packages have an Open state (EAI 'opening_packages')"),
    "jar.n.01": (frozenset({"openable"}),
                 "goal (not (open jar)) in EAI 'bottling_fruit', 'preserving_food'"),
    "window.n.01": (frozenset({"openable"}), "EAI 'locking_every_window' closes open windows"),
    "stove.n.01": (frozenset({"openable"}),
                   "iGibson's stove has an oven door; EAI 'cleaning_stove' reference plan opens it"),
    "chestnut.n.03": (frozenset({"sliceable"}), "goal (sliced chestnut) in EAI 'chopping_vegetables'"),
    "beef.n.02": (frozenset({"freezable"}), "goal (frozen beef) in EAI 'preserving_food'"),
    "brush.n.02": (frozenset({"soakable", "cleaning_tool"}),
                   "a scrub brush (as scrub_brush.n.01); EAI 'cleaning_sneakers' soaks one"),
    "cheese.n.01": (frozenset({"freezable"}),
                    "EAI reference plans UNFREEZE cheese taken from the fridge"),
    "beer.n.01": (frozenset({"freezable"}), "EAI reference plans UNFREEZE beer taken from the fridge"),
    "pop.n.02": (frozenset({"freezable"}), "EAI reference plans UNFREEZE pop taken from the fridge"),
    "stocking.n.01": (frozenset({"container"}),
                      "things go inside it (EAI 'filling_a_Christmas_stocking')"),
    "christmas_stocking.n.01": (frozenset({"container"}),
                                "things go inside it (BEHAVIOR 'filling_a_Christmas_stocking')"),
    "teapot.n.01": (frozenset({"water_source"}),
                    "EAI's simulator soaks things placed in a teapot (EAI 'making_tea')"),
}


def ability_names() -> tuple[str, ...]:
    """The ability names, in the bit order the C++ core uses."""
    return ABILITY_NAMES


def _data_dir() -> str:
    import bddl  # local: keep `import emx.tasks` cheap for callers that never need the table

    return os.path.join(os.path.dirname(bddl.__file__), "generated_data")


@functools.lru_cache(maxsize=1)
def _properties() -> dict[str, frozenset[str]]:
    """synset -> B1K property names, from the JSON annotations and the per-property CSVs."""
    root = _data_dir()
    with open(os.path.join(root, "propagated_annots_canonical.json"), encoding="utf-8") as f:
        props: dict[str, set[str]] = {k: set(v) for k, v in json.load(f).items()}
    csv_dir = os.path.join(root, "prop_param_annots")
    for fname in sorted(os.listdir(csv_dir)):
        if not fname.endswith(".csv"):
            continue
        prop = fname[: -len(".csv")]
        with open(os.path.join(csv_dir, fname), encoding="utf-8", newline="") as f:
            for row in csv.DictReader(f):
                synset = (row.get("synset") or "").strip()
                if synset:
                    props.setdefault(synset, set()).add(prop)
    return {k: frozenset(v) for k, v in props.items()}


@functools.lru_cache(maxsize=1)
def _tree() -> tuple[dict[str, frozenset[str]], dict[str, frozenset[str]]]:
    """(children, parents) of the B1K synset hierarchy. A synset may have several parents."""
    with open(os.path.join(_data_dir(), "output_hierarchy.json"), encoding="utf-8") as f:
        top = json.load(f)
    children: dict[str, set[str]] = {}
    parents: dict[str, set[str]] = {}
    stack = [top]
    while stack:  # iterative: the tree is deep enough to make recursion a needless risk
        node = stack.pop()
        name = node["name"]
        children.setdefault(name, set())
        parents.setdefault(name, set())
        for child in node.get("children") or ():
            children[name].add(child["name"])
            parents.setdefault(child["name"], set()).add(name)
            stack.append(child)
    return ({k: frozenset(v) for k, v in children.items()},
            {k: frozenset(v) for k, v in parents.items()})


@functools.lru_cache(maxsize=None)
def _subtree(root: str) -> frozenset[str]:
    children, _ = _tree()
    if root not in children:
        return frozenset()
    out, stack = {root}, [root]
    while stack:
        for child in children.get(stack.pop(), ()):
            if child not in out:
                out.add(child)
                stack.append(child)
    return frozenset(out)


def _soap_synsets(props: Mapping[str, frozenset[str]]) -> set[str]:
    soaps: set[str] = set()
    for root in _FROM_SUBTREES["soap"]:
        soaps |= _subtree(root)
    lemmas = {s.split(".")[0] for s in soaps}
    # B1K names containers after their contents: bottle__of__detergent, soap__bottle, ...
    for synset in props:
        parts = synset.split(".")[0].split("__")
        if len(parts) > 1 and lemmas.intersection(parts):
            soaps.add(synset)
    soaps.update(_SOAP_SINGLETONS)
    return soaps


def _abilities_from_properties(props: Iterable[str]) -> set[str]:
    props = set(props)
    return {ability for ability, sources in _FROM_PROPERTIES.items() if props.intersection(sources)}


def _nearest_annotated_ancestor(synset: str, annotated: Mapping[str, object]) -> str | None:
    _, parents = _tree()
    frontier = sorted(parents.get(synset, ()))
    seen: set[str] = set()
    while frontier:  # breadth-first, so the nearest ancestor wins
        nxt: list[str] = []
        for p in frontier:
            if p in seen:
                continue
            seen.add(p)
            if p in annotated:
                return p
            nxt.extend(sorted(parents.get(p, ())))
        frontier = nxt
    return None


def _general(abilities: set[str], ancestor: str) -> set[str]:
    """Abilities inherited from a more general synset: only furniture stays bolted down."""
    if ancestor not in _subtree(_FURNITURE_ROOT):
        abilities = abilities - {"fixed"}
    return abilities


@functools.lru_cache(maxsize=1)
def load_abilities() -> dict[str, frozenset[str]]:
    """synset -> ability names, for every synset the bddl data or the tables above cover.

    Cached: callers must not mutate the returned dict.
    """
    props = _properties()
    table: dict[str, set[str]] = {s: _abilities_from_properties(p) for s, p in props.items()}

    for ability, roots in _FROM_SUBTREES.items():
        if ability == "soap":
            members = _soap_synsets(props)
        else:
            members = set()
            for root in roots:
                members |= _subtree(root)
        for synset in members:
            if ability in _SUBTREE_SOLID_ONLY and "substance" in props.get(synset, ()):
                continue
            table.setdefault(synset, set()).add(ability)

    # abstract synsets: what most of their concrete descendants can do
    concrete = {s for s, p in props.items()
                if p and "substance" not in p and s.split("__")[0] not in _DERIVED_STATE_PREFIXES}
    for synset, p in props.items():
        if p:
            continue
        members = [d for d in _subtree(synset) if d != synset and d in concrete]
        if not members:
            continue
        counts: dict[str, int] = {}
        for d in members:
            for ability in table[d]:
                counts[ability] = counts.get(ability, 0) + 1
        table[synset] |= {a for a, n in counts.items() if 2 * n >= len(members)}

    # (1) hierarchy members without annotations of their own
    children, _ = _tree()
    for synset in children:
        if synset not in props:
            anc = _nearest_annotated_ancestor(synset, props)
            if anc is not None:
                table[synset] = table.get(synset, set()) | _general(set(table[anc]), anc)

    # (2) stand-ins for BEHAVIOR-100 synsets; CSV-only properties were already merged above
    for synset, (stand_in, kind, _why) in _STAND_INS.items():
        if stand_in not in table:
            continue
        inherited = set(table[stand_in])
        if kind == "hypernym":
            inherited = _general(inherited, stand_in)
        table[synset] = table.get(synset, set()) | inherited

    # (3) overrides
    for synset, (extra, _why) in _OVERRIDES.items():
        table[synset] = table.get(synset, set()) | set(extra)
    for synset, (dropped, _why) in _REMOVALS.items():
        table[synset] = table.get(synset, set()) - set(dropped)

    for abilities in table.values():
        if "openable" in abilities or "cooking_vessel" in abilities:
            abilities.add("container")
    return {s: frozenset(a) for s, a in table.items()}


def abilities_of(synset: str) -> frozenset[str] | None:
    """Abilities of one synset, or None when the table has no entry for it."""
    return load_abilities().get(synset)


def unknown_categories(categories: Iterable[str]) -> list[str]:
    """The categories (synsets) with no entry in the ability table, sorted, without duplicates."""
    table = load_abilities()
    return sorted({c for c in categories if c not in table})
