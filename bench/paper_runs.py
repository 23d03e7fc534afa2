"""Trains one preset for several seeds, one after another, and writes the final figures of each run
to results/<benchmark>.jsonl (ganlab.results.record) with the command that reproduces it, the
budget, the CPU time it took and the paper's figure. Also prints each run's TensorBoard curves of
the `--curve` tags, to read whether a figure was still moving at the end of the budget.

    python bench/paper_runs.py --benchmark infogan_mnist --setting "InfoGAN, paper networks" \
        --seeds 0 1 2 --metric final/infogan_test_accuracy=0.95 --metric final/infogan_generated_agreement \
        --curve infogan/test_accuracy -- experiment=mnist_infogan data.root=/datasets iterations=1500

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--benchmark", required=True, help="results/<benchmark>.jsonl")
    parser.add_argument("--setting", required=True, help="the row of the results table")
    parser.add_argument("--seeds", type=int, nargs="+", required=True)
    parser.add_argument("--metric", action="append", default=[], required=True,
                        help="a key of metrics.json to record, optionally =<the paper's figure>")
    parser.add_argument("--curve", action="append", default=[], help="a TensorBoard scalar tag to print")
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
        for name, paper in metrics:
            if name not in result:
                raise SystemExit(f"error: {run_dir}/metrics.json has no {name!r}; it has {sorted(result)}")
            record(args.benchmark, args.setting, name.removeprefix("final/"), result[name],
                   paper=None if paper is None else float(paper), **common)
        record(args.benchmark, args.setting, "cpu_minutes", cpu / 60, **common)
        print(f"seed {seed}: " + ", ".join(f"{name} {result[name]:.4f}" for name, _ in metrics)
              + f"; {cpu / 60:.1f} CPU-minutes; run directory {run_dir}", flush=True)
        for tag, points in curves(run_dir, args.curve).items():
            print(f"  {tag}: " + " ".join(f"{step}:{value:.4g}" for step, value in points), flush=True)


if __name__ == "__main__":
    main()
