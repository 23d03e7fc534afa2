"""When things go wrong, train.py and sample.py, run as a user runs them (subprocesses where a process
is what the test is about: signals, kill -9, runs started together; in process, composing the config as
train.py does and calling run(), elsewhere).

Bad input that only the real entry point shows (Hydra's own errors, the checks before Hydra starts)
is one `error: ...` message, no traceback (every other bad input: test_bad_input.py, in-process);
divergence stops at the iteration it happened and keeps the last good checkpoint; SIGTERM/SIGINT save a
checkpoint from which `ckpt_path=` continues exactly as if nothing had happened.

Each subprocess pays ~3 s of imports (torch, Lightning), so the runs that need no interaction start
together in the background (`background` fixture) and each test waits for its own.
"""
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pytest
import pytorch_lightning as pl
import torch

from ganlab.callbacks.graceful_stop import GracefulStop

from helpers.files import write_images

REPO = Path(__file__).resolve().parents[2]

# test_train_cli.TINY: a tiny DCGAN on the bundled digits; BASE: without the data.
BASE = ["trainer=cpu", "data.batch_size=16", "data.num_workers=0", "model.latent_dim=8", "model.generator.width=8",
        "model.discriminator.width=8", "trainer.enable_progress_bar=false", "log_every_n=1"]
TINY = ["data=digits", "data.image_size=28", *BASE]
# The same on an image folder (16 grey 28x28 images: one batch is the whole folder).
FOLDER = ["data=image_folder", "data.image_size=28", "data.channels=1", *BASE]
# Helpers below are imported by train.py from `e2e.test_reliability`: tests/ goes on its path.
ENV = {**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1",
       "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO / "tests"), os.environ.get("PYTHONPATH")]))}
ENV.pop("GANLAB_TRACEBACK", None)
TIMEOUT = 300


def command(script: str, *overrides: str) -> list[str]:
    return [sys.executable, script, *overrides]


def run(args: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=REPO, env=ENV, capture_output=True, text=True, timeout=TIMEOUT)


def explain(result: subprocess.CompletedProcess) -> str:
    return f"exit {result.returncode}\n--- stdout\n{result.stdout[-3000:]}\n--- stderr\n{result.stderr[-5000:]}"


def saved(path: Path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=False)


# --- helpers that run inside train.py ----------------------------------------------------------

class PauseAt(pl.Callback):
    """At the end of generator iteration `at`, flushes the loggers (as a long run's writers do from time
    to time), prints PAUSED and sleeps, for the test to kill the process with SIGKILL."""

    def __init__(self, at: int):
        self.at = at

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if pl_module.g_iter == self.at:
            for logger in trainer.loggers:
                logger.experiment.flush()
            print("PAUSED", flush=True)
            time.sleep(TIMEOUT)


class WaitForSignal(pl.Callback):
    """At the end of generator iteration `at`, prints WAITING FOR SIGNAL and waits (at most
    `timeout` s) until GracefulStop has received one, so that the test's signal lands mid-run
    however fast or slow the machine is. GracefulStop, earlier in the list, acts at the next step."""

    def __init__(self, at: int, timeout: float = 120.0):
        self.at, self.timeout = at, timeout

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if pl_module.g_iter != self.at:
            return
        stop = next(c for c in trainer.callbacks if isinstance(c, GracefulStop))
        print(f"WAITING FOR SIGNAL at generator iteration {pl_module.g_iter}", flush=True)
        deadline = time.monotonic() + self.timeout
        while stop.received is None and time.monotonic() < deadline:
            time.sleep(0.01)


# --- runs that need no interaction, started together ---------------------------------------------

# name -> (script, arguments, exit status, fragments stderr must hold); {tmp}: the test's directory.
# Each config check also has a unit test (tests/unit/test_reliability.py); these show the wiring.
# What only train.py itself shows: Hydra's own error for an unknown option (exit 1), the checks made
# before Hydra starts (a misspelt key) or creates the run directory, and a value refused after
# composing, through the real entry point. Every other bad input: test_bad_input.py, in-process.
BAD_INPUT = {
    "unknown_group_option": ("train.py", [*TINY, "model=no_such_model"], 1,
                             ["Could not find 'model/no_such_model'", "Available options in 'model'", "dcgan"]),
    "unwritable_run_dir": ("train.py", [*TINY, "hydra.run.dir=/proc/ganlab_test/run"], 2,
                           ["error: cannot write the output directory /proc/ganlab_test/run (hydra.run.dir)"]),
    "zero_latent_dim": ("train.py", [*TINY, "model.latent_dim=0"], 2,
                        ["error: model.latent_dim must be a positive integer, got 0"]),
    "misspelt_key": ("train.py", [*TINY, "optim.generator.lrr=1"], 2,
                     ["error: optim.generator.lrr is not a config key; did you mean optim.generator.lr?"]),
}
# Signal tests: N iterations in all, the signal lands during iteration K + 1.
N, K = 12, 5
COMMON = ["callbacks.checkpoint.every_n=4", "callbacks.sample_grid.every_n=1000", f"iterations={N}"]


@pytest.fixture(scope="module")
def background(tmp_path_factory):
    """Starts every run that needs no interaction, one per CPU core at a time; name -> Future of its result."""
    tmp = tmp_path_factory.mktemp("reliability")
    write_images(tmp / "skipped", 16, corrupt=2)
    runs = {"straight": command("train.py", *TINY, f"hydra.run.dir={tmp / 'straight'}", *COMMON)}
    bad = {name: (script, arguments) for name, (script, arguments, _, _) in BAD_INPUT.items()}
    for name, (script, arguments) in bad.items():
        arguments = [a.replace("{tmp}", str(tmp)) for a in arguments]
        if script == "train.py" and not any(a.startswith("hydra.run.dir=") for a in arguments):
            arguments.append(f"hydra.run.dir={tmp / name}")
        runs[name] = command(script, *arguments)
    runs["corrupt_images_skipped"] = command("train.py", *FOLDER, f"hydra.run.dir={tmp / 'skipped_run'}",
                                             f"data.root={tmp / 'skipped'}", "iterations=2")
    runs["divergence"] = command("train.py", *TINY, f"hydra.run.dir={tmp / 'diverged'}", "iterations=10",
                                 "loss.objective._target_=helpers.NaNLossAt", "+loss.objective.step=5",
                                 "callbacks.checkpoint.every_n=2")
    pool = ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2))
    futures = {name: pool.submit(run, args) for name, args in runs.items()}
    yield tmp, futures
    pool.shutdown(wait=True, cancel_futures=True)


def result_of(background, name: str) -> tuple[Path, subprocess.CompletedProcess]:
    tmp, futures = background
    future: Future = futures[name]
    return tmp, future.result(timeout=TIMEOUT * 2)


# --- bad input: one message, no traceback --------------------------------------------------------

@pytest.mark.parametrize("name", list(BAD_INPUT))
def test_bad_input_is_one_clear_message(background, name):
    tmp, result = result_of(background, name)
    _, _, status, fragments = BAD_INPUT[name]
    assert result.returncode == status, explain(result)
    for fragment in fragments:
        assert fragment.replace("{tmp}", str(tmp)) in result.stderr, explain(result)
    assert "Traceback" not in result.stderr + result.stdout, explain(result)
    if status == 2:  # ours: exactly one error message
        assert result.stderr.count("error: ") == 1, explain(result)


def test_a_bad_value_is_refused_before_a_tensorboard_run_exists(background):
    tmp, result = result_of(background, "zero_latent_dim")
    assert result.returncode == 2, explain(result)
    assert not (tmp / "zero_latent_dim").exists()  # not even an empty run directory is left behind


def test_corrupt_images_are_skipped_with_a_warning_that_counts_them(background):
    tmp, result = result_of(background, "corrupt_images_skipped")
    assert result.returncode == 0, explain(result)
    assert "2 corrupt or unreadable image(s)" in result.stderr, explain(result)
    assert "Traceback" not in result.stderr, explain(result)
    assert saved(tmp / "skipped_run" / "checkpoints" / "last.ckpt")["ganlab"]["g_iter"] == 2


# --- divergence ----------------------------------------------------------------------------------

def test_divergence_names_iteration_and_loss_and_keeps_last_good_checkpoint(background):
    tmp, result = result_of(background, "divergence")
    assert result.returncode == 2, explain(result)
    assert "error: training diverged at generator iteration 5 (discriminator step 5): loss/d = nan" in result.stderr
    assert "Traceback" not in result.stderr
    checkpoints = tmp / "diverged" / "checkpoints"
    assert sorted(p.name for p in checkpoints.iterdir()) == ["iter_0000002.ckpt", "iter_0000004.ckpt", "last.ckpt"]
    last = saved(checkpoints / "last.ckpt")
    assert last["ganlab"]["g_iter"] == 4
    assert all(torch.isfinite(t).all() for t in last["state_dict"].values() if t.is_floating_point())


# --- interruption --------------------------------------------------------------------------------

def interrupt_and_resume(tmp_path: Path, signum: int) -> Path:
    """Runs train.py with two DataLoader workers, sends `signum` to its whole process group (as Ctrl-C
    in a terminal and a cluster's pre-emption do) during iteration K + 1, checks the exit status and
    the checkpoint, resumes with `train.py ckpt_path=...` to N iterations; returns the run directory."""
    run_dir = tmp_path / "interrupted"
    with_workers = [o for o in TINY if not o.startswith("data.num_workers=")] + ["data.num_workers=2"]
    args = command("train.py", *with_workers, f"hydra.run.dir={run_dir}", *COMMON,
                   "+callbacks.wait_for_signal._target_=e2e.test_reliability.WaitForSignal",
                   f"+callbacks.wait_for_signal.at={K}")
    process = subprocess.Popen(args, cwd=REPO, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               start_new_session=True)
    output = []
    try:
        for line in process.stdout:  # poll the output until the run is mid-way
            output.append(line)
            if "WAITING FOR SIGNAL" in line:
                break
        else:
            pytest.fail("train.py ended before iteration K:\n" + "".join(output[-60:]))
        os.killpg(process.pid, signum)
        rest, _ = process.communicate(timeout=TIMEOUT)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    output = "".join(output) + rest
    assert process.returncode == 128 + signum, output[-5000:]
    assert "Traceback" not in output and "exited unexpectedly" not in output, output[-5000:]
    assert (f"stopped by {signal.Signals(signum).name}: {K + 1} of {N} generator iterations done; continue with: "
            f"python train.py ckpt_path={run_dir / 'checkpoints' / 'last.ckpt'}") in output
    last = run_dir / "checkpoints" / "last.ckpt"
    assert saved(last)["ganlab"]["g_iter"] == K + 1
    assert sorted(p.name for p in last.parent.iterdir()) == ["iter_0000004.ckpt", "last.ckpt"]

    # as after a pre-emption: the checkpoint alone (the run's overrides are stored in it)
    resumed = run(command("train.py", f"ckpt_path={last}"))  # the newest state: continues in its run directory
    assert resumed.returncode == 0, explain(resumed)
    assert f"resuming: continuing run {run_dir} in place from last.ckpt (generator iteration {K + 1})" in resumed.stdout
    return run_dir


def assert_same_training(straight: Path, resumed: Path) -> None:
    a, b = saved(straight / "checkpoints" / "last.ckpt"), saved(resumed / "checkpoints" / "last.ckpt")
    assert a["ganlab"]["g_iter"] == b["ganlab"]["g_iter"] == N
    for name, tensor in a["state_dict"].items():
        torch.testing.assert_close(b["state_dict"][name], tensor, rtol=1e-4, atol=1e-5, msg=name)
    for opt_a, opt_b in zip(a["optimizer_states"], b["optimizer_states"], strict=True):
        assert opt_a["state"].keys() == opt_b["state"].keys()
        for index, state in opt_a["state"].items():
            for key, value in state.items():
                torch.testing.assert_close(opt_b["state"][index][key], value, rtol=1e-4, atol=1e-6,
                                           msg=f"optimizer state {index}.{key}")
    assert sorted(p.name for p in (resumed / "checkpoints").iterdir()) == [
        "iter_0000004.ckpt", "iter_0000008.ckpt", "iter_0000012.ckpt", "last.ckpt"]


def assert_one_tensorboard_run(run_dir: Path) -> None:
    """The resumed run appended to the interrupted run's TensorBoard directory: every generator
    iteration logged exactly once, in one run."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(run_dir / "tensorboard")).Reload()  # every events file in the directory
    assert sorted(e.step for e in events.Scalars("loss/g")) == list(range(1, N + 1))


def test_sigterm_saves_and_resume_equals_uninterrupted_run(background, tmp_path):
    run_dir = interrupt_and_resume(tmp_path, signal.SIGTERM)
    tmp, straight = result_of(background, "straight")
    assert straight.returncode == 0, explain(straight)
    assert_same_training(tmp / "straight", run_dir)
    assert_one_tensorboard_run(run_dir)


@pytest.mark.slow
def test_sigint_saves_and_resume_equals_uninterrupted_run(background, tmp_path):
    run_dir = interrupt_and_resume(tmp_path, signal.SIGINT)
    tmp, straight = result_of(background, "straight")
    assert straight.returncode == 0, explain(straight)
    assert_same_training(tmp / "straight", run_dir)
    assert_one_tensorboard_run(run_dir)


# --- issue: a run never writes into another run's files --------------------------------------------

def checksums(folder: Path) -> dict[str, str]:
    """relative path -> sha256 of every file below `folder`."""
    import hashlib

    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def start(*overrides: str) -> subprocess.Popen:
    return subprocess.Popen(command("train.py", *overrides), cwd=REPO, env=ENV, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def finish(process: subprocess.Popen) -> subprocess.CompletedProcess:
    out, err = process.communicate(timeout=TIMEOUT)
    return subprocess.CompletedProcess(process.args, process.returncode, out, err)


@pytest.mark.slow  # concurrent processes (~25 s); the claim itself: tests/unit/test_run_dirs.py
def test_no_run_writes_into_another_runs_directory(tmp_path):
    args = [*TINY, "iterations=2", "logger=none"]
    # Two runs wanting the same default directory at once (as two runs started in the same second do:
    # the default is runs/<date>_<time>): each gets its own.
    same_second = f"hydra.run.dir='${{ganlab_run_dir:${{ckpt_path}},{tmp_path / 'runs' / 'T'},T}}'"
    results = [finish(p) for p in [start(*args, same_second, f"seed={seed}") for seed in (0, 1)]]
    assert all(r.returncode == 0 for r in results), "\n".join(map(explain, results))
    runs = sorted((tmp_path / "runs").iterdir())
    assert [p.name for p in runs] == ["T", "T_2"]
    seeds = {saved(p / "checkpoints" / "last.ckpt")["ganlab_run"]["config"]["seed"] for p in runs}
    assert seeds == {0, 1}  # each run's checkpoints hold its own training
    reported = {line.split("run directory: ")[1] for r in results for line in (r.stdout + r.stderr).splitlines()
                if "run directory: " in line}
    assert reported == {str(p) for p in runs}  # each says where it is

    # A new run named into an existing run's directory is refused, and changes nothing there; two runs
    # started at once into one new directory: one trains, the other is refused.
    before = checksums(runs[0])
    fresh = tmp_path / "shared"
    processes = [start(*args, "seed=2", f"hydra.run.dir={runs[0]}"),
                 *(start(*args, f"seed={seed}", f"hydra.run.dir={fresh}") for seed in (3, 4))]
    into_existing, *into_fresh = [finish(p) for p in processes]
    assert into_existing.returncode == 2, explain(into_existing)
    assert (f"error: hydra.run.dir={runs[0]} already holds another run: a new run needs its own directory"
            in into_existing.stderr), explain(into_existing)
    assert into_existing.stderr.count("error: ") == 1 and "Traceback" not in into_existing.stderr
    assert checksums(runs[0]) == before
    assert sorted(r.returncode for r in into_fresh) == [0, 2], "\n".join(map(explain, into_fresh))
    winner, loser = sorted(into_fresh, key=lambda r: r.returncode)
    assert "already holds another run" in loser.stderr, explain(loser)
    winner_seed = int(next(a for a in winner.args if a.startswith("seed=")).split("=")[1])
    assert saved(fresh / "checkpoints" / "last.ckpt")["ganlab_run"]["config"]["seed"] == winner_seed


# --- in process: compose the config as train.py does, call run() ---------------------------------

IN_PROCESS = ["trainer=cpu", "data=digits", "data.image_size=28", "data.batch_size=16", "data.num_workers=0",
              "model.latent_dim=8", "model.generator.width=8", "model.discriminator.width=8",
              "trainer.enable_progress_bar=false", "log_every_n=1", "logger=none"]


def train_here(output_dir: Path, *overrides: str):
    """run() with the in-process options and `overrides`, as `python train.py ...` runs it."""
    from unittest import mock

    from ganlab.train import run
    from helpers import compose_config

    with mock.patch.object(sys, "argv", ["train.py"]):  # the command a stop suggests names the script
        return run(compose_config(*IN_PROCESS, *overrides, output_dir=output_dir))


def weights(run_dir: Path) -> dict:
    return saved(run_dir / "checkpoints" / "last.ckpt")["state_dict"]


def assert_same_weights(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for name in a:
        assert torch.equal(a[name], b[name]), name


def test_a_new_run_is_refused_where_a_run_is(tmp_path):
    from ganlab.config_checks import ConfigError

    train_here(tmp_path / "run", "iterations=1")
    before = checksums(tmp_path / "run")
    with pytest.raises(ConfigError, match=r"^the run directory .*run already holds another run .*: a new run needs "
                                          r"its own directory"):
        train_here(tmp_path / "run", "iterations=1", "seed=1")
    assert checksums(tmp_path / "run") == before


def test_an_exploding_run_stops_as_a_nan_run_does(tmp_path):
    from ganlab.divergence import DivergenceError

    exploding = ["iterations=10", "callbacks.checkpoint.every_n=2", "callbacks.sample_grid.every_n=1",
                 "loss.objective._target_=helpers.ExplodingLossAt", "+loss.objective.step=5"]
    with pytest.raises(DivergenceError) as error:
        train_here(tmp_path / "run", *exploding)
    message = str(error.value)
    assert message.startswith("training diverged at generator iteration 5 (discriminator step 5): loss/d = ")
    assert "(beyond divergence.max_abs_loss=1e+06)" in message
    last = tmp_path / "run" / "checkpoints" / "last.ckpt"
    assert message.endswith(f"The last good checkpoint holds 4 of 10 generator iterations; continue from it (e.g. "
                            f"with a lower learning rate added) with: python train.py ckpt_path={last}")
    assert sorted(p.name for p in last.parent.iterdir()) == ["iter_0000002.ckpt", "iter_0000004.ckpt", "last.ckpt"]
    assert saved(last)["ganlab"]["g_iter"] == 4  # nothing written after the last good checkpoint
    assert sorted(p.name for p in (tmp_path / "run" / "samples").iterdir())[-1] == "iter_0000004.png"
    assert not (tmp_path / "run" / "metrics.json").exists()
    # the bound is a setting: without it the same run trains on
    assert train_here(tmp_path / "unbounded", *exploding, "divergence.max_abs_loss=null")["iterations"] == 10


def test_training_does_not_depend_on_what_is_cached(tmp_path):
    """The classifier metric's weights and the real images' features are cached by the first run and
    read by the second: the same seed trains the same weights either way."""
    metrics = ["callbacks/metrics=classifier", f"callbacks.metrics.cache_dir={tmp_path / 'cache'}",
               "callbacks.metrics.every_n=1000", "callbacks.metrics.num_samples=64", "callbacks.metrics.scores.kid=null",
               "callbacks.metrics.scores.manifold=null", "callbacks.metrics.feature_network.max_train_images=256",
               "callbacks.metrics.feature_network.held_out=64", "iterations=3"]
    train_here(tmp_path / "without_cache", *metrics)
    cached = sorted(p.name for p in (tmp_path / "cache").iterdir())
    assert any("classifier" in name for name in cached) and len(cached) >= 2  # the network and the real features
    train_here(tmp_path / "with_cache", *metrics)
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == cached  # read, not written again
    assert_same_weights(weights(tmp_path / "without_cache"), weights(tmp_path / "with_cache"))


def test_a_max_time_stop_says_so_and_a_plain_resume_reaches_the_budget(tmp_path, caplog):
    import logging

    budget = ["iterations=4", "callbacks.checkpoint.every_n=1000"]
    train_here(tmp_path / "straight", *budget)
    run_dir = tmp_path / "stopped"
    last = run_dir / "checkpoints" / "last.ckpt"
    with caplog.at_level(logging.INFO, logger="ganlab"):
        result = train_here(run_dir, *budget, "trainer.max_time=00:00:00:00")  # every start trains one iteration
    assert result == {"iterations": 1, "budget": 4, "stopped": "trainer.max_time=00:00:00:00"}  # no "final" losses
    assert (f"stopped by trainer.max_time=00:00:00:00: 1 of 4 generator iterations done; continue with: python train.py "
            f"ckpt_path={last}") in caplog.text
    assert "finished" not in caplog.text
    starts = 1
    while "stopped" in result:  # the documented resume, as often as it takes
        result = train_here(run_dir, *budget, "trainer.max_time=00:00:00:00", f"ckpt_path={last}")
        starts += 1
    assert starts == 4 and result["iterations"] == 4 and "final/loss_d" in result
    assert '"final/loss_g"' in (run_dir / "metrics.json").read_text()
    assert_same_weights(weights(tmp_path / "straight"), weights(run_dir))


@pytest.mark.parametrize("override", ["data.batch_size=8", "loss.d_steps_per_g_step=2"])
def test_a_resume_with_other_data_units_is_refused_in_one_line(tmp_path, override):
    from ganlab.checkpoints import CheckpointError

    train_here(tmp_path / "run", "iterations=1")
    before = checksums(tmp_path / "run")
    with pytest.raises(CheckpointError) as error:
        train_here(tmp_path / "run", "iterations=2", override,
                   f"ckpt_path={tmp_path / 'run' / 'checkpoints' / 'last.ckpt'}")
    assert str(error.value).startswith(f"{override} cannot change when resuming") and "\n" not in str(error.value)
    assert checksums(tmp_path / "run") == before


def test_fast_dev_run_trains_n_iterations_and_writes_nothing(tmp_path):
    assert train_here(tmp_path / "run", "logger=tensorboard", "trainer.fast_dev_run=2") == {"iterations": 2}
    assert not [p for p in (tmp_path / "run").rglob("*") if p.is_file()] if (tmp_path / "run").exists() else True


def test_a_resume_after_kill_9_changes_none_of_the_killed_runs_files(tmp_path):
    """Killed at iteration 6, checkpointed at 4: the resumed run logs iterations 5-10 to a TensorBoard run
    of its own and writes its grids of 5 and 6 beside the killed run's, which stay as they were."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    run_dir = tmp_path / "run"
    options = [*TINY, "iterations=10", "callbacks.checkpoint.every_n=4", "callbacks.sample_grid.every_n=1",
               "callbacks.sample_grid.interpolation_rows=0"]
    process = subprocess.Popen(command("train.py", *options, f"hydra.run.dir={run_dir}",
                                       "+callbacks.pause._target_=e2e.test_reliability.PauseAt", "+callbacks.pause.at=6"),
                               cwd=REPO, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        output = []
        for line in process.stdout:
            output.append(line)
            if "PAUSED" in line:
                break
        else:
            pytest.fail("train.py ended before iteration 6:\n" + "".join(output[-60:]))
        process.kill()  # SIGKILL: no handler runs
        process.wait(timeout=TIMEOUT)
    finally:
        if process.poll() is None:
            process.kill()
    assert saved(run_dir / "checkpoints" / "last.ckpt")["ganlab"]["g_iter"] == 4
    before = checksums(run_dir)
    assert "samples/iter_0000006.png" in before

    from ganlab.train import run
    from helpers import compose_config

    overrides = [o for o in options if not o.startswith(("trainer.enable_progress_bar", "data.num_workers"))]
    run(compose_config(*overrides, "data.num_workers=0", "trainer.enable_progress_bar=false",
                       f"ckpt_path={run_dir / 'checkpoints' / 'last.ckpt'}", output_dir=run_dir))
    after = checksums(run_dir)
    assert {name: after.get(name) for name in before if not name.startswith(("checkpoints/", "train.log"))} == {
        name: digest for name, digest in before.items() if not name.startswith(("checkpoints/", "train.log"))}
    assert "samples/iter_0000005_2.png" in after and "samples/iter_0000010.png" in after
    killed = EventAccumulator(str(run_dir / "tensorboard")).Reload()
    resumed = EventAccumulator(str(run_dir / "tensorboard" / "resumed_from_iter_0000004")).Reload()
    assert [e.step for e in killed.Scalars("loss/g")] == [1, 2, 3, 4, 5, 6]  # one value per step in each run
    assert [e.step for e in resumed.Scalars("loss/g")] == [5, 6, 7, 8, 9, 10]


def test_small_bad_inputs_are_one_clear_error(tmp_path):
    """ema.decay=1.0, labels=3.5 and a directory as ckpt_path: a config error naming the key, not a
    traceback or a wrong message."""
    from hydra import compose, initialize_config_dir

    from ganlab import CONFIG_DIR
    from ganlab.checkpoints import CheckpointError
    from ganlab.config_checks import ConfigError
    from ganlab.sample import sample

    with pytest.raises(ConfigError, match=r"^ema.decay must be a number in \[0, 1\), got 1.0"):
        train_here(tmp_path / "ema", "ema=default", "ema.decay=1.0")
    with pytest.raises(CheckpointError, match=rf"^ckpt_path={tmp_path} is a directory; give a checkpoint file"):
        train_here(tmp_path / "resumed", f"ckpt_path={tmp_path}")
    from hydra.core.global_hydra import GlobalHydra

    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        cfg = compose("sample", overrides=[f"ckpt_path={tmp_path / 'x.ckpt'}", "labels=3.5"])
    with pytest.raises(ConfigError, match=r"^labels must be a class index or a list of them, e.g. labels=3 or "
                                          r"labels=\[0,1,2\], got 3.5"):
        sample(cfg)
