"""``emx bench all``: every registered benchmark in one run -- one JSON file with every result and a
PNG chart of every headline ratio against its target.

Each benchmark runs in turn (``run(quick=...)`` of its module); one that fails is recorded with its
error and the others still run. The files are written to ``out_dir`` (default: ``$EMX_BENCH_DIR``,
else ``bench-results/`` under the current directory) as ``bench-all-<UTC time>.json`` and
``.png``, each written to a temporary name and renamed into place.

``run(quick)`` returns the contract's JSON object (``ratios`` holds every benchmark's ratios as
``"<bench>.<ratio>"``) and prints nothing.
"""

from __future__ import annotations

import importlib
import json
import math
import os
import time
import traceback
from pathlib import Path
from typing import Optional

from . import BENCHMARKS, Progress, machine_info

__all__ = ["run", "format_table", "main", "ORDER", "write_chart"]

NAME = "all"
# The order they run in; registered benchmarks not named here run after these.
ORDER = ("goal-check", "state-check", "physics", "rollout", "server", "datagen", "training")


def _names(only: Optional[list[str]]) -> list[str]:
    names = [n for n in ORDER if n in BENCHMARKS] + sorted(n for n in BENCHMARKS if n not in ORDER and n != NAME)
    if only:
        unknown = [n for n in only if n not in BENCHMARKS or n == NAME]
        if unknown:
            raise ValueError(f"unknown benchmark(s) {unknown}; available: {', '.join(names)}")
        names = [n for n in names if n in only]
    return names


def _finite(x) -> Optional[float]:
    return float(x) if isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) else None


def _targets(result: dict) -> dict:
    """Numeric targets a benchmark states (under ``target`` or ``targets``) for keys that are also ratios."""
    target = {}
    for key in ("targets", "target"):
        if isinstance(result.get(key), dict):
            target.update(result[key])
    return {k: float(v) for k, v in target.items()
            if k in result.get("ratios", {}) and _finite(v) is not None}


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def write_chart(result: dict, path: Path) -> bool:
    """A horizontal bar per ratio (log scale), a tick at its target; False without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except Exception:
        return False
    bars = []  # (label, value, target, bench)
    for entry in result["results"]:
        targets = entry.get("targets", {})
        for key, value in entry.get("ratios", {}).items():
            v = _finite(value)
            if v is not None and v > 0:
                bars.append((f"{entry['name']}: {key}", v, targets.get(key), entry["name"]))
    fig, ax = plt.subplots(figsize=(10, max(2.5, 0.42 * len(bars) + 1.5)))
    if bars:
        benches = sorted({b[3] for b in bars})
        colours = {b: plt.get_cmap("tab10")(i % 10) for i, b in enumerate(benches)}
        y = list(range(len(bars)))[::-1]
        ax.barh(y, [b[1] for b in bars], color=[colours[b[3]] for b in bars])
        for yi, (_, v, t, _) in zip(y, bars):
            ax.text(v, yi, f" {v:,.3g}x", va="center", fontsize=8)
            if t:
                ax.plot([t, t], [yi - 0.4, yi + 0.4], color="black", linewidth=2)
        ax.set_yticks(y)
        ax.set_yticklabels([b[0] for b in bars], fontsize=8)
        ax.set_xscale("log")
        ax.axvline(1.0, color="grey", linewidth=0.8)
        ax.set_xlabel("times faster (log scale); black tick: target")
    else:
        ax.text(0.5, 0.5, "no ratios", ha="center", va="center")
        ax.set_axis_off()
    m = result["machine"]
    gpu = next((r.get("gpu") for r in result["results"] if r.get("gpu")), None)
    ax.set_title(f"emx bench all ({'quick' if result['quick'] else 'full'}), {result['date']}\n"
                 f"{m.get('cpu')}, {m.get('cores')} cores" + (f", GPU {gpu}" if gpu else ", no GPU")
                 + (f", load {m['load_average_1min']}" if m.get("load_average_1min") is not None else ""),
                 fontsize=9)
    fig.tight_layout()
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp.png")
    fig.savefig(tmp, dpi=120)
    plt.close(fig)
    os.replace(tmp, path)
    return True


def run(quick: bool = False, progress: Progress = None, *, out_dir: Optional[str] = None,
        only: Optional[list[str]] = None, write: bool = True) -> dict:
    """Runs every benchmark (or those in ``only``); writes the JSON file and the chart unless
    ``write`` is false. Returns ``{"bench": "all", "machine", "results", "ratios", "benches",
    "files", ...}``; ``results`` has one entry per benchmark: name, ok, wall_s, ratios, targets,
    error."""
    started = time.perf_counter()
    date = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    names = _names(only)
    results, benches, ratios = [], {}, {}
    for k, name in enumerate(names):
        t0 = time.perf_counter()
        entry = {"name": name, "ok": False, "wall_s": 0.0, "ratios": {}, "targets": {}, "error": None}
        try:
            module = importlib.import_module(BENCHMARKS[name])
            sub = None
            if progress:
                def sub(stage, done, total, _name=name):  # noqa: E306
                    progress(f"{_name}: {stage}", done, total)
            result = module.run(quick=quick, progress=sub)
            benches[name] = result
            entry["ok"] = True
            entry["ratios"] = dict(result.get("ratios", {}))
            entry["targets"] = _targets(result)
            gpu = (result.get("machine") or {}).get("gpu")
            if isinstance(gpu, dict):
                entry["gpu"] = gpu.get("name")
        except Exception as e:  # one failing benchmark must not lose the others' figures
            entry["error"] = f"{type(e).__name__}: {e}"
            entry["traceback"] = traceback.format_exc(limit=6)
        entry["wall_s"] = time.perf_counter() - t0
        for key, value in entry["ratios"].items():
            ratios[f"{name}.{key}"] = value
        results.append(entry)
        if progress:
            progress("benchmarks", k + 1, len(names))

    out = {
        "bench": NAME,
        "machine": machine_info(),
        "date": date,
        "quick": bool(quick),
        "results": results,
        "ratios": ratios,
        "benches": benches,
        "files": {},
        "wall_s": 0.0,
    }
    out["wall_s"] = time.perf_counter() - started
    if write:
        folder = Path(out_dir or os.environ.get("EMX_BENCH_DIR") or "bench-results")
        folder.mkdir(parents=True, exist_ok=True)
        stem = "bench-all-" + date.replace(":", "").replace("-", "")
        json_path, png_path = folder / f"{stem}.json", folder / f"{stem}.png"
        out["files"] = {"json": str(json_path), "png": str(png_path) if write_chart(out, png_path) else None}
        _write_atomic(json_path, json.dumps(out, indent=2, default=str).encode())
    return out


def format_table(result: dict) -> list[tuple[str, str]]:
    """(label, value) rows for a human table: one per benchmark, then the files."""
    m = result["machine"]
    rows = [("machine", f"{m['cpu']}, {m['cores']} cores, Python {m['python']}"
                        + (f", load {m['load_average_1min']}" if m.get("load_average_1min") is not None else ""))]
    for r in result["results"]:
        if not r["ok"]:
            rows.append((r["name"], f"FAILED after {r['wall_s']:.1f} s: {r['error']}"[:300]))
            continue
        shown = []
        for key, value in r["ratios"].items():
            v = _finite(value)
            text = f"{key} {v:,.3g}x" if v is not None else f"{key} -"
            if key in r["targets"]:
                text += f" (target {r['targets'][key]:,.3g}x)"
            shown.append(text)
        rows.append((r["name"], f"{r['wall_s']:.1f} s; " + ("; ".join(shown) or "no ratios")))
    files = result.get("files") or {}
    if files.get("json"):
        rows.append(("json", files["json"]))
    if files.get("png"):
        rows.append(("chart", files["png"]))
    rows.append(("wall time", f"{result['wall_s']:.1f} s"))
    return rows


def main(argv: Optional[list[str]] = None) -> int:
    """``python -m emx.bench.all [--quick] [--json] [--out DIR] [--only NAME ...]`` (bench/all.py)."""
    import argparse
    import sys

    parser = argparse.ArgumentParser(prog="all", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="each benchmark's quick mode")
    parser.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    parser.add_argument("--out", default=None, help="folder for the JSON file and the chart")
    parser.add_argument("--only", nargs="*", default=None, help="run only these benchmarks")
    args = parser.parse_args(argv)

    def progress(stage, done, total):
        if sys.stderr.isatty():
            sys.stderr.write(f"\r{stage}: {done}/{total}   " if total else f"\r{stage}   ")
            sys.stderr.flush()

    result = run(args.quick, progress=progress, out_dir=args.out, only=args.only)
    if sys.stderr.isatty():
        sys.stderr.write("\n")
    if args.json:
        print(json.dumps(result, indent=2, default=str))
    else:
        rows = format_table(result)
        width = max(len(k) for k, _ in rows)
        for label, value in rows:
            print(f"{label:<{width}}  {value}")
    return 0 if all(r["ok"] for r in result["results"]) else 1


if __name__ == "__main__":
    raise SystemExit(main())
