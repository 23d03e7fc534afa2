"""Curves of the evaluations along training kept in results/ (a `<benchmark>_trajectory.jsonl`, whose
`budget` is the iteration evaluated): one panel per metric and per group of settings (the part of a
setting before " / ", e.g. the mixture of "ring / PacGAN2"), one line per setting (the part after it),
the mean over the trials (seeds) at each evaluated iteration with a band of +- one standard error.
Written with matplotlib to one PNG.

    python bench/trajectory_plot.py results/pacgan_table1_trajectory.jsonl --where iterations=30000 \\
        --metrics modes high_quality --out results/pacgan_table1_trajectory_30k.png
"""
from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from ganlab.results import Record, load
from ganlab.results_pages import mean_sd

Curve = list[tuple[int, float, float, int]]  # (iteration, mean, standard error (0 for one trial), trials)


def matches(entry: Record, where: dict[str, str]) -> bool:
    """Whether the record's config has every `key: value` of `where` (values compared as text)."""
    return all(key in entry.config and str(entry.config[key]) == value for key, value in where.items())


def split_setting(setting: str) -> tuple[str, str]:
    """("ring", "PacGAN2") of "ring / PacGAN2"; ("", setting) when it has no " / "."""
    group, separator, line = setting.partition(" / ")
    return (group, line) if separator else ("", setting)


def curves(records: Iterable[Record], metrics: Sequence[str]) -> dict[tuple[str, str], dict[str, Curve]]:
    """{(metric, group): {line: curve}} over the records of `metrics`, NaN values left out."""
    values: dict[tuple[str, str], dict[str, dict[int, list[float]]]] = {}
    for entry in records:
        if entry.metric not in metrics or entry.budget is None or math.isnan(entry.value):
            continue
        group, line = split_setting(entry.setting)
        values.setdefault((entry.metric, group), {}).setdefault(line, {}).setdefault(entry.budget, []).append(entry.value)
    out: dict[tuple[str, str], dict[str, Curve]] = {}
    for key in sorted(values, key=lambda k: (metrics.index(k[0]), k[1])):
        out[key] = {}
        for line, steps in values[key].items():
            curve = []
            for step in sorted(steps):
                mean, sd = mean_sd(steps[step])
                curve.append((step, mean, 0.0 if sd is None else sd / math.sqrt(len(steps[step])), len(steps[step])))
            out[key][line] = curve
    return out


def draw(panels: dict[tuple[str, str], dict[str, Curve]], out: Path, title: str = "") -> None:
    groups = list(dict.fromkeys(group for _, group in panels))
    metrics = list(dict.fromkeys(metric for metric, _ in panels))
    figure = Figure(figsize=(4.2 * len(groups), 2.8 * len(metrics)), dpi=100, layout="constrained")
    axes = figure.subplots(len(metrics), len(groups), squeeze=False)
    names = list(dict.fromkeys(line for lines in panels.values() for line in lines))  # one colour per line name
    for (metric, group), lines in panels.items():
        ax = axes[metrics.index(metric), groups.index(group)]
        for line, curve in lines.items():
            color = f"C{names.index(line) % 10}"
            steps = [point[0] for point in curve]
            means = [point[1] for point in curve]
            errors = [point[2] for point in curve]
            trials = max(point[3] for point in curve)
            ax.plot(steps, means, marker=".", color=color, label=f"{line} (n={trials})")
            ax.fill_between(steps, [m - e for m, e in zip(means, errors)], [m + e for m, e in zip(means, errors)],
                            color=color, alpha=0.2)
        ax.set_title(f"{group}: {metric}" if group else metric, fontsize=10)
        ax.set_xlabel("generator iteration")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    if title:
        figure.suptitle(title, fontsize=11)
    out.parent.mkdir(parents=True, exist_ok=True)
    FigureCanvasAgg(figure).print_png(str(out))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("trajectory", type=Path, help="a results/<benchmark>_trajectory.jsonl")
    parser.add_argument("--metrics", nargs="+", required=True, help="the metrics to draw, one row of panels each")
    parser.add_argument("--where", nargs="*", default=[], metavar="KEY=VALUE",
                        help="only the records whose config has these values, e.g. iterations=30000")
    parser.add_argument("--title", default="", help="the figure's title")
    parser.add_argument("--out", type=Path, required=True, help="the PNG to write")
    args = parser.parse_args(argv)
    bad = [item for item in args.where if "=" not in item]
    if bad:
        parser.error(f"--where {bad[0]}: expected KEY=VALUE, e.g. --where iterations=30000")
    where = dict(item.split("=", 1) for item in args.where)
    if not args.trajectory.is_file():
        parser.error(f"{args.trajectory}: no such file")
    records = [entry for entry in load([args.trajectory]) if matches(entry, where)]
    panels = curves(records, args.metrics)
    if not panels:
        known = sorted({entry.metric for entry in load([args.trajectory])})
        parser.error(f"{args.trajectory} has no records of {args.metrics} with {where or 'any config'}; "
                     f"its metrics: {known}")
    draw(panels, args.out, args.title)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
