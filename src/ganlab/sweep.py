"""Hydra multiruns: a summary of the sweep (one row per job), the run's metrics file, and the
objective an Optuna sweeper minimises or maximises."""
from __future__ import annotations

import csv
import json
import logging
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.core.utils import JobReturn, JobStatus
from hydra.errors import CompactHydraException
from hydra.experimental.callback import Callback
from hydra.types import RunMode
from omegaconf import DictConfig

from ganlab.atomic import write_atomically
from ganlab.config_checks import ConfigError

log = logging.getLogger(__name__)

METRICS_FILE = "metrics.json"  # a run's final metrics, in its directory
ROW_FILE = "sweep_row.json"  # a job's row of the sweep summary, in its directory
SUMMARY_FILE = "summary.csv"  # the sweep summary, in the sweep directory
FIRST_COLUMNS = ["job", "status", "varied"]
LAST_COLUMNS = ["overrides", "error", "directory"]


class JobFailed(CompactHydraException):
    """A job of a sweep stopped by a user error (already printed as one `error: ...` line). Hydra
    prints a CompactHydraException without a traceback; the summary records the error itself."""


def in_multirun() -> bool:
    """True inside a job of a Hydra multirun (`-m`)."""
    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN


def write_json(path: Path, data: Mapping[str, Any]) -> None:
    """Writes `data` to `path` atomically (ganlab.atomic)."""
    write_atomically(path, lambda tmp: tmp.write_text(json.dumps(dict(data), indent=1, default=float)))


def objective_value(metrics: Mapping[str, Any], key: str | None) -> Any:
    """What the Hydra task function returns: the metric named by the config key `objective` (a float,
    for an optimising sweeper such as Optuna), or, with no objective, all final metrics."""
    if key is None:
        return dict(metrics)
    if key not in metrics:
        raise ConfigError(f"objective={key} is not among the run's final metrics: {sorted(metrics)}. Set "
                          "objective= to one of them (e.g. objective=final/loss_d).")
    return float(metrics[key])


def summary_row(config: DictConfig, job_return: JobReturn) -> dict[str, Any]:
    """The summary row of one job: number, status, overrides, final metrics (and objective), error."""
    output_dir = Path(config.hydra.runtime.output_dir)
    completed = job_return.status == JobStatus.COMPLETED
    row: dict[str, Any] = {
        "job": int(config.hydra.job.num),
        "status": "completed" if completed else "failed",
        "overrides": list(config.hydra.overrides.task),
    }
    metrics_file = output_dir / METRICS_FILE
    if metrics_file.is_file():
        row.update(json.loads(metrics_file.read_text()))
    value = job_return.return_value if completed else None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        row["objective"] = float(value)
    if not completed:
        error = job_return._return_value  # the exception (return_value would raise it)
        if isinstance(error, JobFailed) and error.__cause__ is not None:
            error = error.__cause__
        row["error"] = f"{type(error).__name__}: {str(error).strip().splitlines()[0] if str(error).strip() else ''}"
    row["directory"] = str(output_dir)
    return row


def varied_overrides(override_lists: list[list[str]]) -> list[str]:
    """Each job's overrides of the keys whose values differ between jobs (what the sweep varies)."""
    parsed = [dict(o.split("=", 1) if "=" in o else (o, "") for o in overrides) for overrides in override_lists]
    keys = list(dict.fromkeys(k for job in parsed for k in job))
    varied = [k for k in keys if len({job.get(k) for job in parsed}) > 1]
    return [" ".join(f"{k}={job[k]}" for k in varied if k in job) for job in parsed]


def write_summary(sweep_dir: Path) -> Path | None:
    """Gathers the jobs' rows below `sweep_dir` into `summary.csv` (rewritten whole, atomically):
    job, status, the overrides the sweep varies, final metrics, objective, all overrides, error."""
    rows = [json.loads(p.read_text()) for p in sweep_dir.glob(f"**/{ROW_FILE}")]
    if not rows:
        return None
    rows.sort(key=lambda r: int(r["job"]))
    for row, varied in zip(rows, varied_overrides([row["overrides"] for row in rows])):
        row["varied"] = varied
        row["overrides"] = " ".join(row["overrides"])
    columns = list(dict.fromkeys([*FIRST_COLUMNS, *(key for row in rows for key in row if key not in LAST_COLUMNS),
                                  *LAST_COLUMNS]))
    summary = sweep_dir / SUMMARY_FILE

    def write(tmp: Path) -> None:
        with tmp.open("w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=columns)
            writer.writeheader()
            writer.writerows([{k: _cell(v) for k, v in row.items()} for row in rows])

    write_atomically(summary, write)
    return summary


def _cell(value: Any) -> Any:
    return "nan" if isinstance(value, float) and math.isnan(value) else value


class SweepSummary(Callback):
    """`<sweep dir>/summary.csv`: one row per job of a multirun, with its overrides, status, final
    metrics (`metrics.json`, written by `run()`), objective and error.

    Jobs may run in other processes or on other machines (joblib, submitit): each job leaves its
    row as `sweep_row.json` in its own directory and rewrites the summary from all rows found, so
    the summary is current after every job, and complete even when the sweep stops early (a
    failed job makes Hydra raise once its batch is done). The end of the sweep rewrites it again.
    """

    def on_job_end(self, config: DictConfig, job_return: JobReturn, **kwargs: Any) -> None:
        if config.hydra.mode != RunMode.MULTIRUN or _data_parallel_rank() != 0:
            return
        row = summary_row(config, job_return)
        write_json(Path(config.hydra.runtime.output_dir) / ROW_FILE, row)
        write_summary(Path(config.hydra.sweep.dir))

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        summary = write_summary(Path(config.hydra.sweep.dir))
        if summary is not None:
            log.info("sweep summary: %s", summary)


def _data_parallel_rank() -> int:
    """The global rank of this process in a data-parallel job (a SLURM task per GPU); 0 otherwise."""
    from pytorch_lightning.utilities.rank_zero import rank_zero_only

    return int(getattr(rank_zero_only, "rank", 0))
