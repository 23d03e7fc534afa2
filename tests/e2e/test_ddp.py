"""`train.py trainer=ddp_cpu`: two CPU processes (gloo) train one GAN, as a user runs it.

After a few iterations both ranks hold identical G and D weights (and buffers), draw different
noise, report the same rank-averaged losses, and only rank 0 writes artefacts. That two ranks
equal one process on the same global batch is checked in tests/unit/test_distributed.py, where the
noise can be shared (here each rank draws its own, as it should).
"""
import os
import subprocess
import sys
from pathlib import Path

import pytest
import pytorch_lightning as pl
import torch

# two training processes per test (~25 s in all): the slow tier; the same arithmetic in-process in the default
# tier: tests/unit/test_distributed.py
pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]

TINY_DDP = [
    "data=digits", "trainer=ddp_cpu", "data.batch_size=8", "data.num_workers=0", "data.image_size=28",
    "model.latent_dim=8", "model.generator.width=8", "model.discriminator.width=8",
    "++trainer.enable_progress_bar=false", "log_every_n=1",
]


class SaveRankState(pl.Callback):
    """Test helper run inside train.py (added with +callbacks.rank_state=...): each rank saves its
    weights, buffers, logged losses and the noise it would draw next."""

    def __init__(self, dirpath: str):
        self.dirpath = Path(dirpath)

    def on_train_end(self, trainer, pl_module):
        with torch.random.fork_rng(devices=[]):  # peek at the noise stream without consuming it
            next_noise = pl_module.sample_noise(4)
        torch.save({"state_dict": {k: v.detach().clone() for k, v in pl_module.state_dict().items()},
                    "losses": {k: float(v) for k, v in trainer.callback_metrics.items() if k.startswith("loss_")},
                    "next_noise": next_noise, "g_iter": pl_module.g_iter},
                   self.dirpath / f"rank{trainer.global_rank}.pt")


def train(run_dir: Path, *overrides: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    result = subprocess.run([sys.executable, "train.py", *TINY_DDP, f"hydra.run.dir={run_dir}", *overrides],
                            cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    if result.returncode != 0:
        raise AssertionError(f"train.py failed ({result.returncode}):\n{result.stdout[-3000:]}\n{result.stderr[-5000:]}")
    return result


@pytest.fixture(scope="module")
def ddp_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ddp")
    run_dir, dump_dir = tmp / "run", tmp / "ranks"
    dump_dir.mkdir()
    train(run_dir, "iterations=3", "loss.d_steps_per_g_step=2", "callbacks.checkpoint.every_n=2",
          "callbacks.sample_grid.every_n=2",
          "+callbacks.rank_state._target_=tests.e2e.test_ddp.SaveRankState", f"+callbacks.rank_state.dirpath={dump_dir}")
    ranks = [torch.load(dump_dir / f"rank{r}.pt", weights_only=False) for r in (0, 1)]
    return run_dir, ranks


def test_both_ranks_hold_identical_weights(ddp_run):
    _, (rank0, rank1) = ddp_run
    assert rank0["g_iter"] == rank1["g_iter"] == 3
    names = list(rank0["state_dict"])
    assert any(n.startswith("generator.") for n in names) and any(n.startswith("discriminator.") for n in names)
    for name in names:
        assert torch.equal(rank0["state_dict"][name], rank1["state_dict"][name]), f"{name} differs between ranks"


def test_ranks_draw_different_noise_and_log_averaged_losses(ddp_run):
    _, (rank0, rank1) = ddp_run
    assert not torch.equal(rank0["next_noise"], rank1["next_noise"])
    # each rank saw other images and noise; the logged (synced) losses are the same mean on both
    assert rank0["losses"].keys() >= {"loss_d", "loss_g"}
    assert rank0["losses"] == rank1["losses"]


def test_only_rank_zero_writes_artefacts(ddp_run):
    run_dir, (rank0, _) = ddp_run
    assert sorted(p.name for p in (run_dir / "checkpoints").iterdir()) == ["iter_0000002.ckpt", "last.ckpt"]
    assert sorted(p.name for p in (run_dir / "samples").iterdir()) == ["iter_0000002.png", "iter_0000003.png"]
    # events.out.tfevents.<time>.<host>.<pid>.<n>: one writing process
    writers = {p.name.split(".")[-2] for p in (run_dir / "tensorboard").glob("events.out.tfevents.*")}
    assert len(writers) == 1, f"TensorBoard events from several processes: {writers}"
    checkpoint = torch.load(run_dir / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)
    assert checkpoint["ganlab"]["g_iter"] == 3
    for name, value in checkpoint["state_dict"].items():
        assert torch.equal(value, rank0["state_dict"][name]), name
    assert (run_dir / "metrics.json").is_file()



@pytest.mark.slow
def test_ddp_spawn_inside_a_multirun(tmp_path):
    """Lightning cannot start popen DDP inside a Hydra multirun; spawned ranks work, one job at a time."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    sweep_dir = tmp_path / "multirun"
    result = subprocess.run([sys.executable, "train.py", "-m", *TINY_DDP, "trainer.strategy.start_method=spawn",
                             "iterations=2", "seed=0,1", f"hydra.sweep.dir={sweep_dir}"],
                            cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-5000:]
    summary = (sweep_dir / "summary.csv").read_text().splitlines()
    assert len(summary) == 3 and all(",completed," in row for row in summary[1:])
    for job in ("seed=0", "seed=1"):  # each job's directory is named by what the sweep varies
        checkpoint = torch.load(sweep_dir / job / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)
        assert checkpoint["ganlab"]["g_iter"] == 2


@pytest.mark.slow
def test_popen_ddp_inside_a_multirun_fails_each_job_with_a_clear_error(tmp_path):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    sweep_dir = tmp_path / "multirun"
    result = subprocess.run([sys.executable, "train.py", "-m", *TINY_DDP, "iterations=1", "seed=0,1",
                             f"hydra.sweep.dir={sweep_dir}"], cwd=REPO, env=env, capture_output=True, text=True,
                            timeout=600)
    assert result.returncode != 0
    assert "trainer=ddp_spawn" in result.stderr
    assert (sweep_dir / "summary.csv").read_text().count(",failed,") == 2
