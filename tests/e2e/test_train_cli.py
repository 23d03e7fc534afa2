"""train.py and sample.py run as a user runs them: subprocesses, tiny budgets, real artefacts."""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

REPO = Path(__file__).resolve().parents[2]

# A tiny DCGAN on the bundled digits; every run writes below the test's own tmp directory.
TINY = [
    "data=digits", "trainer=cpu", "data.batch_size=16", "data.num_workers=0", "data.image_size=28",
    "model.latent_dim=8", "model.generator.width=8", "model.discriminator.width=8",
    "trainer.enable_progress_bar=false", "log_every_n=1",
]


def run_script(script: str, *overrides: str, check: bool = True) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    result = subprocess.run([sys.executable, script, *overrides], cwd=REPO, env=env,
                            capture_output=True, text=True, timeout=300)
    if check and result.returncode != 0:
        raise AssertionError(f"{script} failed ({result.returncode}):\n{result.stdout[-3000:]}\n{result.stderr[-5000:]}")
    return result


def train(run_dir: Path, *overrides: str) -> subprocess.CompletedProcess:
    return run_script("train.py", *TINY, f"hydra.run.dir={run_dir}", *overrides)


def generator_weights(ckpt: Path) -> dict[str, torch.Tensor]:
    state = torch.load(ckpt, map_location="cpu", weights_only=False)["state_dict"]
    return {k: v for k, v in state.items() if k.startswith("generator.")}


def test_train_writes_tensorboard_checkpoint_and_grid(tmp_path):
    run_dir = tmp_path / "run"
    train(run_dir, "iterations=4", "callbacks.checkpoint.every_n=2", "callbacks.sample_grid.every_n=2")
    assert list((run_dir / "tensorboard").glob("events.out.tfevents.*"))
    ckpts = sorted(p.name for p in (run_dir / "checkpoints").iterdir())
    assert ckpts == ["iter_0000002.ckpt", "iter_0000004.ckpt", "last.ckpt"]
    grids = sorted(p.name for p in (run_dir / "samples").iterdir())
    assert grids == ["iter_0000002.png", "iter_0000004.png"]
    assert Image.open(run_dir / "samples" / "iter_0000004.png").size[0] > 28
    checkpoint = torch.load(run_dir / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)
    assert checkpoint["ganlab"]["g_iter"] == 4
    assert (run_dir / ".hydra" / "config.yaml").is_file()


def test_tensorboard_scalars_count_generator_iterations(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    run_dir = tmp_path / "run"
    train(run_dir, "iterations=3", "loss.d_steps_per_g_step=2")
    events = EventAccumulator(str(run_dir / "tensorboard")).Reload()
    scalars = events.Tags()["scalars"]
    for tag in ("loss/d", "loss/g", "d/real", "d/fake", "lr/g", "lr/d"):
        assert tag in scalars, f"{tag} not logged; have {scalars}"
    assert [e.step for e in events.Scalars("loss/g")] == [1, 2, 3]
    assert [e.step for e in events.Images("samples")] == [3]


@pytest.mark.slow  # ~22 s; the default tier's resume equality: test_reliability's SIGTERM case
def test_resume_equals_straight_run(tmp_path):
    straight, split = tmp_path / "straight", tmp_path / "split"
    common = ["callbacks.checkpoint.every_n=1000", "callbacks.sample_grid.every_n=1000", "data.batch_size=64"]
    # 1797 digits / batch 64 = 28 batches an epoch: 20 + 20 iterations cross an epoch boundary,
    # and the resume point is mid-epoch.
    train(straight, "iterations=40", *common)
    train(split, "iterations=20", *common)
    # the newest state: continues in the checkpoint's run directory (hydra.run.dir= would make a branch there)
    run_script("train.py", *TINY, "iterations=40", f"ckpt_path={split / 'checkpoints' / 'last.ckpt'}", *common)
    resumed = torch.load(split / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)
    assert resumed["ganlab"]["g_iter"] == 40
    a, b = generator_weights(straight / "checkpoints" / "last.ckpt"), generator_weights(split / "checkpoints" / "last.ckpt")
    for name in a:
        torch.testing.assert_close(a[name], b[name], rtol=1e-4, atol=1e-5, msg=name)
    # the resumed run appended to the same TensorBoard run, its steps continuing where they stopped
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(split / "tensorboard"), size_guidance={"scalars": 0}).Reload()
    assert sorted(e.step for e in events.Scalars("loss/g")) == list(range(1, 41))


@pytest.mark.slow  # ~25 s; sample.py as a command in the default tier: tests/e2e/test_conditional_cli.py
def test_sample_writes_npz_pngs_and_grids(tmp_path):
    run_dir = tmp_path / "run"
    train(run_dir, "iterations=2")
    ckpt = run_dir / "checkpoints" / "last.ckpt"
    run_script("sample.py", f"ckpt_path={ckpt}", "num_samples=10", f"out={tmp_path / 'x.npz'}")
    x = np.load(tmp_path / "x.npz")["x"]
    assert x.shape == (10, 28, 28, 1) and x.dtype == np.uint8
    assert (tmp_path / "x_grid.png").is_file()
    run_script("sample.py", f"ckpt_path={ckpt}", "num_samples=5", f"out={tmp_path / 'pngs'}")
    assert sorted(p.name for p in (tmp_path / "pngs").iterdir()) == [f"{i:06d}.png" for i in range(5)]
    assert Image.open(tmp_path / "pngs" / "000000.png").size == (28, 28)
    assert (tmp_path / "pngs_grid.png").is_file()
    # same seed, same images
    run_script("sample.py", f"ckpt_path={ckpt}", "num_samples=10", f"out={tmp_path / 'y.npz'}")
    np.testing.assert_array_equal(x, np.load(tmp_path / "y.npz")["x"])


def test_a_missing_checkpoint_is_one_clear_message_before_hydra(tmp_path):
    # (checked before Hydra creates a run directory; bad values raised after composing: test_bad_input.py)
    result = run_script("train.py", *TINY, f"hydra.run.dir={tmp_path}", "ckpt_path=/nonexistent/last.ckpt", check=False)
    assert result.returncode != 0
    assert "/nonexistent/last.ckpt: no such file" in result.stderr
    assert "Traceback" not in result.stderr


def test_resume_needs_only_the_checkpoint(tmp_path):
    """`train.py ckpt_path=...` alone rebuilds the run (data, model, loss... from the run's own
    overrides); the command line's overrides apply on top (here: a longer budget)."""
    run_dir = tmp_path / "run"
    train(run_dir, "iterations=3", "loss=lsgan")
    result = run_script("train.py", f"ckpt_path={run_dir / 'checkpoints' / 'last.ckpt'}", "iterations=5")
    assert "resuming" in result.stdout + result.stderr
    checkpoint = torch.load(run_dir / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)
    assert checkpoint["ganlab"]["g_iter"] == 5
    assert checkpoint["ganlab_run"]["config"]["loss"]["objective"]["_target_"].endswith("LeastSquaresLoss")
    assert "iterations=5" in checkpoint["ganlab_run"]["overrides"]  # a second resume keeps them all
    assert "data=digits" in checkpoint["ganlab_run"]["overrides"]
