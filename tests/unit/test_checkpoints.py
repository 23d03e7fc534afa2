"""Checkpoints, in process: writes are atomic (a crash or a full disk mid-save leaves the previous file
intact), NaN weights are never saved, and a checkpoint given by the user that cannot be used is one
clear message (resuming: tests/unit/test_resume.py)."""
import math
from pathlib import Path

import pytest
import pytorch_lightning as pl
import torch
from omegaconf import OmegaConf

from ganlab.callbacks.iteration_checkpoint import IterationCheckpoint, save_atomically
from ganlab.checkpoints import CheckpointError, check_resumable, load_checkpoint
from ganlab.divergence import DivergenceError
from ganlab.build import build_module

from helpers import compose_config as compose_train
from helpers import fit_module, make_toy_module


toy_module = make_toy_module  # toy networks, the GAN loss, Adam, 10 iterations


def fit(module, callbacks=()) -> pl.Trainer:
    return fit_module(module, callbacks=callbacks)  # 64 images, batches of 8


def saved(path: Path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=False)


# --- atomic checkpoint writes --------------------------------------------------------------------

@pytest.fixture
def trained(tmp_path):
    """A trainer after 4 iterations, with last.ckpt written at iteration 4."""
    module = toy_module(iterations=4)
    trainer = fit(module, [IterationCheckpoint(str(tmp_path), every_n=1000)])
    return trainer, module, tmp_path / "last.ckpt"


def test_crash_mid_save_leaves_last_checkpoint_intact(trained, monkeypatch):
    trainer, module, last = trained
    good = last.read_bytes()
    io = trainer.strategy.checkpoint_io

    def crash_half_way(checkpoint, path, storage_options=None):
        Path(path).write_bytes(good[: len(good) // 2])  # a truncated file, then the process "dies"
        raise KeyboardInterrupt("simulated crash mid-save")

    with torch.no_grad():
        module.generator.net[0].bias.add_(1.0)  # newer weights, not yet saved
    monkeypatch.setattr(io, "save_checkpoint", crash_half_way)
    with pytest.raises(KeyboardInterrupt):
        save_atomically(trainer, last)
    assert last.read_bytes() == good  # untouched
    assert saved(last)["ganlab"]["g_iter"] == 4
    monkeypatch.undo()
    assert save_atomically(trainer, last)  # the stale .tmp does not get in the way
    assert not list(last.parent.glob("*.tmp"))
    torch.testing.assert_close(saved(last)["state_dict"]["generator.net.0.bias"], module.generator.net[0].bias)


def test_failed_write_is_a_clear_error_and_cleans_up(trained, monkeypatch):
    trainer, _, last = trained
    good = last.read_bytes()

    def disk_full(checkpoint, path, storage_options=None):
        Path(path).write_bytes(b"partial")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(trainer.strategy.checkpoint_io, "save_checkpoint", disk_full)
    with pytest.raises(CheckpointError, match="No space left on device.*previous one, if any, is intact"):
        save_atomically(trainer, last)
    assert last.read_bytes() == good and not list(last.parent.glob("*.tmp"))


def test_nan_weights_are_never_saved(trained):
    trainer, module, last = trained
    good = last.read_bytes()
    with torch.no_grad():
        module.discriminator.head.weight.fill_(math.nan)
    with pytest.raises(DivergenceError, match="the discriminator weights hold NaN or Inf"):
        save_atomically(trainer, last)  # a GANModule's own check names the network
    assert last.read_bytes() == good
    module.detect_divergence = False  # the writer's own guard still refuses
    assert not save_atomically(trainer, last)
    assert last.read_bytes() == good


# --- checkpoints given by the user ---------------------------------------------------------------

def test_load_checkpoint_explains_what_is_wrong(trained, tmp_path):
    _, _, last = trained
    with pytest.raises(CheckpointError, match="no such file"):
        load_checkpoint(tmp_path / "missing.ckpt")
    truncated = tmp_path / "truncated.ckpt"
    truncated.write_bytes(last.read_bytes()[:1000])
    with pytest.raises(CheckpointError, match="cannot be read as a checkpoint"):
        load_checkpoint(truncated)
    with pytest.raises(CheckpointError, match="not a ganlab checkpoint"):
        load_checkpoint(last)  # written without RunConfig: no `ganlab_run` entry
    other = tmp_path / "other.ckpt"
    torch.save({"state_dict": {}}, other)
    with pytest.raises(CheckpointError, match="not a ganlab checkpoint"):
        load_checkpoint(other)


def test_resuming_with_another_model_names_the_difference():
    cfg_small = compose_train("model=dcgan", "model.generator.width=8", "model.discriminator.width=8")
    cfg_large = compose_train("model=dcgan", "model.generator.width=16", "model.discriminator.width=8")
    small, large = (build_module(c, (1, 28, 28), 0) for c in (cfg_small, cfg_large))
    checkpoint = {"state_dict": small.state_dict(),
                  "ganlab_run": {"config": OmegaConf.to_container(cfg_small)}}
    check_resumable(checkpoint, small, "x.ckpt", OmegaConf.to_container(cfg_small))
    with pytest.raises(CheckpointError, match=r"x.ckpt does not fit .* has shape .*model.generator.width=8\b"):
        check_resumable(checkpoint, large, "x.ckpt", OmegaConf.to_container(cfg_large))


def test_a_directory_given_as_checkpoint_is_named_a_directory(tmp_path):
    """ckpt_path=<a run directory>: says it is a directory and, for a run, which file to give."""
    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "checkpoints" / "last.ckpt").write_bytes(b"")
    with pytest.raises(CheckpointError) as error:
        load_checkpoint(tmp_path)
    assert str(error.value) == (f"ckpt_path={tmp_path} is a directory; give a checkpoint file, e.g. "
                                f"<run>/checkpoints/last.ckpt (this looks like a run directory: "
                                f"ckpt_path={tmp_path / 'checkpoints' / 'last.ckpt'})")
    with pytest.raises(CheckpointError, match="no such file"):
        load_checkpoint(tmp_path / "missing.ckpt")
