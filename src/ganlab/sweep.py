"""Hydra multiruns: a summary of the sweep (one row per job), the run's metrics file, and the
objective an Optuna sweeper minimises or maximises."""
from __future__ import annotations

import csv
import json
import logging
import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.core.utils import JobReturn, JobStatus
from hydra.errors import CompactHydraException
from hydra.experimental.callback import Callback
from hydra.types import RunMode
from omegaconf import DictConfig, read_write
import yaml

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


# --- the jobs' directories: named by what the sweep varies ------------------------------------------
MAX_NAME_BYTES = 200  # of a job directory's name (file systems allow 255)
UNSAFE_IN_NAMES = re.compile(r'[/\\:*?"<>|\x00-\x1f]')  # path separators, and what some file systems refuse


def job_dirname(sweep_dir: str, num: int, override_dirname: str) -> str:
    """The directory of job `num` of a sweep below `sweep_dir` (conf/hydra/default.yaml, `hydra.sweep.subdir`):
    the overrides the sweep varies, `loss=wgan_gp,seed=1` (Hydra's `hydra.job.override_dirname`; the
    keys set to one value are left out by NameJobsByWhatVaries), which also names its TensorBoard run.

    The name is one valid path component: `/`, `\\`, `:` and other characters some file systems
    refuse become `-`, and a name longer than MAX_NAME_BYTES is cut and ends in `_<num>`. A sweep that
    varies nothing names its jobs by number. A combination that comes twice in one sweep (`seed=0,0`,
    an Optuna trial repeating another) gets `_<num>` too, while running a sweep again into the same
    directory reuses each job's directory, as numbered directories did."""
    name = UNSAFE_IN_NAMES.sub("-", override_dirname)
    if not name:
        return str(num)
    if len(name.encode()) > MAX_NAME_BYTES:
        return name.encode()[:MAX_NAME_BYTES].decode(errors="ignore") + f"_{num}"
    earlier = Path(sweep_dir) / name / ".hydra" / "hydra.yaml"  # written by Hydra when a job starts
    if earlier.is_file():
        try:
            earlier_num = yaml.safe_load(earlier.read_text())["hydra"]["job"]["num"]
        except (yaml.YAMLError, KeyError, TypeError):
            earlier_num = num
        if earlier_num != num:
            return f"{name}_{num}"
    return name


class NameJobsByWhatVaries(Callback):
    """Before a sweep starts: the keys its command line sets to a single value (`data=digits` in
    `-m data=digits loss=gan,hinge`) join `hydra.job.config.override_dirname.exclude_keys`, so that
    each job's `${hydra.job.override_dirname}`, its directory and TensorBoard run, names what varies:
    `loss=hinge`. The jobs compose their configs from the sweep's Hydra overrides, in this process or
    in the launcher's (joblib, SLURM), so the setting travels as one more of those overrides."""

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        from hydra.core.override_parser.overrides_parser import OverridesParser

        parsed = OverridesParser.create().parse_overrides(list(config.hydra.overrides.task))
        fixed = [o.key_or_group for o in parsed if not o.is_sweep_override()]  # as Hydra matches them
        if not fixed:
            return
        exclude = list(dict.fromkeys([*config.hydra.job.config.override_dirname.exclude_keys, *fixed]))
        quoted = ",".join("'" + key.replace("\\", "\\\\").replace("'", "\\'") + "'" for key in exclude)
        with read_write(config.hydra):
            config.hydra.overrides.hydra.append(f"hydra.job.config.override_dirname.exclude_keys=[{quoted}]")


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
