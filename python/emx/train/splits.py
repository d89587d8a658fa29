"""Honest train / held-out splits, and ``split.json`` that records them.

A held-out task is no test of generalisation when training holds the same command and goal
(the old tiny split drew train and held-out tasks from one template with two seeds: 80 of 128
held-out tasks had a twin in training). Here every task has a *signature*: its goal template (the
canonical goal with each object category replaced by a placeholder, ``(and (inside ?X0 ?X1) (not
(open ?X1)))``) and its goal category set. Held-out tasks share no signature -- hence no (command,
goal) either -- with training, by construction (each task is classified by its signature before
it is kept), and ``check_disjoint`` verifies it on the finished split.

Held-out sets:

    compositional      known categories only, in goal templates or (template, categories)
                       combinations training never shows
    novel_categories   the goal names an object category that never appears in training (not
                       even as a distractor)
    eai_behavior       the EAI BEHAVIOR tasks (``eai-behavior``): out of distribution; only for
                       generated training tasks, at most ``ood_limit`` of them

``split.json`` (written atomically) lists, for train and each held-out set, every task's id,
command, canonical goal, goal template and goal categories.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..task import Task

__all__ = ["HELD_OUT_SETS", "Split", "SplitRule", "TaskSignature", "check_disjoint", "make_split",
           "task_signature", "template_split", "source_split"]

COMPOSITIONAL, NOVEL, OOD = "compositional", "novel_categories", "eai_behavior"
HELD_OUT_SETS = (COMPOSITIONAL, NOVEL, OOD)
# Categories every household task has: never "novel", never part of the goal-category set.
_SCAFFOLD = frozenset({"floor.n.01", "agent.n.01"})
_CATEGORY_RE = re.compile(r"[A-Za-z0-9_\-]+\.n\.\d+")


@dataclass(frozen=True)
class TaskSignature:
    goal: str                      # canonical goal text (instances -> categories, literals sorted)
    template: str                  # the goal with its categories as placeholders ?X0, ?X1, ...
    categories: frozenset[str]     # the categories the goal names
    objects: frozenset[str]        # every object category of the task (distractors too)

    @property
    def key(self) -> tuple[str, frozenset[str]]:
        return self.template, self.categories


def signature_of(goal_exprs: Sequence[str], categories: Mapping[str, str]) -> TaskSignature:
    """The signature of a goal given as BDDL expressions over objects named in ``categories``
    (instance name -> category)."""
    from ..datagen.canonical import canonical_goal

    goal = canonical_goal(list(goal_exprs), categories)
    names: dict[str, str] = {}

    def placeholder(m: re.Match) -> str:
        return names.setdefault(m.group(0), f"X{len(names)}")

    template = _CATEGORY_RE.sub(placeholder, goal)
    return TaskSignature(goal, template, frozenset(names) - _SCAFFOLD, frozenset(categories.values()) - _SCAFFOLD)


def task_signature(task: Task) -> TaskSignature:
    return signature_of(task.goal_conditions, {o.name: o.category for o in task.objects})


def _unit(*parts: object) -> float:
    """A deterministic number in [0, 1) from the parts (the split must not depend on PYTHONHASHSEED)."""
    h = hashlib.sha256("\x1f".join(map(str, parts)).encode("utf-8")).digest()
    return int.from_bytes(h[:8], "big") / 2**64


@dataclass(frozen=True)
class SplitRule:
    """Which split a task belongs to, from its signature alone."""

    seed: int
    novel_categories: frozenset[str]
    held_out_templates: frozenset[str] = frozenset()
    combo_fraction: float = 0.15     # share of (template, categories) combinations held out

    def classify(self, sig: TaskSignature) -> str:
        """"train", "compositional", "novel_categories", or "drop" (a novel category only among
        the distractors: neither a training task nor a novel-category test)."""
        if sig.categories & self.novel_categories:
            return NOVEL
        if sig.objects & self.novel_categories:
            return "drop"
        if sig.template in self.held_out_templates:
            return COMPOSITIONAL
        if _unit("combo", self.seed, sig.template, *sorted(sig.categories)) < self.combo_fraction:
            return COMPOSITIONAL
        return "train"

    def to_json(self) -> dict[str, Any]:
        return {"seed": self.seed, "novel_categories": sorted(self.novel_categories),
                "held_out_templates": sorted(self.held_out_templates), "combo_fraction": self.combo_fraction}


@dataclass
class Split:
    train: list[Task]
    held_out: dict[str, list[Task]]          # set name -> tasks, in HELD_OUT_SETS order
    rule: SplitRule | None = None
    origin: str = ""
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        def rows(tasks: Iterable[Task]) -> list[dict[str, Any]]:
            out = []
            for t in tasks:
                sig = task_signature(t)
                out.append({"id": t.id, "command": t.command, "goal": sig.goal, "goal_template": sig.template,
                            "goal_categories": sorted(sig.categories)})
            return out

        return {"origin": self.origin, "rule": self.rule.to_json() if self.rule else None,
                "notes": self.notes,
                "counts": {"train": len(self.train), **{k: len(v) for k, v in self.held_out.items()}},
                "train": rows(self.train), "held_out": {k: rows(v) for k, v in self.held_out.items()}}

    def write(self, path: str | Path) -> Path:
        from .checkpoint import atomic_write_text

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(path, json.dumps(self.to_json(), indent=1) + "\n")
        return path


def check_disjoint(split: Split) -> None:
    """Raises ValueError when a held-out task (other than the out-of-distribution set) shares a
    (command, goal) or a (goal template, goal categories) with a training task; when a
    compositional task's goal names a category training never shows; or when a novel-category
    task's goal names none."""
    train_sigs = [task_signature(t) for t in split.train]
    train_pairs = {(t.command, s.goal) for t, s in zip(split.train, train_sigs)}
    train_keys = {s.key for s in train_sigs}
    train_cats = frozenset().union(*(s.objects for s in train_sigs)) if train_sigs else frozenset()
    for name, tasks in split.held_out.items():
        if name == OOD:
            continue
        for t in tasks:
            sig = task_signature(t)
            if (t.command, sig.goal) in train_pairs:
                raise ValueError(f"held-out {name} task {t.id} has the command and goal of a training task")
            if sig.key in train_keys:
                raise ValueError(f"held-out {name} task {t.id} has the goal template and categories of a training "
                                 f"task: {sig.template} over {sorted(sig.categories)}")
            if name == NOVEL and not (sig.categories - train_cats):
                raise ValueError(f"held-out {name} task {t.id}: every goal category appears in training")
            if name == COMPOSITIONAL and (sig.categories - train_cats):
                raise ValueError(f"held-out {name} task {t.id}'s goal names categories training never shows: "
                                 f"{sorted(sig.categories - train_cats)}")


# --------------------------------------------------------------------------- tiny template tasks

def _draw(n: int, seed: int, want: str, rule: SplitRule, tables: str, prefix: str,
          source: str = "tiny") -> list[Task]:
    """``n`` template tasks whose class under ``rule`` is ``want`` (rejection sampling from one
    deterministic stream)."""
    from ..task import compile_spec
    from ..tasks.sources import TaskSpec
    from .tiny_tasks import template_draft

    rng = random.Random(seed)
    out: list[Task] = []
    attempts = 0
    while len(out) < n:
        attempts += 1
        if attempts > 200 * max(n, 1) + 1000:
            raise ValueError(f"the template cannot produce {n} {want} tasks under this split rule")
        d = template_draft(rng, len(out), tables=tables)
        if rule.classify(signature_of(d.goal, d.categories)) != want:
            continue
        task_id = f"{prefix}_{len(out):05d}_{d.kind}"
        out.append(compile_spec(TaskSpec(id=task_id, source=source, bddl_text=d.text(task_id),
                                         filename=f"<{source}:{task_id}>", command=d.command)))
    return out


def template_split(n_train: int, n_eval: int, seed: int) -> Split:
    """The tiny preset's split: training from the template's training categories; held-out
    compositional tasks (a goal shape training never sees, and held-out combinations) and
    novel-category tasks (categories reserved from training)."""
    from .tiny_tasks import HELD_OUT_KINDS, RESERVED, kind_template

    rule = SplitRule(seed=seed, novel_categories=frozenset(RESERVED),
                     held_out_templates=frozenset(kind_template(k) for k in HELD_OUT_KINDS))
    n_comp = n_eval - n_eval // 2
    train = _draw(n_train, seed * 2 + 1, "train", rule, "train", f"s{seed}_train")
    comp = _draw(n_comp, seed * 2 + 2, COMPOSITIONAL, rule, "train", f"s{seed}_comp")
    novel = _draw(n_eval - n_comp, seed * 2 + 3, NOVEL, rule, "all", f"s{seed}_novel")
    return Split(train, {COMPOSITIONAL: comp, NOVEL: novel}, rule, origin="tiny template")


# --------------------------------------------------------------------------- a task source

def source_split(tasks: Sequence[Task], n_train: int | None, n_eval: int, seed: int) -> Split:
    """A split of a fixed task list: novel categories are picked (in a seeded order) while the
    tasks they remove stay within the held-out budget; then whole (template, categories) groups
    go to the compositional set. Tasks with a novel category only among distractors are dropped
    (counted in the notes)."""
    sigs = [task_signature(t) for t in tasks]
    n_novel = n_eval // 2
    goal_count: dict[str, int] = {}
    obj_count: dict[str, int] = {}
    for s in sigs:
        for c in s.categories:
            goal_count[c] = goal_count.get(c, 0) + 1
        for c in s.objects:
            obj_count[c] = obj_count.get(c, 0) + 1
    novel: set[str] = set()
    touched: set[int] = set()
    for cat in sorted(goal_count, key=lambda c: _unit("novel", seed, c)):
        if sum(1 for i in touched if sigs[i].categories & novel) >= n_novel:
            break
        new = {i for i, s in enumerate(sigs) if cat in s.objects} - touched
        if not new or len(touched | new) > max(n_eval, 1) or len(touched | new) > len(tasks) // 4:
            continue   # too common a category: it would empty the training set
        novel.add(cat)
        touched |= new
    rule0 = SplitRule(seed=seed, novel_categories=frozenset(novel), combo_fraction=0.0)
    classes = [rule0.classify(s) for s in sigs]
    novel_set = [t for t, c in zip(tasks, classes) if c == NOVEL][:n_novel]
    # compositional: whole signature groups, in a seeded order, until the budget is met
    groups: dict[tuple[str, frozenset[str]], list[int]] = {}
    for i, (s, c) in enumerate(zip(sigs, classes)):
        if c == "train":
            groups.setdefault(s.key, []).append(i)
    n_comp = n_eval - len(novel_set)
    held_keys: set[tuple[str, frozenset[str]]] = set()
    comp_idx: list[int] = []
    for key in sorted(groups, key=lambda k: _unit("group", seed, k[0], *sorted(k[1]))):
        if len(comp_idx) >= n_comp:
            break
        if len(groups) - len(held_keys) <= 1:
            break      # keep at least one group to train on
        held_keys.add(key)
        comp_idx += groups[key]
    comp_set = [tasks[i] for i in comp_idx]
    train = [t for t, s, c in zip(tasks, sigs, classes) if c == "train" and s.key not in held_keys]
    rng = random.Random(seed)
    rng.shuffle(train)
    if n_train:
        train = train[:n_train]
    # a category only the held-out groups have is novel, not known: such a task changes sets
    seen = frozenset().union(*(task_signature(t).objects for t in train)) if train else frozenset()
    moved = [t for t in comp_set if task_signature(t).categories - seen]
    if moved:
        comp_set = [t for t in comp_set if not task_signature(t).categories - seen]
        novel_set += moved
        novel |= {c for t in moved for c in task_signature(t).categories - seen}
    dropped = sum(1 for c in classes if c == "drop")
    notes = [f"{dropped} task(s) dropped: a novel category among their distractors"] if dropped else []
    if moved:
        notes.append(f"{len(moved)} task(s) of held-out groups moved to {NOVEL}: their goal categories "
                     "appear in no training task")
    rule = SplitRule(seed=seed, novel_categories=frozenset(novel), combo_fraction=0.0)
    return Split(train, {COMPOSITIONAL: comp_set, NOVEL: novel_set}, rule, origin="task source", notes=notes)


def make_split(config: Any, load: Callable[[str], list[Task]] | None = None) -> Split:
    """The split a TrainConfig asks for: the tiny template's, or a task source's; plus the EAI
    BEHAVIOR out-of-distribution set (``ood_limit`` tasks; 0 leaves it out) for generated tasks."""
    from ..task import load_tasks

    load = load or load_tasks
    seed = config.seed if getattr(config, "split_seed", None) is None else config.split_seed
    if config.tasks is None:
        if config.task_generator == "template":
            split = template_split(config.n_train_tasks, config.n_eval_tasks, seed)
        else:
            from .tiny_tasks import household_tasks

            pool = household_tasks(config.n_train_tasks + 2 * config.n_eval_tasks, seed * 2 + 1,
                                   config.task_generator)
            split = source_split(pool, config.n_train_tasks, config.n_eval_tasks, seed)
            split.origin = f"{config.task_generator} generator"
        limit = getattr(config, "ood_limit", 0) or 0
        if limit > 0:
            split.held_out[OOD] = list(load("eai-behavior"))[:limit]
    else:
        split = source_split(load(config.tasks), config.n_train_tasks, config.n_eval_tasks, seed)
        split.origin = f"task source {config.tasks}"
    semantics = getattr(config, "semantics", None)
    if semantics:   # the profile judges plans; it changes no task's command, goal or signature
        split.train = [t.with_semantics(semantics) for t in split.train]
        split.held_out = {k: [t.with_semantics(semantics) for t in ts] for k, ts in split.held_out.items()}
    check_disjoint(split)
    return split
