"""Top-down schematic of a scene: rooms, furniture (front edge drawn thick, doors dashed),
items as numbered boxes with a key beside the plan. For people, and as a cheap image
observation (deterministic pixels for a given scene). matplotlib with the Agg backend: no
display needed."""

from __future__ import annotations

import io
import math
import os
import re
from pathlib import Path

import numpy as np

from .layout import QUARTER, object_box

__all__ = ["draw_schematic", "render_schematic"]

_COLOURS = {
    "furniture": ("#c9b48f", "#6b5a3a"),
    "container": ("#9fb8d6", "#2f4f75"),
    "item": ("#f2a65a", "#8a4b12"),
    "item_inside": ("#f7d9b8", "#8a4b12"),
    "agent": ("#7ccf8a", "#23672f"),
}
_SYNSET_RE = re.compile(r"\.n\.\d+")


def _short(name: str) -> str:
    """``bookcase.n.01_1`` -> ``bookcase_1``: the synset sense says nothing on a plan."""
    return _SYNSET_RE.sub("", name)


def _ranges(numbers: list[int]) -> str:
    """[3, 4, 5, 9] -> '3-5,9'."""
    out, nums = [], sorted(numbers)
    start = prev = nums[0]
    for n in nums[1:] + [None]:
        if n is not None and n == prev + 1:
            prev = n
            continue
        out.append(f"{start}-{prev}" if prev > start else f"{start}")
        if n is not None:
            start = prev = n
    return ",".join(out)


def _front_edge(box: np.ndarray, yaw: float) -> tuple[tuple[float, float], tuple[float, float]]:
    q = int(round(yaw / QUARTER)) % 4
    (x0, y0), (x1, y1) = box[0, :2], box[1, :2]
    return {0: ((x1, y0), (x1, y1)), 1: ((x0, y1), (x1, y1)),
            2: ((x0, y0), (x0, y1)), 3: ((x0, y0), (x1, y0))}[q]


def draw_schematic(scene: dict, out_png: str | os.PathLike[str], dpi: int = 110,
                   title: str | None = None) -> Path:
    """Draws ``scene`` top-down to ``out_png`` (written atomically); returns the path."""
    png = render_schematic(scene, dpi=dpi, title=title)
    out = Path(out_png)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp.png")
    try:
        tmp.write_bytes(png)
        os.replace(tmp, out)
    finally:
        if tmp.exists():
            tmp.unlink()
    return out


def render_schematic(scene: dict, dpi: int = 110, title: str | None = None) -> bytes:
    """The top-down schematic of ``scene`` as PNG bytes (also the image observation)."""
    try:
        import matplotlib
        matplotlib.use("Agg", force=True)
        import matplotlib.pyplot as plt
        from matplotlib.patches import Circle, Rectangle
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise RuntimeError("emx scenes show needs matplotlib: pip install matplotlib") from e

    objects = scene["objects"]
    rooms = scene["rooms"]
    xs = [r["min"][0] for r in rooms] + [r["max"][0] for r in rooms]
    ys = [r["min"][1] for r in rooms] + [r["max"][1] for r in rooms]
    for o in objects:
        b = object_box(o)
        xs += [b[0, 0], b[1, 0]]
        ys += [b[0, 1], b[1, 1]]
    x0, x1, y0, y1 = min(xs) - 0.3, max(xs) + 0.3, min(ys) - 0.3, max(ys) + 0.6
    span_x, span_y = x1 - x0, y1 - y0

    items = [o for o in objects if o["kind"] in ("item", "container") and not o["fixed"]]
    key_lines = []
    numbers: dict[str, int] = {}
    for n, o in enumerate(items, 1):
        numbers[o["name"]] = n
        pb = o["placed_by"]
        where = f"{pb['relation']} {_short(pb['target'])}" if pb.get("relation") and pb.get("target") else ""
        key_lines.append((f"{n:>2} {_short(o['name'])}", where))
    unrealised = scene.get("unrealised") or []

    plan_w = min(14.0, max(5.0, 1.25 * span_x))
    plan_h = plan_w * span_y / span_x
    if plan_h > 10.0:
        plan_h, plan_w = 10.0, 10.0 * span_x / span_y
    rows = len(key_lines) + (len(unrealised) + 2 if unrealised else 0)
    key_cols = 1 if rows <= 40 else 2
    key_w = 3.4 * key_cols
    fig_h = max(plan_h + 0.8, 0.16 * min(rows, 80) / key_cols + 1.2, 3.0)
    fig = plt.figure(figsize=(plan_w + key_w, fig_h), dpi=dpi)
    ax = fig.add_axes((0.02, 0.04, plan_w / (plan_w + key_w) - 0.02, 0.86))
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    for side in ax.spines.values():
        side.set_visible(False)
    pts_per_m = ax.get_window_extent().width / span_x * 72 / dpi   # font points per metre

    for r in rooms:
        (rx0, ry0), (rx1, ry1) = r["min"], r["max"]
        ax.add_patch(Rectangle((rx0, ry0), rx1 - rx0, ry1 - ry0, facecolor="#f4f1ea", edgecolor="#333333",
                               linewidth=3.0, zorder=0))
        # above the room, outside the walls: never under furniture
        ax.text(rx0 + 0.05, ry1 + 0.08, r["name"].replace("_", " "), ha="left", va="bottom", fontsize=11,
                fontweight="bold", color="#444444", zorder=1)

    fixed = [o for o in objects if o["kind"] in ("furniture", "container") and o["fixed"]]
    fixed_names = {o["name"] for o in fixed}
    hidden = {o["name"] for o in items
              if (o["placed_by"] or {}).get("relation") == "inside" and (o["placed_by"] or {}).get("target") in fixed_names}
    supports = {(o["placed_by"] or {}).get("target") for o in items
                if (o["placed_by"] or {}).get("relation") in ("ontop", "draped", "overlaid", "attached")}
    contents: dict[str, list[int]] = {}
    for o in items:
        if o["name"] in hidden:
            contents.setdefault(o["placed_by"]["target"], []).append(numbers[o["name"]])
    fixed.sort(key=lambda o: object_box(o)[1, 2])
    for o in fixed:
        b = object_box(o)
        face, edge = _COLOURS[o["kind"]]
        mounted = b[0, 2] > 0.3 and not o.get("legs")
        ax.add_patch(Rectangle(tuple(b[0, :2]), *(b[1, :2] - b[0, :2]), facecolor=face, edgecolor=edge,
                               linewidth=0.8, linestyle="--" if (o.get("legs") or mounted) else "-",
                               alpha=0.55 if mounted else 0.9, zorder=2))
        (fx0, fy0), (fx1, fy1) = _front_edge(b, o["yaw"])
        art = o.get("articulation")
        ax.plot([fx0, fx1], [fy0, fy1], color=edge, linewidth=2.6 if art else 1.6,
                linestyle=(0, (2, 1)) if art else "-", zorder=3, solid_capstyle="butt")
        w, h = b[1, 0] - b[0, 0], b[1, 1] - b[0, 1]
        vertical = h > 1.3 * w
        label = _short(o["name"])
        if o["name"] in contents:
            label += f" [{_ranges(contents[o['name']])}]"
        long_side, short_side = (h, w) if vertical else (w, h)
        # a character is about 0.6 of the font size wide
        size = min(9.0, 0.92 * long_side * pts_per_m / (0.6 * len(label)), 0.55 * short_side * pts_per_m)
        cx, cy = (b[0, 0] + b[1, 0]) / 2, (b[0, 1] + b[1, 1]) / 2
        covered = o["name"] in supports   # things on it would hide the name
        if size >= 6.0 and not covered:
            ax.text(cx, cy, label, ha="center", va="center", fontsize=size, rotation=90 if vertical else 0,
                    color="#222222", zorder=4)
        else:   # too small to hold its name: the name goes in front of it, in the room
            normal = np.array([math.cos(o["yaw"]), math.sin(o["yaw"])])
            mid = (np.array([fx0, fy0]) + np.array([fx1, fy1])) / 2 + normal * (8.0 / pts_per_m)
            ha = "left" if normal[0] > 0.5 else "right" if normal[0] < -0.5 else "center"
            va = "bottom" if normal[1] > 0.5 else "top" if normal[1] < -0.5 else "center"
            ax.text(mid[0], mid[1], label, ha=ha, va=va, fontsize=6.5, color="#222222", zorder=9,
                    bbox=dict(boxstyle="round,pad=0.15", facecolor="white", edgecolor=edge, linewidth=0.5, alpha=0.85))

    placed_numbers: list[tuple[float, float]] = []
    for o in sorted(items, key=lambda o: object_box(o)[1, 2]):
        b = object_box(o)
        relation = (o["placed_by"] or {}).get("relation")
        inside = relation == "inside"
        face, edge = _COLOURS["item_inside" if inside or relation == "under" else "item"]
        ax.add_patch(Rectangle(tuple(b[0, :2]), *(b[1, :2] - b[0, :2]), facecolor=face, edgecolor=edge,
                               linewidth=0.6, linestyle=":" if inside or relation == "under" else "-",
                               alpha=0.5 if o["name"] in hidden else 1.0, zorder=5))
        if o["name"] in hidden:   # numbered in the container's label instead
            continue
        cx, cy = (b[0, 0] + b[1, 0]) / 2, (b[0, 1] + b[1, 1]) / 2
        # nudge a number off another one printed at (nearly) the same spot
        step = 9.0 / max(pts_per_m, 1e-6)   # metres that a number's label takes
        for _ in range(6):
            if all(abs(cx - px) > step or abs(cy - py) > step * 0.8 for px, py in placed_numbers):
                break
            cy += step * 0.9
        placed_numbers.append((cx, cy))
        ax.text(cx, cy, str(numbers[o["name"]]), ha="center", va="center", fontsize=6.5, color="#111111",
                zorder=6, bbox=dict(boxstyle="round,pad=0.12", facecolor="white", edgecolor="none", alpha=0.75))

    for o in objects:
        if o["kind"] == "agent":
            b = object_box(o)
            c = ((b[0, 0] + b[1, 0]) / 2, (b[0, 1] + b[1, 1]) / 2)
            face, edge = _COLOURS["agent"]
            ax.add_patch(Circle(c, 0.25, facecolor=face, edgecolor=edge, linewidth=1.0, zorder=7))
            ax.text(c[0], c[1], "agent", ha="center", va="center", fontsize=6.5, zorder=8)

    ax.set_title(title or f"{scene['task_id']}  (seed {scene['seed']})", fontsize=10, loc="left")

    key = fig.add_axes((plan_w / (plan_w + key_w) + 0.005, 0.04, key_w / (plan_w + key_w) - 0.01, 0.78))
    key.axis("off")
    lines: list[tuple[str, str]] = [("items (number: name, init relation)", "head")]
    lines += [(f"{a}  {b}" if b else a, "item") for a, b in key_lines]
    if unrealised:
        lines.append(("", "gap"))
        lines.append((f"unrealised ({len(unrealised)})", "head_bad"))
        lines += [(u["literal"], "bad") for u in unrealised[:30]]
    per_col = -(-len(lines) // key_cols)
    fontsize = 7.5 if per_col <= 40 else max(4.5, 7.5 * 40 / per_col)
    for i, (text, style) in enumerate(lines):
        col, row = divmod(i, per_col)
        key.text(col / key_cols, 1 - row / max(per_col, 40), text[:58], transform=key.transAxes, ha="left", va="top",
                 fontsize=fontsize, family="monospace",
                 color="#b00020" if style.endswith("bad") else "#222222",
                 fontweight="bold" if style.startswith("head") else "normal")

    buf = io.BytesIO()
    try:
        fig.savefig(buf, format="png", dpi=dpi, facecolor="white", bbox_inches="tight", pad_inches=0.15)
    finally:
        plt.close(fig)
    return buf.getvalue()
