"""The quality benchmark's table: reads a sweep's summary.csv (written by `train.py -m`, see
`make quality`) and prints a markdown table with one row per loss x conditioning: the number of
seeds, mean +- standard deviation over them of the classifier FID, IS, class accuracy (conditional
runs) and rarest class's share, and the wall time of a job.

    python bench/quality_table.py outputs/quality/<date>_<time>/summary.csv
    python bench/quality_table.py sweep_a/ sweep_b/     # several sweeps (or sweep directories) in one table

Wall time: from the job's start (Hydra writes .hydra/config.yaml) to its end (run() writes
metrics.json): building, training and the final evaluation. The classifier's held-out accuracy
and the real-data floor (FID of held-out real images against training images) head the table.
Failed jobs are counted and listed, never averaged.
"""
from __future__ import annotations

import argparse
import csv
import math
import statistics
import sys
from collections import defaultdict
from pathlib import Path

GROUP_KEYS = ("loss", "conditioning")  # one table row per combination
COLUMNS = [  # (header, summary.csv column, format)
    ("classifier FID", "final/fid", "{:.1f}"),
    ("IS", "final/is", "{:.2f}"),
    ("class accuracy", "final/class_accuracy", "{:.3f}"),
    ("rarest class share", "final/class_share_min", "{:.3f}"),
]


def overrides_of(row: dict[str, str]) -> dict[str, str]:
    return dict(o.split("=", 1) for o in row.get("overrides", "").split() if "=" in o)


def wall_time(row: dict[str, str]) -> float | None:
    """Seconds from the job's .hydra/config.yaml to its metrics.json (None if either is missing)."""
    directory = Path(row.get("directory", ""))
    start, end = directory / ".hydra" / "config.yaml", directory / "metrics.json"
    if not (start.is_file() and end.is_file()):
        return None
    return end.stat().st_mtime - start.stat().st_mtime


def mean_std(values: list[float], fmt: str) -> str:
    values = [v for v in values if not math.isnan(v)]
    if not values:
        return "-"
    if len(values) == 1:
        return fmt.format(values[0])
    return f"{fmt.format(statistics.mean(values))} ± {fmt.format(statistics.stdev(values))}"


def number(text: str | None) -> float:
    try:
        return float(text) if text not in (None, "") else math.nan
    except ValueError:
        return math.nan


def table(rows: list[dict[str, str]]) -> str:
    """The markdown report of a sweep's rows."""
    completed = [r for r in rows if r.get("status") == "completed"]
    failed = [r for r in rows if r.get("status") != "completed"]
    groups: dict[tuple[str, ...], list[dict[str, str]]] = defaultdict(list)
    for row in completed:
        overrides = overrides_of(row)
        groups[tuple(overrides.get(key, "default") for key in GROUP_KEYS)].append(row)

    lines = []
    accuracy = [number(r.get("final/classifier_accuracy")) for r in completed]
    floor = [number(r.get("final/fid_floor")) for r in completed]
    real_is = [number(r.get("final/is_real")) for r in completed]
    iterations = sorted({r.get("iterations", "?") for r in completed})
    lines.append(f"{len(completed)} completed jobs, {len(failed)} failed; generator iterations: "
                 f"{', '.join(iterations)}")
    lines.append(f"classifier accuracy on held-out images: {mean_std(accuracy, '{:.4f}')}; real-data floor "
                 f"(classifier FID of held-out against training images): {mean_std(floor, '{:.2f}')}; "
                 f"IS of held-out real images: {mean_std(real_is, '{:.2f}')}")
    lines.append("")
    header = ["loss", "conditioning", "seeds", *(name for name, _, _ in COLUMNS), "wall time (s)"]
    lines.append("| " + " | ".join(header) + " |")
    lines.append("|" + " --- |" * len(header))
    for key in sorted(groups):
        runs = groups[key]
        cells = [*key, str(len(runs))]
        cells += [mean_std([number(r.get(column)) for r in runs], fmt) for _, column, fmt in COLUMNS]
        times = [t for t in (wall_time(r) for r in runs) if t is not None]
        cells.append(mean_std(times, "{:.0f}"))
        lines.append("| " + " | ".join(cells) + " |")
    for row in failed:
        lines.append(f"\nfailed: job {row.get('job')} ({row.get('overrides', '')}): {row.get('error', '')}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("summary", type=Path, nargs="+", help="a sweep's summary.csv (or its sweep directory)")
    args = parser.parse_args(argv)
    rows = []
    for summary in args.summary:
        path = summary / "summary.csv" if summary.is_dir() else summary
        if not path.is_file():
            print(f"error: {path} not found: give the summary.csv of a finished `train.py -m` sweep", file=sys.stderr)
            return 2
        with path.open(newline="") as f:
            rows += list(csv.DictReader(f))
    print(table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
