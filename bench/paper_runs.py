"""Trains one preset for several seeds, one after another, and writes the final figures of each run
to results/<benchmark>.jsonl (ganlab.results.record) with the command that reproduces it, the
budget, the CPU time it took and the paper's figure. Also prints each run's TensorBoard curves of
the `--curve` tags, to read whether a figure was still moving at the end of the budget.

    python bench/paper_runs.py --benchmark infogan_mnist --setting "InfoGAN, paper networks" \
        --seeds 0 1 2 --metric final/infogan_test_accuracy=0.95 --metric final/infogan_generated_agreement \
        --curve infogan/test_accuracy -- experiment=mnist_infogan data.root=/datasets iterations=1500

`--trajectory TAG` (repeatable) also records every point of the run's TensorBoard scalar TAG to
results/<benchmark>_trajectory.jsonl, with `budget` = the iteration of the point and the metric named
by the tag less a leading `metrics/` (`metrics/fid` -> `fid`, `began/m_global_window` as it is):

    python bench/paper_runs.py --benchmark began_mnist --setting "BEGAN" --seeds 0 1 2 \
        --metric final/fid --trajectory metrics/fid --trajectory began/m_global_window \
        -- experiment=mnist_began data.root=/datasets

Everything after `--` goes to train.py as given (plus seed=<s> and the run directory
outputs/<benchmark>/<setting slug>/seed<s>).
"""
from __future__ import annotations

import argparse
import json
import re
import resource
import shlex
import subprocess
import sys
from pathlib import Path

from ganlab.results import record

ROOT = Path(__file__).resolve().parents[1]


def child_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def curves(run_dir: Path, tags: list[str]) -> dict[str, list[tuple[int, float]]]:
    """{tag: [(step, value), ...]} from the run's TensorBoard events (empty where it logged none)."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(run_dir / "tensorboard"), size_guidance={"scalars": 0})
    events.Reload()
    known = set(events.Tags().get("scalars", []))
    return {tag: [(e.step, e.value) for e in events.Scalars(tag)] if tag in known else [] for tag in tags}


def write(benchmark: str, setting: str, metrics: list[tuple[str, str | None]], result: dict, cpu: float,
          trajectories: dict[str, list[tuple[int, float]]], common: dict) -> None:
    """Records one run: each (metrics.json key, paper's figure or None) of `metrics` and the CPU
    minutes to results/<benchmark>.jsonl, each point of `trajectories` ({tag: [(step, value)]}) to
    results/<benchmark>_trajectory.jsonl with budget = its step; `common`: the fields every record
    shares (seed, budget, command, config...). Checks everything before writing anything."""
    missing = [name for name, _ in metrics if name not in result]
    if missing:
        raise ValueError(f"metrics.json has no {missing[0]!r}; it has {sorted(result)}")
    empty = [tag for tag, points in trajectories.items() if not points]
    if empty:
        raise ValueError(f"the run logged no TensorBoard scalar {empty[0]!r} (--trajectory)")
    for name, paper in metrics:
        record(benchmark, setting, name.removeprefix("final/"), result[name],
               paper=None if paper is None else float(paper), **common)
    record(benchmark, setting, "cpu_minutes", cpu / 60, **common)
    for tag, points in trajectories.items():
        for step, value in points:
            record(f"{benchmark}_trajectory", setting, tag.removeprefix("metrics/"), value,
                   **{**common, "budget": step, "config": {**common.get("config", {}), "evaluated_at": step}})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--benchmark", required=True, help="results/<benchmark>.jsonl")
    parser.add_argument("--setting", required=True, help="the row of the results table")
    parser.add_argument("--seeds", type=int, nargs="+", required=True)
    parser.add_argument("--metric", action="append", default=[], required=True,
                        help="a key of metrics.json to record, optionally =<the paper's figure>")
    parser.add_argument("--curve", action="append", default=[], help="a TensorBoard scalar tag to print")
    parser.add_argument("--trajectory", action="append", default=[],
                        help="a TensorBoard scalar tag whose points go to results/<benchmark>_trajectory.jsonl")
    parser.add_argument("overrides", nargs="*", help="train.py overrides (after --)")
    args = parser.parse_args()

    metrics = [m.split("=", 1) if "=" in m else (m, None) for m in args.metric]
    iterations = next((int(o.split("=", 1)[1]) for o in args.overrides if o.startswith("iterations=")), None)
    slug = re.sub(r"[^A-Za-z0-9]+", "_", args.setting).strip("_").lower()
    for seed in args.seeds:
        run_dir = Path("outputs") / args.benchmark / slug / f"seed{seed}"
        command = ["python", "train.py", *args.overrides, f"seed={seed}"]
        before = child_cpu_seconds()
        subprocess.run([sys.executable, str(ROOT / "train.py"), *args.overrides, f"seed={seed}",
                        f"hydra.run.dir={run_dir}"], check=True)
        cpu = child_cpu_seconds() - before
        result = json.loads((run_dir / "metrics.json").read_text())
        common = dict(seed=seed, budget=result["iterations"] if iterations is None else iterations,
                      command=shlex.join(command), config={"overrides": list(args.overrides)})
        try:
            write(args.benchmark, args.setting, metrics, result, cpu, curves(run_dir, args.trajectory), common)
        except ValueError as error:
            raise SystemExit(f"error: {run_dir}: {error}") from None
        print(f"seed {seed}: " + ", ".join(f"{name} {result[name]:.4f}" for name, _ in metrics)
              + f"; {cpu / 60:.1f} CPU-minutes; run directory {run_dir}", flush=True)
        for tag, points in curves(run_dir, args.curve).items():
            print(f"  {tag}: " + " ".join(f"{step}:{value:.4g}" for step, value in points), flush=True)


if __name__ == "__main__":
    main()
