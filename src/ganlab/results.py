"""Measured figures kept as data: one JSON object per line in `results/<benchmark>.jsonl`.

Benchmark commands append records here with `record()`; the documentation's results pages are
generated from these files (`python -m ganlab.results`, see `ganlab.results_pages`), so every
figure a page shows can be traced to the command, config, seed and machine class that produced it.

A record:
    benchmark  the file it belongs to and the table it appears in, e.g. "pacgan_table1"
    setting    the row within that table, e.g. "ring / PacGAN2" (rows average over seeds)
    metric     e.g. "modes", "high_quality", "fid", "iterations_per_second"
    value      a number
    seed       the run's seed (or trial); None for figures that have none
    budget     the training budget in generator iterations (or the benchmark's own unit)
    command    the shell command that reproduces the run
    config     the values that define the setting (Hydra overrides or benchmark flags)
    paper      the published figure for this setting and metric, or None
    paper_se   the published figure's standard error, where the paper gives one
    hardware   a class of machine, e.g. "cpu (1 thread)", "cuda: NVIDIA H100 80GB HBM3"
    version    ganlab's version and, in a git checkout, its commit
    date       ISO date of the measurement
    sd, n      only for a figure that already summarises n seeds whose single values were not kept:
               its standard deviation and count (a record of one run leaves both None)
"""
from __future__ import annotations

import datetime as _dt
import json
import os
import subprocess
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import ganlab

RESULTS_DIR = Path("results")  # relative to the current directory: a clone's root, or a user's project


@dataclass(frozen=True)
class Record:
    benchmark: str
    setting: str
    metric: str
    value: float
    seed: int | None = None
    budget: int | None = None
    command: str = ""
    config: Mapping[str, Any] = field(default_factory=dict)
    paper: float | None = None
    paper_se: float | None = None
    hardware: str = ""
    version: str = ""
    date: str = ""
    sd: float | None = None
    n: int | None = None


def hardware_class(device: str | None = None) -> str:
    """A coarse name of the machine class a figure was measured on: the GPU's name, or the CPU with the
    number of torch threads (figures on one thread are comparable across CPUs of a generation)."""
    import torch

    if device is not None and str(device).startswith("cuda") and torch.cuda.is_available():
        return f"cuda: {torch.cuda.get_device_name(torch.device(device))}"
    return f"cpu ({torch.get_num_threads()} thread{'s' if torch.get_num_threads() != 1 else ''})"


def version() -> str:
    """ganlab's version, with the commit when run from a git checkout ("0.1.0+abc1234")."""
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=Path(ganlab.__file__).parent,
                                capture_output=True, text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = ""
    return f"{ganlab.__version__}+{commit}" if commit else ganlab.__version__


def record(benchmark: str, setting: str, metric: str, value: float, *, results_dir: str | os.PathLike | None = None,
           **fields: Any) -> Record:
    """Appends one measured figure to `<results_dir>/<benchmark>.jsonl` (created if needed) and returns it.
    `hardware`, `version` and `date` are filled in when not given."""
    fields.setdefault("hardware", hardware_class())
    fields.setdefault("version", version())
    fields.setdefault("date", _dt.date.today().isoformat())
    entry = Record(benchmark=benchmark, setting=setting, metric=metric, value=float(value), **fields)
    directory = Path(results_dir) if results_dir is not None else RESULTS_DIR
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / f"{benchmark}.jsonl", "a", encoding="utf-8") as out:
        out.write(json.dumps(asdict(entry), sort_keys=True, default=str) + "\n")
    return entry


def load(paths: Iterable[str | os.PathLike]) -> list[Record]:
    """The records of the given .jsonl files (or of every .jsonl file in a given directory)."""
    records: list[Record] = []
    for path in map(Path, paths):
        files = sorted(path.glob("*.jsonl")) if path.is_dir() else [path]
        for file in files:
            for number, line in enumerate(file.read_text(encoding="utf-8").splitlines(), start=1):
                if not line.strip():
                    continue
                try:
                    records.append(Record(**json.loads(line)))
                except (json.JSONDecodeError, TypeError) as error:
                    raise ValueError(f"{file}:{number}: not a results record ({error})") from None
    return records


if __name__ == "__main__":  # python -m ganlab.results [render [--check] | add ...]: see ganlab.results_pages
    from ganlab.results_pages import main

    raise SystemExit(main())
