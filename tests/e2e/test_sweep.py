"""Hydra multiruns of train.py: one directory and one TensorBoard run per job, and a summary.

The launcher and sweeper plugins (joblib, submitit, Optuna) are optional extras
(pip install -e '.[sweepers]'); their tests skip, saying so, when a plugin is not installed.
"""
from ganlab import CONFIG_DIR
import csv
import importlib.util
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from hydra import compose, initialize_config_dir
from omegaconf import read_write

from helpers import compose_config

REPO = Path(__file__).resolve().parents[2]
CONF = CONFIG_DIR

# Tiny MLP GANs on the bundled digits, two iterations each.
TINY = [
    "data=digits", "trainer=cpu", "data.batch_size=16", "data.num_workers=0", "data.image_size=28",
    "model=mlp", "model.latent_dim=8", "model.generator.hidden=[16]", "model.discriminator.hidden=[16]",
    "++trainer.enable_progress_bar=false", "log_every_n=1", "iterations=2",
]


def multirun(sweep_dir: Path, *overrides: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.run([sys.executable, "train.py", "-m", *TINY, f"hydra.sweep.dir={sweep_dir}", *overrides],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=600)


def check(result: subprocess.CompletedProcess) -> None:
    if result.returncode != 0:
        raise AssertionError(f"train.py -m failed ({result.returncode}):\n{result.stdout[-3000:]}\n{result.stderr[-5000:]}")


def read_summary(sweep_dir: Path) -> list[dict[str, str]]:
    with (sweep_dir / "summary.csv").open() as f:
        return list(csv.DictReader(f))


def plugin(module: str, package: str) -> None:
    """Skips the test, naming what to install, when a Hydra plugin is missing."""
    try:
        found = importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:  # not even the hydra_plugins namespace
        found = False
    if not found:
        pytest.skip(f"{package} is not installed (pip install -e '.[sweepers]')")


def compose_with_hydra(overrides: list[str], tmp_path: Path):
    return compose_config(*overrides, output_dir=tmp_path, hydra_config=True)


@pytest.fixture(scope="module")
def sweep_2x2(tmp_path_factory):
    sweep_dir = tmp_path_factory.mktemp("sweep") / "multirun"
    check(multirun(sweep_dir, "loss=gan,wgan_gp", "seed=0,1"))
    return sweep_dir


JOB_NAMES = ["loss=gan,seed=0", "loss=gan,seed=1", "loss=wgan_gp,seed=0", "loss=wgan_gp,seed=1"]


def test_each_job_gets_its_own_directory_named_by_what_varies(sweep_2x2):
    jobs = sorted(p.name for p in sweep_2x2.iterdir() if p.is_dir())
    assert jobs == JOB_NAMES  # the overrides TINY sets to one value are left out
    seen = set()
    for job in jobs:
        job_dir = sweep_2x2 / job
        overrides = yaml.safe_load((job_dir / ".hydra" / "overrides.yaml").read_text())
        seen.add(tuple(o for o in overrides if o.startswith(("loss=", "seed="))))
        assert (job_dir / "checkpoints" / "last.ckpt").is_file()
        assert (job_dir / "metrics.json").is_file()
    assert seen == {("loss=gan", "seed=0"), ("loss=gan", "seed=1"), ("loss=wgan_gp", "seed=0"), ("loss=wgan_gp", "seed=1")}


def test_tensorboard_on_the_sweep_shows_one_run_per_job(sweep_2x2):
    from tensorboard.backend.event_processing.event_multiplexer import EventMultiplexer

    runs = EventMultiplexer().AddRunsFromDirectory(str(sweep_2x2)).Reload()
    assert sorted(runs.Runs()) == [f"{job}/tensorboard" for job in JOB_NAMES]
    for run in runs.Runs():
        assert "loss/d" in runs.GetAccumulator(run).Tags()["scalars"], run


def test_the_hparams_tab_shows_group_choices_overrides_and_final_metrics(sweep_2x2):
    from tensorboard.backend.event_processing.event_multiplexer import EventMultiplexer
    from tensorboard.plugins.hparams import plugin_data_pb2

    runs = EventMultiplexer().AddRunsFromDirectory(str(sweep_2x2)).Reload()
    for run in runs.Runs():
        hparams, metrics = {}, []
        for content in runs.GetAccumulator(run).PluginTagToContent("hparams").values():
            data = plugin_data_pb2.HParamsPluginData.FromString(content)
            if data.HasField("session_start_info"):
                hparams = {k: getattr(v, v.WhichOneof("kind")) for k, v in data.session_start_info.hparams.items()}
            if data.HasField("experiment"):
                metrics = [info.name.tag for info in data.experiment.metric_infos]
        loss, seed = (part.split("=")[1] for part in run.split("/")[0].split(","))
        assert hparams["loss"] == loss and hparams["seed"] == int(seed), (run, hparams)
        assert {"model": "mlp", "data": "digits", "trainer": "cpu", "conditioning": "none", "experiment": "null",
                "data.batch_size": 16, "model.generator.hidden": "[16]", "iterations": 2}.items() <= hparams.items()
        assert not any("_target_" in key or key.startswith("hydra") for key in hparams), sorted(hparams)
        assert metrics == ["final/loss_d", "final/loss_g"]
        final = runs.GetAccumulator(run).Scalars("final/loss_d")  # the column's value
        assert len(final) == 1 and math.isfinite(final[0].value)


def test_summary_has_one_row_per_job(sweep_2x2):
    rows = read_summary(sweep_2x2)
    assert [row["job"] for row in rows] == ["0", "1", "2", "3"]
    assert [row["varied"] for row in rows] == [
        "loss=gan seed=0", "loss=gan seed=1", "loss=wgan_gp seed=0", "loss=wgan_gp seed=1"]
    for row in rows:
        assert row["status"] == "completed"
        assert row["iterations"] == "2"
        assert math.isfinite(float(row["final/loss_d"])) and math.isfinite(float(row["final/loss_g"]))
        assert "loss=" in row["overrides"] and Path(row["directory"]).is_dir()


def test_a_failing_job_is_recorded_and_the_others_still_run(tmp_path):
    # batch_size 4000 > the 1,797 digits: that job fails with a configuration error
    result = multirun(tmp_path / "multirun", "data.batch_size=4000,16")
    assert result.returncode != 0  # Hydra reports the failed job once the sweep is done
    rows = read_summary(tmp_path / "multirun")
    assert [(row["job"], row["status"]) for row in rows] == [("0", "failed"), ("1", "completed")]
    assert "data.batch_size" in rows[0]["error"]
    assert rows[1]["iterations"] == "2"


def test_job_directory_names_are_valid_and_unique(tmp_path):
    from ganlab.sweep import MAX_NAME_BYTES, job_dirname

    assert job_dirname(str(tmp_path), 3, "loss=hinge,seed=1") == "loss=hinge,seed=1"
    assert job_dirname(str(tmp_path), 3, "") == "3"  # nothing varies: the job's number
    assert job_dirname(str(tmp_path), 0, "callbacks/metrics=modes,data.root=/data:x") == \
        "callbacks-metrics=modes,data.root=-data-x"  # one path component
    long = job_dirname(str(tmp_path), 7, ",".join(f"key{i}=value{i}" for i in range(40)))
    assert len(long.encode()) <= MAX_NAME_BYTES + 5 and long.endswith("_7")
    (tmp_path / "seed=0" / ".hydra").mkdir(parents=True)  # job 0 of this sweep ran seed=0
    (tmp_path / "seed=0" / ".hydra" / "hydra.yaml").write_text("hydra:\n  job:\n    num: 0\n")
    assert job_dirname(str(tmp_path), 0, "seed=0") == "seed=0"  # the same job again (a sweep run again)
    assert job_dirname(str(tmp_path), 1, "seed=0") == "seed=0_1"  # a repeated combination


def test_overrides_set_to_one_value_are_left_out_of_the_job_names(tmp_path):
    """NameJobsByWhatVaries adds Hydra's exclude_keys for what the command line fixes; the jobs' own
    composition (as Hydra's launchers do it) then names only what varies."""
    from ganlab.sweep import NameJobsByWhatVaries

    cfg = compose_with_hydra(["data=digits", "loss=gan", "+pacgan_row=gan"], tmp_path)
    with read_write(cfg.hydra):  # the sweep's command line, as the callback sees it
        cfg.hydra.overrides.task = ["data=digits", "+pacgan_row=gan", "loss=gan,hinge", "seed=range(2)"]
    NameJobsByWhatVaries().on_multirun_start(cfg)
    hydra_overrides = list(cfg.hydra.overrides.hydra)
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        job = compose("train", overrides=[*hydra_overrides, "data=digits", "+pacgan_row=gan", "loss=hinge", "seed=1"],
                      return_hydra_config=True)
    assert job.hydra.job.override_dirname == "loss=hinge,seed=1"


def fake_job(sweep_dir: Path, num: int, overrides: list[str], mode=None):
    """The config Hydra hands a callback for job `num` of a sweep in `sweep_dir`."""
    from hydra.types import RunMode
    from omegaconf import OmegaConf

    output_dir = sweep_dir / str(num)
    output_dir.mkdir(parents=True)
    return OmegaConf.create({"hydra": {
        "mode": mode or RunMode.MULTIRUN, "job": {"num": num}, "overrides": {"task": overrides},
        "runtime": {"output_dir": str(output_dir)}, "sweep": {"dir": str(sweep_dir)}}})


def job_return(status, value):
    from hydra.core.utils import JobReturn

    result = JobReturn()
    result.status, result.return_value = status, value
    return result


def test_summary_rows_gather_metrics_objective_and_errors(tmp_path):
    """SweepSummary alone: the summary is current after every job, failed jobs carry their error."""
    from hydra.core.utils import JobStatus

    from ganlab.config_checks import ConfigError
    from ganlab.sweep import METRICS_FILE, SweepSummary, write_json

    summary = SweepSummary()
    first = fake_job(tmp_path, 0, ["data.batch_size=16", "seed=0"])
    write_json(Path(first.hydra.runtime.output_dir) / METRICS_FILE, {"iterations": 2, "final/loss_d": 1.25})
    summary.on_job_end(first, job_return(JobStatus.COMPLETED, 1.25))  # an Optuna objective
    assert read_summary(tmp_path)[0]["objective"] == "1.25"
    second = fake_job(tmp_path, 1, ["data.batch_size=4000", "seed=0"])
    summary.on_job_end(second, job_return(JobStatus.FAILED, ConfigError("data.batch_size=4000 is larger\nmore")))
    rows = read_summary(tmp_path)
    assert [(r["job"], r["status"], r["varied"]) for r in rows] == [
        ("0", "completed", "data.batch_size=16"), ("1", "failed", "data.batch_size=4000")]
    assert rows[0]["final/loss_d"] == "1.25" and rows[0]["iterations"] == "2"
    assert rows[1]["error"] == "ConfigError: data.batch_size=4000 is larger"


def test_summary_is_not_written_for_a_single_run(tmp_path):
    from hydra.core.utils import JobStatus
    from hydra.types import RunMode

    from ganlab.sweep import SweepSummary

    SweepSummary().on_job_end(fake_job(tmp_path, 0, [], mode=RunMode.RUN), job_return(JobStatus.COMPLETED, {}))
    assert not (tmp_path / "summary.csv").exists()


# --- launcher and sweeper configs ------------------------------------------------------------------
def test_parallel_launcher_config_composes(tmp_path):
    plugin("hydra_plugins.hydra_joblib_launcher", "hydra-joblib-launcher")
    cfg = compose_with_hydra(["hydra/launcher=parallel"], tmp_path)
    assert cfg.hydra.launcher._target_.endswith("JoblibLauncher")
    assert cfg.hydra.launcher.n_jobs == 2


def test_slurm_launcher_config_composes(tmp_path):
    plugin("hydra_plugins.hydra_submitit_launcher", "hydra-submitit-launcher")
    cfg = compose_with_hydra(["hydra/launcher=slurm", "hydra.launcher.gpus_per_node=8",
                              "hydra.launcher.tasks_per_node=8", "trainer=ddp", "trainer.devices=8"], tmp_path)
    assert cfg.hydra.launcher._target_.endswith("SlurmLauncher")
    assert cfg.hydra.launcher.tasks_per_node == 8 and cfg.trainer.devices == 8


def test_optuna_search_config_composes(tmp_path):
    plugin("hydra_plugins.hydra_optuna_sweeper", "hydra-optuna-sweeper")
    cfg = compose_with_hydra(["hparams_search=optuna"], tmp_path)
    assert cfg.hydra.sweeper._target_.endswith("OptunaSweeper")
    assert set(cfg.hydra.sweeper.params) >= {"optim.generator.lr", "optim.discriminator.lr"}
    # the objective is among the metrics the run returns (the metrics callback declares its names)
    from hydra.utils import instantiate

    evaluation = instantiate(cfg.callbacks.metrics)
    assert cfg.objective in ["final/loss_d", "final/loss_g", *evaluation.summary_names]


@pytest.mark.slow
def test_parallel_launcher_runs_jobs_in_other_processes(tmp_path):
    plugin("hydra_plugins.hydra_joblib_launcher", "hydra-joblib-launcher")
    sweep_dir = tmp_path / "multirun"
    check(multirun(sweep_dir, "hydra/launcher=parallel", "seed=0,1"))
    rows = read_summary(sweep_dir)
    assert [(row["job"], row["status"], row["varied"]) for row in rows] == [
        ("0", "completed", "seed=0"), ("1", "completed", "seed=1")]


@pytest.mark.slow
def test_optuna_search_optimises_the_returned_objective(tmp_path):
    plugin("hydra_plugins.hydra_optuna_sweeper", "hydra-optuna-sweeper")
    sweep_dir = tmp_path / "multirun"
    metrics = ["callbacks.metrics.num_samples=32", "callbacks.metrics.batch_size=32",
               "callbacks.metrics.scores.kid.subsets=2", "callbacks.metrics.scores.is.splits=2",
               f"callbacks.metrics.cache_dir={tmp_path / 'cache'}"]
    check(multirun(sweep_dir, "hparams_search=optuna", "hydra.sweeper.n_trials=2", *metrics))
    rows = read_summary(sweep_dir)
    assert [row["status"] for row in rows] == ["completed", "completed"]
    for row in rows:
        assert float(row["objective"]) == float(row["final/best_fid"])
        assert "optim.generator.lr=" in row["varied"]
    assert (sweep_dir / "optimization_results.yaml").is_file()
