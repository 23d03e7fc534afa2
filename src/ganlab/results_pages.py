"""The documentation's results pages, generated from the records in `results/` (ganlab.results).

    python -m ganlab.results                       # docs/results.md and docs/reproductions.md from results/
    python -m ganlab.results render --check        # exit 1 when a page is not what results/ gives
    python -m ganlab.results add RUN_DIR --benchmark NAME --setting NAME      # a finished run's final metrics
    python -m ganlab.results add SWEEP/summary.csv --benchmark NAME --setting "{loss} / {conditioning}"

A benchmark is the file `results/<benchmark>.jsonl`; its optional text `results/<benchmark>.md` (a
`# Title` line, then what the benchmark measures and how it differs from the paper) heads its section.
Records of one (setting, metric, budget) are one row: mean +- sample standard deviation over their
seeds (NaN figures left out; n/a when all are NaN), n, the published figure (+- its standard error where the paper gives one), the hardware classes
and dates, and the commands that reproduce them.
`docs/results.md` has every benchmark; `docs/reproductions.md` the rows that have a published figure.
"""
from __future__ import annotations

import argparse
import csv
import datetime as _dt
import json
import math
import re
import shlex
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ganlab.results import RESULTS_DIR, Record, hardware_class, load, record, version

DOCS_DIR = Path("docs")
PAGES = ("results.md", "reproductions.md")
REGENERATE = "python -m ganlab.results"  # also `make results`


@dataclass(frozen=True)
class Row:
    """The records of one (setting, metric, budget) of a benchmark, aggregated."""
    setting: str
    metric: str
    budget: int | None
    mean: float
    sd: float | None  # sample standard deviation over the seeds; None for a single figure
    n: int
    paper: float | None
    paper_se: float | None  # the published figure's standard error, where the paper gives one
    hardware: tuple[str, ...]
    dates: tuple[str, ...]
    commands: tuple[str, ...]
    by_seed: tuple[tuple[int | None, float], ...] = ()  # each record's (seed, figure); none for a summary record

    @property
    def se(self) -> float | None:
        """The standard error of the mean: sd / sqrt(n) (None for a single figure)."""
        return None if self.sd is None else self.sd / math.sqrt(self.n)


def mean_sd(values: Sequence[float]) -> tuple[float, float | None]:
    """The mean and the sample standard deviation (n - 1 in the denominator; None for one value)."""
    if not values:
        raise ValueError("mean_sd of no values")
    mean = math.fsum(values) / len(values)
    if len(values) == 1:
        return mean, None
    return mean, math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (len(values) - 1))


def aggregate(records: Iterable[Record]) -> list[Row]:
    """One row per (setting, metric, budget), in the order the records first name them. Records that
    already summarise several seeds (`n` > 1, with their `sd`) stand as rows of their own."""
    groups: dict[tuple, list[Record]] = {}
    for entry in records:
        summary = entry.n is not None and entry.n > 1
        key = (entry.setting, entry.metric, entry.budget, id(entry) if summary else None)
        groups.setdefault(key, []).append(entry)
    rows = []
    for (setting, metric, budget, summary), group in groups.items():
        if summary is not None:
            mean, sd, n = group[0].value, group[0].sd, int(group[0].n)
        else:  # a NaN figure (e.g. the reverse KL of a trial with no point near a mode) counts in no mean
            finite = [entry.value for entry in group if not math.isnan(entry.value)]
            mean, sd = mean_sd(finite) if finite else (math.nan, None)
            n = len(finite) if finite else len(group)
        papers = [entry.paper for entry in group if entry.paper is not None]
        paper_ses = [entry.paper_se for entry in group if entry.paper_se is not None]
        by_seed = () if summary is not None else tuple((entry.seed, entry.value) for entry in group)
        rows.append(Row(setting=setting, metric=metric, budget=budget, mean=mean, sd=sd, n=n, by_seed=by_seed,
                        paper=papers[0] if papers else None, paper_se=paper_ses[0] if paper_ses else None,
                        hardware=tuple(dict.fromkeys(e.hardware for e in group if e.hardware)),
                        dates=tuple(sorted({e.date for e in group if e.date})),
                        commands=tuple(dict.fromkeys(e.command for e in group if e.command))))
    return rows


def format_value(mean: float, sd: float | None = None) -> str:
    """`1.70 +- 0.17`: the standard deviation to two significant digits and the mean to the same
    decimal place; a single figure (or one without spread) to four significant digits."""
    if math.isnan(mean):
        return "n/a"
    if sd is None or sd == 0 or math.isnan(sd):
        return f"{mean:.4g}" + (" +- 0" if sd == 0 else "")
    decimals = max(0, 1 - math.floor(math.log10(abs(sd))))
    return f"{mean:.{decimals}f} +- {sd:.{decimals}f}"


def _figure(value: float) -> str:
    """A trial's figure: three significant digits, whole numbers from 100 up (`n/a`: NaN)."""
    return "n/a" if math.isnan(value) else f"{value:.0f}" if abs(value) >= 100 else f"{value:.3g}"


EACH_TRIAL_UP_TO = 10  # rows of more trials show only their mean +- sd


def format_by_seed(row: Row) -> str:
    """`0: 0.96, 1: 0.787`: each trial's figure after its seed, in seed order (`-`: one trial, or more
    than EACH_TRIAL_UP_TO)."""
    if not 1 < len(row.by_seed) <= EACH_TRIAL_UP_TO:
        return "-"
    ordered = sorted(row.by_seed, key=lambda pair: (pair[0] is None, pair[0] or 0))
    return ", ".join(f"{'?' if seed is None else seed}: {_figure(value)}" for seed, value in ordered)


def format_paper(row: Row) -> str:
    """The published figure as the paper prints it, `6.3 +- 0.5` with its standard error; `-` for none."""
    if row.paper is None:
        return "-"
    return f"{row.paper:g}" if row.paper_se is None else f"{row.paper:g} +- {row.paper_se:g}"


def format_se(se: float | None) -> str:
    """A standard error to two significant digits; `-` for none."""
    return "-" if se is None or math.isnan(se) else f"{se:.2g}"


def _budget(budget: int | None) -> str:
    return "-" if budget is None else f"{budget:,}"


def _dates(dates: Sequence[str]) -> str:
    return "-" if not dates else dates[0] if len(dates) == 1 else f"{dates[0]} to {dates[-1]}"


_SEED = re.compile(r"(?<![\w.])seed=(\d+)(?![\w,])")


def _any_seed(command: str) -> str:
    """`seed=N` as `seed=S`, and `seedN` of the same seed in a path (a run that continues its own
    seed's checkpoint: `.../seedN/...`, `.../grid_gan_seedN_30000/...`) as `seedS`."""
    for seed in set(_SEED.findall(command)):
        command = re.sub(rf"(?<=[/_])seed{seed}(?=[/_])", "seedS", command)
    return _SEED.sub("seed=S", command)


def commands_of(rows: Iterable[Row]) -> list[str]:
    """The distinct commands of the rows, those that differ only in their seed shown once with `S`."""
    return list(dict.fromkeys(_any_seed(command) for row in rows for command in row.commands))


def _intro(results_dir: Path, benchmark: str) -> tuple[str, str]:
    """The benchmark's title and text from results/<benchmark>.md (title: the benchmark's name without it)."""
    path = results_dir / f"{benchmark}.md"
    if not path.is_file():
        return benchmark, ""
    lines = path.read_text(encoding="utf-8").strip().splitlines()
    if lines and lines[0].startswith("# "):
        return lines[0][2:].strip(), "\n".join(lines[1:]).strip()
    return benchmark, "\n".join(lines).strip()


def _table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    return lines


def _commands_block(rows: Sequence[Row]) -> list[str]:
    commands = commands_of(rows)
    if not commands:
        return []
    what = "Commands (`seed=S`: each seed of the row):" if any("seed=S" in c for c in commands) else "Commands:"
    return ["", what, "", "```bash", *commands, "```"]


def _benchmarks(records: Sequence[Record]) -> dict[str, list[Record]]:
    by_benchmark: dict[str, list[Record]] = {}
    for entry in records:
        by_benchmark.setdefault(entry.benchmark, []).append(entry)
    return dict(sorted(by_benchmark.items()))


HEADER = """<!-- generated by `{regenerate}` from results/*.jsonl: edit those files (or results/<benchmark>.md), not this page -->
# {title}

{text}
"""


def render_results(records: Sequence[Record], results_dir: Path = RESULTS_DIR) -> str:
    """docs/results.md: every benchmark's rows."""
    lines = [HEADER.format(regenerate=REGENERATE, title="Results", text=(
        "Every figure on this page is a record in `results/<benchmark>.jsonl`, which keeps the command that "
        "measured it, its seed, budget, config, machine class, ganlab version and date (see [Reproductions](reproductions.md) for the rows with a published figure beside "
        "them, and [Evaluation](evaluation.md) for what the metrics mean). Each row is the mean +- sample "
        "standard deviation over `n` seeds at a budget in generator iterations; `paper` is the published "
        "figure where there is one.\n\n"
        "```bash\n"
        f"{REGENERATE}                      # regenerate this page and reproductions.md (make results)\n"
        f"{REGENERATE} add outputs/runs/<run> --benchmark my_benchmark --setting my_setting\n"
        f"{REGENERATE} add outputs/multiruns/<date>_<time>/summary.csv --benchmark my_grid --setting "
        "'{loss} / {conditioning}'\n"
        "```\n\n"
        "`add` reads a finished run's `metrics.json` and `.hydra/overrides.yaml` (or every completed row of a "
        "sweep's `summary.csv`) and appends one record per final metric (`--metrics fid,is` to choose, "
        "`--paper fid=21.7` for the published figure) to `results/<benchmark>.jsonl`; a record's command is the "
        "run's own command line. A short text for a benchmark's section goes in `results/<benchmark>.md`."))]
    for benchmark, group in _benchmarks(records).items():
        title, text = _intro(results_dir, benchmark)
        rows = aggregate(group)
        lines += ["", f"## {title}", ""]
        if text:
            lines += [text, ""]
        lines += [f"`results/{benchmark}.jsonl`", ""]
        lines += _table(["setting", "metric", "mean +- sd", "n", "budget", "paper", "hardware", "measured"],
                        [[row.setting, row.metric, format_value(row.mean, row.sd), str(row.n), _budget(row.budget),
                          format_paper(row), ", ".join(row.hardware) or "-",
                          _dates(row.dates)] for row in rows])
        lines += _commands_block(rows)
    return "\n".join(lines).rstrip() + "\n"


TRAJECTORY = "_trajectory"  # a benchmark of evaluations along training (its budget: the iteration evaluated)


REPRODUCES = re.compile(r"^Reproduces: ", re.MULTILINE)  # in results/<benchmark>.md: the paper it reproduces


def render_reproductions(records: Sequence[Record], results_dir: Path = RESULTS_DIR) -> str:
    """docs/reproductions.md: every benchmark that reproduces a paper (a row with a published figure, or
    a `Reproduces:` line in its results/<benchmark>.md), all its rows, the paper's figure beside
    ganlab's where the paper gives one."""
    lines = [HEADER.format(regenerate=REGENERATE, title="Reproductions", text=(
        "Published figures beside ganlab's: the paper's value (+- its standard error where the paper gives "
        "one; `-` where the paper gives no number, e.g. only pictures, or the row is a cost), ganlab's mean +- "
        "sample standard deviation over `n` seeds (or trials; a NaN figure, e.g. the reverse KL of a trial with no "
        "point near a mode, counts in neither) and the standard error of that mean (sd / "
        "sqrt(n)), the budget in generator iterations, each trial's figure after its seed (up to "
        f"{EACH_TRIAL_UP_TO} trials) and the command. Within a section the rows at the "
        "largest budget come first. Each section says how the protocol differs from the paper's; budgets far "
        "below a paper's measure early training, not the paper's result. All measured rows: "
        f"[Results](results.md). Generated from `results/` by `{REGENERATE}`."))]
    others = []  # benchmarks that reproduce no paper: linked at the end
    for benchmark, group in _benchmarks(records).items():
        if benchmark.endswith(TRAJECTORY):
            continue
        title, text = _intro(results_dir, benchmark)
        rows = aggregate(group)
        if not any(row.paper is not None for row in rows) and not REPRODUCES.search(text):
            if (results_dir / f"{benchmark}.md").is_file():
                others.append(title)
            continue
        lines += ["", f"## {title}", ""]
        if text:
            lines += [text, ""]
        headline_first = sorted(rows, key=lambda row: -(row.budget or 0))  # stable: the records' order within a budget
        lines += _table(["setting", "metric", "paper", "ganlab", "s.e.", "n", "budget", "hardware", "each trial (seed: figure)"],
                        [[row.setting, row.metric, format_paper(row), format_value(row.mean, row.sd), format_se(row.se),
                          str(row.n), _budget(row.budget), ", ".join(row.hardware) or "-", format_by_seed(row)]
                         for row in headline_first])
        lines += _commands_block(rows)
    if others:
        lines += ["", "## Other measurements", "", "Benchmarks of ganlab itself, on the [Results](results.md) page:", ""]
        lines += [f"- [{title}](results.md#{_anchor(title)})" for title in others]
    return "\n".join(lines).rstrip() + "\n"


def _anchor(title: str) -> str:
    """The anchor a code host gives a Markdown heading."""
    return re.sub(r"[^\w\- ]", "", title.strip().lower()).replace(" ", "-")


def render(results_dir: Path = RESULTS_DIR) -> dict[str, str]:
    """The pages' names and contents, from every record under `results_dir`."""
    records = load([results_dir]) if results_dir.is_dir() else []
    return {"results.md": render_results(records, results_dir),
            "reproductions.md": render_reproductions(records, results_dir)}


def write_pages(results_dir: Path = RESULTS_DIR, docs_dir: Path = DOCS_DIR) -> list[Path]:
    docs_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in render(results_dir).items():
        (docs_dir / name).write_text(text, encoding="utf-8")
        written.append(docs_dir / name)
    return written


def stale_pages(results_dir: Path = RESULTS_DIR, docs_dir: Path = DOCS_DIR) -> list[Path]:
    """The pages whose contents differ from what `results_dir` gives."""
    return [docs_dir / name for name, text in render(results_dir).items()
            if not (docs_dir / name).is_file() or (docs_dir / name).read_text(encoding="utf-8") != text]


# --- turning finished runs into records -------------------------------------------------------------

FINAL = "final/"


class ResultsError(ValueError):
    """A run, summary or argument that cannot become records (the message says what to give instead)."""

_FIELD = re.compile(r"\{([^{}]+)\}")


def parse_overrides(overrides: Iterable[str]) -> dict[str, str]:
    """`key=value` overrides as a dict; `+key` / `++key` / `~key` lose their prefix."""
    parsed = {}
    for override in overrides:
        key, _, value = override.partition("=")
        parsed[key.lstrip("+~")] = value
    return parsed


def setting_name(template: str, overrides: dict[str, str]) -> str:
    """`--setting "{loss} / {conditioning}"`: each `{key}` becomes that override's value."""
    def value(match: re.Match) -> str:
        key = match.group(1)
        if key not in overrides:
            raise ResultsError(f"--setting names {{{key}}}, which is not among the run's overrides "
                             f"({', '.join(sorted(overrides)) or 'none'})")
        return overrides[key]
    return _FIELD.sub(value, template)


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number


def _run_seed(run_dir: Path, overrides: dict[str, str]) -> int | None:
    if "seed" in overrides:
        return int(overrides["seed"])
    config = run_dir / ".hydra" / "config.yaml"
    if config.is_file():
        from omegaconf import OmegaConf
        seed = OmegaConf.load(config).get("seed")
        return None if seed is None else int(seed)
    return None


def _metric_names(available: Iterable[str], wanted: Sequence[str] | None) -> list[str]:
    names = [key[len(FINAL):] for key in available if key.startswith(FINAL)]
    if wanted is None:
        return [name for name in names if not name.startswith("loss_")]
    missing = [name for name in wanted if name not in names]
    if missing:
        raise ResultsError(f"--metrics {','.join(missing)}: not among the run's final metrics "
                         f"({', '.join(names) or 'none'})")
    return list(wanted)


def runs_of(path: Path) -> list[dict[str, Any]]:
    """The completed runs under `path`: a run directory (its metrics.json and .hydra/overrides.yaml) or a
    sweep's summary.csv (its completed rows). Each: overrides (list), metrics (dict), directory, date."""
    if path.is_dir():
        metrics_file = path / "metrics.json"
        if not metrics_file.is_file():
            raise ResultsError(f"{path} holds no metrics.json: not a finished run directory (give a run "
                             "directory or a sweep's summary.csv)")
        overrides_file = path / ".hydra" / "overrides.yaml"
        from omegaconf import OmegaConf
        overrides = [str(o) for o in OmegaConf.load(overrides_file)] if overrides_file.is_file() else []
        return [{"overrides": overrides, "metrics": json.loads(metrics_file.read_text()), "directory": path,
                 "date": _dt.date.fromtimestamp(metrics_file.stat().st_mtime).isoformat()}]
    if path.is_file() and path.suffix == ".csv":
        with path.open(newline="") as f:
            rows = [row for row in csv.DictReader(f) if row.get("status", "completed") == "completed"]
        date = _dt.date.fromtimestamp(path.stat().st_mtime).isoformat()
        return [{"overrides": shlex.split(row.get("overrides", "")),
                 "metrics": {k: v for k, v in row.items() if k.startswith(FINAL) or k == "iterations"},
                 "directory": Path(row.get("directory") or path.parent), "date": date} for row in rows]
    raise ResultsError(f"{path}: no such run directory or summary.csv")


def add(path: Path, benchmark: str, setting: str, *, metrics: Sequence[str] | None = None,
        paper: dict[str, float] | None = None, hardware: str | None = None,
        results_dir: Path = RESULTS_DIR, script: str = "python train.py") -> list[Record]:
    """Appends one record per final metric of each completed run under `path` to results/<benchmark>.jsonl.
    Every run is read and named first, so a bad `setting` or metric name writes nothing."""
    paper = paper or {}
    pending = []
    for run in runs_of(path):
        overrides = parse_overrides(run["overrides"])
        setting_of_run = setting_name(setting, overrides)
        iterations = _number(run["metrics"].get("iterations", overrides.get("iterations")))
        command = " ".join([script, *(shlex.quote(o) for o in run["overrides"])])
        seed = _run_seed(Path(run["directory"]), overrides)
        for name in _metric_names(run["metrics"], metrics):
            value = _number(run["metrics"][FINAL + name])
            if value is not None:
                pending.append(dict(benchmark=benchmark, setting=setting_of_run, metric=name, value=value, seed=seed,
                                    budget=None if iterations is None else int(iterations), command=command,
                                    config=overrides, paper=paper.get(name), hardware=hardware or hardware_class(),
                                    date=run["date"], version=version()))
    return [record(results_dir=results_dir, **fields) for fields in pending]


def _paper_figures(items: Sequence[str]) -> dict[str, float]:
    figures = {}
    for item in items:
        name, _, value = item.partition("=")
        if _number(value) is None:
            raise ResultsError(f"--paper {item}: expected METRIC=NUMBER, e.g. --paper fid=21.7")
        figures[name] = float(value)
    return figures


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ganlab.results", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command")
    pages = commands.add_parser("render", help="write docs/results.md and docs/reproductions.md (the default)")
    pages.add_argument("--check", action="store_true", help="write nothing; exit 1 when a page is out of date")
    adding = commands.add_parser("add", help="records from a finished run directory or a sweep's summary.csv")
    adding.add_argument("path", type=Path, help="a run directory (with metrics.json) or a sweep's summary.csv")
    adding.add_argument("--benchmark", required=True, help="the results file: results/<benchmark>.jsonl")
    adding.add_argument("--setting", required=True,
                        help='the row, e.g. "mnist_fast" or a template of overrides: "{loss} / {conditioning}"')
    adding.add_argument("--metrics", help="comma-separated final metrics (default: all but the losses), e.g. fid,is")
    adding.add_argument("--paper", action="append", default=[], metavar="METRIC=VALUE",
                        help="the published figure of a metric (repeat for several)")
    adding.add_argument("--hardware", help='the machine class it ran on (default: this one\'s, e.g. "cpu (1 thread)")')
    for sub in (pages, adding):
        sub.add_argument("--results", type=Path, default=RESULTS_DIR, help="the records' directory (results/)")
    pages.add_argument("--docs", type=Path, default=DOCS_DIR, help="where the pages go (docs/)")
    args = parser.parse_args(argv)
    if args.command == "add":
        try:
            added = add(args.path, args.benchmark, args.setting,
                        metrics=args.metrics.split(",") if args.metrics else None,
                        paper=_paper_figures(args.paper), hardware=args.hardware, results_dir=args.results)
        except ResultsError as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        print(f"added {len(added)} records to {args.results / (args.benchmark + '.jsonl')}; "
              f"regenerate the pages with `{REGENERATE}`")
        return 0
    results_dir = getattr(args, "results", RESULTS_DIR)
    docs_dir = getattr(args, "docs", DOCS_DIR)
    if getattr(args, "check", False):
        stale = stale_pages(results_dir, docs_dir)
        for page in stale:
            print(f"{page} is out of date with {results_dir}/: run `{REGENERATE}`", file=sys.stderr)
        return 1 if stale else 0
    for page in write_pages(results_dir, docs_dir):
        print(f"wrote {page}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
