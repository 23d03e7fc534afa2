"""PacGAN's Table 1 from ganlab sweeps: reads the summary.csv of one or more multiruns of
experiment=pacgan_ring / pacgan_grid, groups the completed jobs by dataset, budget (generator
iterations) and `pacgan_row` (any other varied override but the seed joins the row's name), and prints mean +-
standard error over the trials of modes, high-quality share and reverse KL, with PacGAN's published
rows beside them (Lin et al. 2018, Table 1, 10 trials each).

    python bench/mode_table.py outputs/multiruns/pacgan_ring outputs/multiruns/pacgan_grid
"""
from __future__ import annotations

import argparse
import csv
import math
import statistics
import sys
from collections import defaultdict
from pathlib import Path

# Lin et al. 2018, Table 1 (github.com/fjxmlzn/PacGAN, synthetic_data_experiments/results/Table1.png):
# (modes, s.e.), (high-quality %, s.e.), (reverse KL, s.e.)
PUBLISHED = {
    "ring": {"gan": ((6.3, 0.5), (98.2, 0.2), (0.45, 0.09)), "pacgan2": ((7.9, 0.1), (95.6, 2.0), (0.07, 0.03)),
             "pacgan3": ((7.8, 0.1), (97.7, 0.3), (0.10, 0.02)), "pacgan4": ((7.8, 0.1), (95.9, 1.4), (0.07, 0.02))},
    "grid": {"gan": ((17.3, 0.8), (94.8, 0.7), (0.70, 0.07)), "pacgan2": ((23.8, 0.7), (91.3, 0.8), (0.13, 0.04)),
             "pacgan3": ((24.6, 0.4), (94.2, 0.4), (0.06, 0.02)), "pacgan4": ((24.8, 0.2), (93.6, 0.6), (0.04, 0.01))},
}
MAX_MODES = {"ring": 8, "grid": 25}
METRICS = ("final/modes", "final/high_quality", "final/reverse_kl")


def mean_se(values: list[float]) -> tuple[float, float]:
    """Mean and standard error (sample standard deviation / sqrt(n)); s.e. NaN for one value."""
    mean = statistics.fmean(values)
    se = statistics.stdev(values) / math.sqrt(len(values)) if len(values) > 1 else math.nan
    return mean, se


def parse_overrides(text: str) -> dict[str, str]:
    pairs = (o.split("=", 1) for o in text.split() if "=" in o)
    return {key.lstrip("+~"): value for key, value in pairs}


def read_rows(summaries: list[Path]) -> dict[tuple[str, int, str], list[dict[str, float]]]:
    """(dataset, iterations, row name) -> the final metrics of each completed trial."""
    rows: dict[tuple[str, int, str], list[dict[str, float]]] = defaultdict(list)
    for path in summaries:
        for job in csv.DictReader(path.open()):
            if job["status"] != "completed":
                print(f"skipped failed job {job['job']} of {path}: {job.get('error', '')}", file=sys.stderr)
                continue
            overrides = parse_overrides(job["overrides"])
            dataset = overrides.get("experiment", "").removeprefix("pacgan_")
            varied = parse_overrides(job["varied"])
            extra = [f"{k}={v}" for k, v in varied.items() if k not in ("seed", "pacgan_row", "experiment", "iterations")]
            name = " ".join([overrides.get("pacgan_row", "gan"), *extra])
            rows[(dataset, int(job["iterations"]), name)].append({m: float(job[m]) for m in METRICS})
    return rows


def cell(mean: float, se: float, digits: int) -> str:
    return f"{mean:.{digits}f} +- {se:.{digits}f}" if math.isfinite(se) else f"{mean:.{digits}f}"


ORDER = ["gan", "pacgan2", "pacgan3", "pacgan4", "unrolled", "wgan_gp", "hinge", "r1", "minibatch_std"]


def _order(key: tuple[str, int, str]) -> tuple:
    dataset, iterations, name = key
    row = name.split()[0]
    return (dataset, iterations, ORDER.index(row) if row in ORDER else len(ORDER), name)


def table(rows: dict[tuple[str, int, str], list[dict[str, float]]]) -> str:
    lines = ["| data | iterations | row | trials | modes | high quality % | reverse KL | "
             "published, 400 epochs (modes / HQ % / rKL) |",
             "|---|---|---|---|---|---|---|---|"]
    for (dataset, iterations, name), trials in sorted(rows.items(), key=lambda item: _order(item[0])):
        modes = mean_se([t["final/modes"] for t in trials])
        quality = mean_se([100 * t["final/high_quality"] for t in trials])
        kl_values = [t["final/reverse_kl"] for t in trials if math.isfinite(t["final/reverse_kl"])]
        kl = cell(*mean_se(kl_values), 2) if kl_values else "n/a"
        if 0 < len(kl_values) < len(trials):
            kl += f" (over {len(kl_values)} of {len(trials)} trials: the others had no high-quality point)"
        published = PUBLISHED.get(dataset, {}).get(name.split()[0])
        paper = " / ".join(cell(m, s, d) for (m, s), d in zip(published, (1, 1, 2))) if published else ""
        lines.append(f"| {dataset} ({MAX_MODES.get(dataset, '?')} modes) | {iterations} | {name} | {len(trials)} | "
                     f"{cell(*modes, 1)} | {cell(*quality, 1)} | {kl} | {paper} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("sweeps", nargs="+", type=Path, help="multirun directories (or their summary.csv)")
    args = parser.parse_args(argv)
    summaries = [p if p.suffix == ".csv" else p / "summary.csv" for p in args.sweeps]
    missing = [str(p) for p in summaries if not p.is_file()]
    if missing:
        parser.error(f"no sweep summary at {', '.join(missing)} (run the multirun first)")
    print(table(read_rows(summaries)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
