"""When things go wrong, train.py run as a user runs it (subprocesses).

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
from ganlab.losses import NonSaturatingLoss

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

class NaNLossAt(NonSaturatingLoss):
    """The GAN loss, except that D's loss is NaN at discriminator step `step` (selected with
    loss.objective._target_=e2e.test_reliability.NaNLossAt +loss.objective.step=K)."""

    def __init__(self, step: int, **kwargs):
        super().__init__(**kwargs)
        self.step, self.calls = step, 0

    def discriminator_loss(self, real, fake):
        self.calls += 1
        loss = super().discriminator_loss(real, fake)
        return loss * float("nan") if self.calls == self.step else loss


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
                                 "loss.objective._target_=e2e.test_reliability.NaNLossAt", "+loss.objective.step=5",
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
    assert not (tmp / "zero_latent_dim" / "tensorboard").exists()


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
    assert f"resume with ckpt_path={run_dir / 'checkpoints' / 'last.ckpt'}" in output
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
