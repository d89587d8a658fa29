"""Training runs with error bars: the tiny preset's training variants, several seeds each, held-out
success and reward per held-out set as mean ± 95% t-interval over seeds.

    python bench/train_seeds.py --out runs/seeds                # the protocol (long)
    python bench/train_seeds.py --out runs/seeds --quick        # a few steps: checks the pipeline
    python bench/train_seeds.py --out runs/seeds --aggregate    # table + PNG from finished runs only

Variants (rows of the table), each for every seed:

    untrained (plan), untrained (closed loop)      the freshly built tiny model: no SFT, no GRPO
    SFT (plan)                                     step 0 of the plan GRPO run (SFT only)
    SFT (closed loop)                              an SFT-only closed-loop run
    SFT+GRPO (plan)                                whole-plan episodes (preset ``tiny``)
    SFT+GRPO (closed loop, {episode|turn|gigpo})   closed-loop episodes (preset ``tiny-closed-loop``),
                                                   one run per credit, each continuing from the same
                                                   seed's SFT-only checkpoint (the credits are compared
                                                   from one identical starting model per seed)

Seeds vary the model's initialisation, SFT batches and GRPO sampling; the train / held-out split
is the same for every run (``split_seed``), so all rows are measured on the same tasks. Held-out
sets (``emx.train.splits``): ``compositional``, ``novel_categories``, ``eai_behavior`` (out of
distribution), and ``in_distribution`` (the first two together). Reward is the ``default``
preset's for every variant (training rewards differ: ``eai`` for plans, ``default`` for closed
loop; every evaluation is also scored under the other presets). Greedy decoding.

Interval: mean ± t(0.975, n-1) · s / sqrt(n) with s the sample standard deviation (n - 1), n the
number of seeds (t = 4.303 for 3 seeds). Two variants *separate* on a measure when their intervals
do not overlap; the markdown lists every comparison with SFT and between credits, and only a
separated one is a difference.

Runs go to ``OUT/runs/RUN/seedS`` (an ``emx train`` run directory each); a run with a
``summary.json`` is not run again, so an interrupted protocol continues where it stopped. One vLLM
engine serves every run of an episode kind (its weights are synced at each run's start).
Outputs: ``OUT/results.json``, ``OUT/results.md``, ``OUT/curves.png``.
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SETS = ("in_distribution", "compositional", "novel_categories", "eai_behavior")
MEASURES = (("success", "eval_success"), ("reward", "eval_reward_default"))
CREDITS = ("episode", "turn", "gigpo")


@dataclass(frozen=True)
class Run:
    """One training configuration (run for every seed)."""

    name: str
    episode: str            # "plan" | "closed-loop"
    sft: bool               # SFT warm start (False: the untrained model)
    grpo: bool              # GRPO steps (False: stop after the step-0 evaluation)
    credit: str = "episode"
    start_from: str | None = None   # continue from this run's step-0 (SFT-only) checkpoint, same seed


@dataclass(frozen=True)
class Variant:
    """A row of the table: a run, and which of its evaluations (step 0 = after SFT, or final)."""

    label: str
    run: str
    point: str              # "sft" (step-0 evaluation) | "final"
    baseline: str | None = None   # the label this variant's gain is measured against


RUNS = (
    Run("untrained-plan", "plan", sft=False, grpo=False),
    Run("grpo-plan", "plan", sft=True, grpo=True),
    Run("untrained-closed-loop", "closed-loop", sft=False, grpo=False),
    Run("sft-closed-loop", "closed-loop", sft=True, grpo=False),
    *(Run(f"grpo-closed-loop-{c}", "closed-loop", sft=True, grpo=True, credit=c, start_from="sft-closed-loop")
      for c in CREDITS),
)

VARIANTS = (
    Variant("untrained (plan)", "untrained-plan", "final"),
    Variant("untrained (closed loop)", "untrained-closed-loop", "final"),
    Variant("SFT (plan)", "grpo-plan", "sft", baseline="untrained (plan)"),
    Variant("SFT (closed loop)", "sft-closed-loop", "final", baseline="untrained (closed loop)"),
    Variant("SFT+GRPO (plan)", "grpo-plan", "final", baseline="SFT (plan)"),
    *(Variant(f"SFT+GRPO (closed loop, {c} credit)", f"grpo-closed-loop-{c}", "final", baseline="SFT (closed loop)")
      for c in CREDITS),
)


# --------------------------------------------------------------------------- interval math

# t(0.975, df) for df = 1..30 (two-sided 95%)
_T975 = (12.706205, 4.302653, 3.182446, 2.776445, 2.570582, 2.446912, 2.364624, 2.306004, 2.262157, 2.228139,
         2.200985, 2.178813, 2.160369, 2.144787, 2.131450, 2.119905, 2.109816, 2.100922, 2.093024, 2.085963,
         2.079614, 2.073873, 2.068658, 2.063899, 2.059539, 2.055529, 2.051831, 2.048407, 2.045230, 2.042272)


def t_quantile_975(df: int) -> float:
    """The two-sided 95% critical value of Student's t with ``df`` degrees of freedom."""
    if df < 1:
        raise ValueError("a t-interval needs at least 2 values")
    if df <= len(_T975):
        return _T975[df - 1]
    z = 1.959964
    return z + (z ** 3 + z) / (4 * df) + (5 * z ** 5 + 16 * z ** 3 + 3 * z) / (96 * df ** 2)


@dataclass(frozen=True)
class Interval:
    mean: float
    half: float             # half-width of the 95% t-interval (nan for fewer than 2 values)
    n: int
    values: tuple[float, ...] = field(default=(), compare=False)

    @property
    def low(self) -> float:
        return self.mean - self.half

    @property
    def high(self) -> float:
        return self.mean + self.half

    def separates(self, other: "Interval") -> str:
        """"higher" / "lower" when the intervals do not overlap, else "overlap" (also when either
        has no interval)."""
        if not (math.isfinite(self.half) and math.isfinite(other.half)):
            return "overlap"
        if self.low > other.high:
            return "higher"
        if self.high < other.low:
            return "lower"
        return "overlap"

    def text(self, digits: int = 3) -> str:
        if self.n == 0:
            return "–"
        if not math.isfinite(self.half):
            return f"{self.mean:.{digits}f} (n={self.n})"
        return f"{self.mean:.{digits}f} ± {self.half:.{digits}f}"

    def to_json(self) -> dict[str, Any]:
        return {"mean": self.mean, "half_width": self.half if math.isfinite(self.half) else None,
                "low": self.low if math.isfinite(self.half) else None,
                "high": self.high if math.isfinite(self.half) else None, "n": self.n, "values": list(self.values)}


def t_interval(values: Iterable[float]) -> Interval:
    """mean ± t(0.975, n-1) · s / sqrt(n), s the sample standard deviation."""
    v = [float(x) for x in values if x is not None and math.isfinite(float(x))]
    n = len(v)
    if n == 0:
        return Interval(math.nan, math.nan, 0, ())
    mean = v[0] if max(v) == min(v) else math.fsum(v) / n
    if n < 2:
        return Interval(mean, math.nan, n, tuple(v))
    s = math.sqrt(math.fsum((x - mean) ** 2 for x in v) / (n - 1))
    return Interval(mean, t_quantile_975(n - 1) * s / math.sqrt(n), n, tuple(v))


# --------------------------------------------------------------------------- reading runs

def _per_set(row: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """An evaluation row or summary part -> {set: {key: value}}; ``in_distribution`` from the
    unprefixed keys (the trainer's in-distribution aggregate)."""
    out: dict[str, dict[str, Any]] = {"in_distribution": {}}
    for k, v in row.items():
        if "/eval_" in k:
            name, key = k.split("/", 1)
            out.setdefault(name, {})[key] = v
        elif k.startswith("eval_"):
            out["in_distribution"][k] = v
    return out


def read_run(run_dir: Path) -> dict[str, Any] | None:
    """A finished run: its evaluations by step ({step: {set: {key: value}}}), the step-0 ("sft")
    and last ("final") ones, and its config. None when the run has not finished."""
    run_dir = Path(run_dir)
    summary_path, metrics_path = run_dir / "summary.json", run_dir / "metrics.jsonl"
    if not summary_path.is_file() or not metrics_path.is_file():
        return None
    summary = json.loads(summary_path.read_text())
    evals: dict[int, dict[str, dict[str, Any]]] = {}
    for line in metrics_path.read_text().splitlines():
        try:
            row = json.loads(line)
        except ValueError:
            continue
        if isinstance(row, dict) and row.get("kind") == "eval":
            evals[int(row["step"])] = _per_set(row)
    if not evals:
        return None
    steps = sorted(evals)
    config = {}
    if (run_dir / "config.json").is_file():
        config = json.loads((run_dir / "config.json").read_text())
    return {"dir": str(run_dir), "evals": evals, "sft": evals[steps[0]], "final": evals[steps[-1]],
            "steps": summary.get("steps", steps[-1]), "wall_seconds": summary.get("wall_seconds"), "config": config}


def _seed_dirs(out: Path, run: str) -> list[Path]:
    base = Path(out) / "runs" / run
    if not base.is_dir():
        return []
    return sorted((p for p in base.iterdir() if p.is_dir() and p.name.startswith("seed")),
                  key=lambda p: int(p.name[4:]) if p.name[4:].isdigit() else p.name)


def aggregate(out: str | os.PathLike) -> dict[str, Any]:
    """Every variant's intervals per held-out set and measure, the separations, and the curves,
    from the finished runs under ``out/runs`` (unfinished runs are left out and counted)."""
    out = Path(out)
    runs: dict[str, list[dict[str, Any]]] = {}
    unfinished = []
    for r in RUNS:
        runs[r.name] = []
        for d in _seed_dirs(out, r.name):
            got = read_run(d)
            if got is None:
                unfinished.append(str(d))
            else:
                got["seed"] = d.name
                runs[r.name].append(got)
    table: dict[str, dict[str, dict[str, Interval]]] = {}
    for v in VARIANTS:
        table[v.label] = {}
        for s in SETS:
            table[v.label][s] = {m: t_interval(r[v.point].get(s, {}).get(key) for r in runs.get(v.run, []))
                                 for m, key in MEASURES}
    comparisons = []
    pairs = [(v.label, v.baseline) for v in VARIANTS if v.baseline]
    closed = [f"SFT+GRPO (closed loop, {c} credit)" for c in CREDITS]
    pairs += [(closed[i], closed[j]) for i in range(len(closed)) for j in range(len(closed)) if i < j]
    for a, b in pairs:
        for s in SETS:
            for m, _ in MEASURES:
                ia, ib = table[a][s][m], table[b][s][m]
                if ia.n and ib.n:
                    comparisons.append({"a": a, "b": b, "set": s, "measure": m, "a_mean": ia.mean, "b_mean": ib.mean,
                                        "result": ia.separates(ib)})
    curves: dict[str, dict[str, dict[str, list]]] = {}
    for r in RUNS:
        if not r.grpo or not runs.get(r.name):
            continue
        steps = sorted(set.intersection(*(set(x["evals"]) for x in runs[r.name])))
        curves[r.name] = {}
        for s in SETS:
            for m, key in MEASURES:
                ivs = [t_interval(x["evals"][st].get(s, {}).get(key) for x in runs[r.name]) for st in steps]
                curves[r.name][f"{s}/{m}"] = {"steps": steps, "mean": [i.mean for i in ivs],
                                              "half": [i.half for i in ivs], "n": [i.n for i in ivs]}
    seeds = {name: [x["seed"] for x in rs] for name, rs in runs.items()}
    settings = {name: {k: rs[0]["config"].get(k) for k in ("episode", "credit", "sft_steps", "max_steps",
                                                             "prompts_per_step", "group_size", "max_turns",
                                                             "n_train_tasks", "n_eval_tasks", "ood_limit", "reward",
                                                             "gigpo_step_weight", "gigpo_gamma", "split_seed")}
                for name, rs in runs.items() if rs and rs[0]["config"]}
    return {"table": {v: {s: {m: iv.to_json() for m, iv in ms.items()} for s, ms in sets.items()}
                      for v, sets in table.items()},
            "intervals": table, "comparisons": comparisons, "curves": curves, "seeds": seeds,
            "settings": settings, "unfinished": unfinished,
            "wall_seconds": {name: [x["wall_seconds"] for x in rs] for name, rs in runs.items()}}


# --------------------------------------------------------------------------- reports

def markdown(result: dict[str, Any]) -> str:
    table = result["intervals"]
    lines = []
    for m, _ in MEASURES:
        what = "success rate" if m == "success" else "mean reward (`default` preset)"
        lines += [f"**Held-out {what}**, mean ± 95% t-interval over seeds (n = seeds)", "",
                  "| variant | n | " + " | ".join(s.replace("_", " ") for s in SETS) + " |",
                  "|---|---|" + "---|" * len(SETS)]
        for label, sets in table.items():
            n = max((sets[s][m].n for s in SETS), default=0)
            lines.append(f"| {label} | {n} | " + " | ".join(sets[s][m].text() for s in SETS) + " |")
        lines.append("")
    sep = [c for c in result["comparisons"] if c["result"] != "overlap"]
    lines.append("**Separated intervals** (a difference only where the 95% intervals do not overlap):")
    lines.append("")
    if sep:
        for c in sep:
            lines.append(f"- {c['a']} {c['result']} than {c['b']}: {c['set'].replace('_', ' ')} {c['measure']} "
                         f"({c['a_mean']:.3f} vs {c['b_mean']:.3f})")
    else:
        lines.append("- none")
    overlap = [c for c in result["comparisons"] if c["result"] == "overlap"]
    if overlap:
        lines += ["", f"Overlapping (no claim): {len(overlap)} of {len(result['comparisons'])} comparisons."]
    if result.get("unfinished"):
        lines += ["", f"Unfinished runs left out: {', '.join(result['unfinished'])}"]
    return "\n".join(lines) + "\n"


def plot(result: dict[str, Any], path: str | os.PathLike) -> Path | None:
    """Learning curves of the GRPO runs (mean over seeds, 95% band), one panel per held-out set
    and measure; the untrained models as dotted lines."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except Exception:  # noqa: BLE001 - matplotlib is optional
        return None
    path = Path(path)
    fig, axes = plt.subplots(len(MEASURES), len(SETS), figsize=(4.2 * len(SETS), 3.4 * len(MEASURES)), squeeze=False)
    colors = {"grpo-plan": "tab:blue", "grpo-closed-loop-episode": "tab:orange", "grpo-closed-loop-turn": "tab:green",
              "grpo-closed-loop-gigpo": "tab:red"}
    names = {"grpo-plan": "plan", "grpo-closed-loop-episode": "closed loop, episode",
             "grpo-closed-loop-turn": "closed loop, turn", "grpo-closed-loop-gigpo": "closed loop, gigpo"}
    for row, (m, _) in enumerate(MEASURES):
        for col, s in enumerate(SETS):
            ax = axes[row][col]
            for run, c in result["curves"].items():
                cur = c.get(f"{s}/{m}")
                if not cur or not cur["steps"]:
                    continue
                mean = cur["mean"]
                half = [h if math.isfinite(h) else 0.0 for h in cur["half"]]
                ax.plot(cur["steps"], mean, "o-", ms=3, lw=1.2, color=colors.get(run), label=names.get(run, run))
                ax.fill_between(cur["steps"], [a - h for a, h in zip(mean, half)], [a + h for a, h in zip(mean, half)],
                                color=colors.get(run), alpha=0.15, lw=0)
            for label, style in (("untrained (plan)", "tab:blue"), ("untrained (closed loop)", "tab:orange")):
                iv = result["intervals"].get(label, {}).get(s, {}).get(m)
                if iv is not None and iv.n:
                    ax.axhline(iv.mean, ls=":", lw=1, color=style, label=label)
            ax.set_title(f"{s.replace('_', ' ')}: {m}", fontsize=9)
            ax.set_xlabel("GRPO step (0 = SFT only)", fontsize=8)
            ax.grid(alpha=0.3)
            if row == 0 and col == 0:
                ax.legend(fontsize=6)
    fig.tight_layout()
    tmp = path.with_name(f".{path.stem}.tmp.png")
    fig.savefig(tmp, dpi=90)
    plt.close(fig)
    os.replace(tmp, path)
    return path


def write_reports(out: str | os.PathLike, command: str | None = None) -> dict[str, Any]:
    out = Path(out)
    result = aggregate(out)
    from ..train.checkpoint import atomic_write_text

    md = markdown(result)
    if command:
        md = f"Command: `{command}`\n\n" + md
    atomic_write_text(out / "results.md", md)
    png = plot(result, out / "curves.png")
    payload = {k: v for k, v in result.items() if k != "intervals"}
    payload["plot"] = str(png) if png else None
    payload["command"] = command
    atomic_write_text(out / "results.json", json.dumps(payload, indent=1) + "\n")
    result["plot"] = payload["plot"]
    result["markdown"] = md
    return result


# --------------------------------------------------------------------------- running

@dataclass
class Settings:
    """Step counts and sizes of one protocol; ``quick()`` for a check of the pipeline."""

    grpo_steps_plan: int = 100
    grpo_steps_closed_loop: int = 50
    sft_steps_plan: int = 100
    sft_steps_closed_loop: int = 100
    prompts_per_step: int = 8
    group_size: int = 8
    eval_every: int = 25
    n_train_tasks: int = 1024
    n_eval_tasks: int = 128
    ood_limit: int = 16
    max_turns: int = 8
    split_seed: int = 0
    trainer_threads: int | None = 1

    @classmethod
    def quick(cls) -> "Settings":
        return cls(grpo_steps_plan=2, grpo_steps_closed_loop=2, sft_steps_plan=5, sft_steps_closed_loop=5,
                   prompts_per_step=2, group_size=2, eval_every=1, n_train_tasks=64, n_eval_tasks=8, ood_limit=2,
                   max_turns=3)


def run_config(run: Run, seed: int, settings: Settings, out: Path):
    from ..train import preset

    common = dict(out=str(out), seed=seed, split_seed=settings.split_seed, n_train_tasks=settings.n_train_tasks,
                  n_eval_tasks=settings.n_eval_tasks, ood_limit=settings.ood_limit,
                  prompts_per_step=settings.prompts_per_step, group_size=settings.group_size,
                  eval_every=settings.eval_every, checkpoint_every=10 ** 6, keep_checkpoints=1,
                  trainer_threads=settings.trainer_threads)
    if run.episode == "plan":
        cfg = preset("tiny", sft_steps=settings.sft_steps_plan, max_steps=max(settings.grpo_steps_plan, 1), **common)
    else:
        cfg = preset("tiny-closed-loop", sft_steps=settings.sft_steps_closed_loop, credit=run.credit,
                     max_turns=settings.max_turns, max_steps=max(settings.grpo_steps_closed_loop, 1), **common)
    if not run.sft:
        cfg.sft_steps = 0
    if not run.grpo:
        cfg.stop_after = 0          # the step-0 evaluation only, no GRPO step
    return cfg


def _start_from(src: Path, dst: Path) -> None:
    """``dst`` becomes a copy of run ``src`` as it stood after SFT and the step-0 evaluation
    (checkpoint 0, the base model, the metrics up to step 0), for ``Trainer.run(resume=True)``."""
    import shutil

    from ..train import checkpoint as ckpt

    zero = [p for step, p in ckpt.checkpoints(src / "checkpoints") if step == 0]
    if not zero:
        raise RuntimeError(f"{src}: no step-0 checkpoint to start from")
    dst.mkdir(parents=True)
    shutil.copytree(zero[0], dst / "checkpoints" / zero[0].name)
    shutil.copytree(src / "base_model", dst / "base_model")
    rows = [json.loads(x) for x in (src / "metrics.jsonl").read_text().splitlines() if x.strip()]
    keep = [r for r in rows if r.get("kind") == "sft" or int(r.get("step", 0)) == 0]
    (dst / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in keep))


def _tokenizer_bytes(model_dir: Path) -> bytes:
    p = Path(model_dir) / "tokenizer.json"
    return p.read_bytes() if p.is_file() else b""


def run_protocol(out: str | os.PathLike, seeds: Sequence[int], settings: Settings, *, runs: Sequence[str] | None = None,
                 log=print) -> None:
    """Runs every (run, seed) not finished yet, one vLLM engine per episode kind."""
    import gc
    import shutil

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from ..train import Trainer
    from ..train.splits import make_split

    out = Path(out)
    chosen = [r for r in RUNS if runs is None or r.name in runs]
    for episode in ("plan", "closed-loop"):
        llm, llm_tokenizer, trainers = None, None, []
        for run in (r for r in chosen if r.episode == episode):
            for seed in seeds:
                d = out / "runs" / run.name / f"seed{seed}"
                if read_run(d) is not None:
                    log(f"{run.name} seed {seed}: done already")
                    continue
                if d.exists():
                    shutil.rmtree(d)          # an interrupted run starts again
                cfg = run_config(run, seed, settings, d)
                if run.start_from:
                    src = out / "runs" / run.start_from / f"seed{seed}"
                    if read_run(src) is None:
                        log(f"{run.name} seed {seed}: skipped, {src} has not finished")
                        continue
                    _start_from(src, d)
                t0 = time.perf_counter()
                tr = Trainer(cfg, llm=llm)
                if llm is not None:
                    # the engine's tokenizer must be this run's: check before sampling with it
                    base = tr._base_model_dir(make_split(cfg).train)
                    if _tokenizer_bytes(base) != llm_tokenizer:
                        raise RuntimeError(f"{run.name} seed {seed}: the tokenizer differs from the shared engine's "
                                           "(runs of one episode kind must share the split)")
                summary = tr.run(resume=bool(run.start_from))
                if llm is None:
                    llm, llm_tokenizer = tr.llm, _tokenizer_bytes(Path(cfg.out) / "base_model")
                trainers.append(tr)
                fin = summary.get("final_eval", {})
                log(f"{run.name} seed {seed}: {summary['steps']} GRPO steps, held-out success "
                    f"{fin.get('eval_success', float('nan')):.3f}, {time.perf_counter() - t0:.0f} s")
        for tr in trainers:
            tr.close()
        del llm, trainers
        gc.collect()


SETTINGS_FLAGS = ("grpo_steps_plan", "grpo_steps_closed_loop", "sft_steps_plan", "sft_steps_closed_loop",
                  "prompts_per_step", "group_size", "eval_every", "n_train_tasks", "n_eval_tasks", "ood_limit",
                  "max_turns", "split_seed")


def main(argv: Sequence[str] | None = None) -> int:
    import argparse

    p = argparse.ArgumentParser(prog="train_seeds", description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default="runs/train-seeds", help="protocol directory (runs, results.md/json, curves.png)")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--quick", action="store_true", help="a few steps and tasks: checks the pipeline, not a result")
    p.add_argument("--aggregate", action="store_true", help="only aggregate the finished runs under --out")
    p.add_argument("--runs", nargs="+", choices=[r.name for r in RUNS], default=None, help="only these runs")
    defaults = Settings()
    for f in SETTINGS_FLAGS:
        p.add_argument("--" + f.replace("_", "-"), type=int, default=None, help=f"default {getattr(defaults, f)}")
    p.add_argument("--json", action="store_true", help="print results.json's object on stdout")
    args = p.parse_args(argv)
    settings = Settings.quick() if args.quick else Settings()
    for f in SETTINGS_FLAGS:
        if getattr(args, f) is not None:
            setattr(settings, f, getattr(args, f))
    command = "python bench/train_seeds.py " + " ".join(sys.argv[1:] if argv is None else argv)
    if not args.aggregate:
        run_protocol(args.out, args.seeds, settings, runs=args.runs,
                     log=lambda msg: print(msg, file=sys.stderr, flush=True))
    result = write_reports(args.out, command=command)
    if args.json:
        print(json.dumps({k: v for k, v in result.items() if k not in ("intervals", "markdown")}, indent=1))
    else:
        print(result["markdown"])
        print(f"curves: {result['plot']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
