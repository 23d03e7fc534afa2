"""Divergence, in process: a NaN or Inf in a loss or a weight stops training at most one iteration later,
naming the iteration, and never reaches a checkpoint (tests/e2e/test_reliability.py: through train.py)."""
import math
from pathlib import Path

import pytest
import pytorch_lightning as pl
import torch
from torch import nn

from ganlab.callbacks.iteration_checkpoint import IterationCheckpoint
from ganlab.divergence import DivergenceError, all_finite
from ganlab.step import StepPart

from helpers import NaNLossAt, fit_module, make_toy_module


class InfWeightAt(StepPart):
    """A constraint that puts +Inf into one weight of D after its step `step`: the losses of that step
    are finite, only the weights show the divergence."""

    def __init__(self, step: int):
        self.step, self.calls = step, 0

    def discriminator_step_done(self, step) -> dict:
        self.calls += 1
        if self.calls == self.step:
            with torch.no_grad():
                step.discriminator.head.bias.fill_(math.inf)
        return {}


toy_module = make_toy_module  # toy networks, the GAN loss, Adam, 10 iterations


def fit(module, callbacks=()) -> pl.Trainer:
    return fit_module(module, callbacks=callbacks)  # 64 images, batches of 8


def saved(path: Path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=False)


def finite_state(checkpoint: dict) -> bool:
    return all(torch.isfinite(t).all() for t in checkpoint["state_dict"].values() if t.is_floating_point())


def test_all_finite_sees_nan_inf_and_buffers():
    net = nn.Sequential(nn.Linear(3, 3), nn.BatchNorm1d(3))
    assert bool(all_finite(net))
    for bad in (math.nan, math.inf, -math.inf):
        for tensor in (net[0].weight, net[1].running_var):
            original = tensor.detach().clone()
            with torch.no_grad():
                tensor.view(-1)[1] = bad
            assert not bool(all_finite(net)), (bad, tensor.shape)
            with torch.no_grad():
                tensor.copy_(original)
    large = nn.Linear(1000, 1000).half()
    with torch.no_grad():
        large.weight.fill_(60000.0)  # finite in float16, though its norm (6e7) is not: computed in float32
    assert bool(all_finite(large))


@pytest.mark.parametrize("every_n", [1, 3])
def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(tmp_path, caplog, every_n):
    checkpoints = IterationCheckpoint(str(tmp_path), every_n=every_n)
    with pytest.raises(DivergenceError) as error:
        fit(toy_module(loss=NaNLossAt(step=5)), [checkpoints])
    message = str(error.value)
    assert "diverged at generator iteration 5 " in message and "loss/d = nan" in message
    assert "not saving" not in caplog.text  # reported at the save of iteration 5, not skipped silently
    last = saved(tmp_path / "last.ckpt")
    assert last["ganlab"]["g_iter"] == 4 // every_n * every_n  # the last save before iteration 5
    assert finite_state(last)
    assert not (tmp_path / "iter_0000005.ckpt").exists() and not list(tmp_path.glob("*.tmp"))


def test_non_finite_weights_with_finite_losses_are_caught_by_the_next_losses(tmp_path):
    """Iteration 3's D losses are finite but its D step leaves an Inf weight: the G step of the same
    iteration reads it, so iteration 3 stops with that loss and the weights named."""
    checkpoints = IterationCheckpoint(str(tmp_path), every_n=2)
    with pytest.raises(DivergenceError, match=r"iteration 3 .*loss/g = nan; the discriminator weights hold NaN or Inf"):
        fit(toy_module(parts={"inf_weight": InfWeightAt(step=3)}), [checkpoints])
    last = saved(tmp_path / "last.ckpt")
    assert last["ganlab"]["g_iter"] == 2 and finite_state(last)
    assert not (tmp_path / "iter_0000004.ckpt").exists()


class InfGeneratorWeightAfter(pl.Callback):
    """Puts +Inf into one weight of G at the end of generator iteration `iteration`, after its G step:
    no loss of that iteration reads it."""

    def __init__(self, iteration: int):
        self.iteration = iteration

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx) -> None:
        if module.g_iter == self.iteration:
            with torch.no_grad():
                module.generator.net[0].bias.fill_(math.inf)


@pytest.mark.parametrize("with_checkpoints", [True, False])
def test_non_finite_weights_after_the_last_step_are_reported_and_not_saved(tmp_path, with_checkpoints):
    """No later loss reads the weight broken after the last G step: the end-of-training check does."""
    callbacks = [InfGeneratorWeightAfter(10)]
    callbacks += [IterationCheckpoint(str(tmp_path), every_n=1000)] if with_checkpoints else []
    with pytest.raises(DivergenceError, match=r"iteration 10 \(discriminator step 10\): the generator weights"):
        fit(toy_module(iterations=10), callbacks)
    assert not (tmp_path / "last.ckpt").exists()


def test_a_checkpoint_checks_the_weights_itself(tmp_path):
    """A weight broken in the very iteration a checkpoint is written is caught by the save."""
    checkpoints = IterationCheckpoint(str(tmp_path), every_n=3)
    with pytest.raises(DivergenceError, match=r"iteration 3 \(discriminator step 3\): the generator weights"):
        fit(toy_module(), [InfGeneratorWeightAfter(3), checkpoints])
    assert not (tmp_path / "iter_0000003.ckpt").exists() and not (tmp_path / "last.ckpt").exists()


@pytest.mark.parametrize("with_checkpoints", [True, False])
def test_divergence_at_the_last_iteration_is_reported_and_not_saved(tmp_path, with_checkpoints):
    callbacks = [IterationCheckpoint(str(tmp_path), every_n=1000)] if with_checkpoints else []
    with pytest.raises(DivergenceError, match="iteration 10 "):
        fit(toy_module(loss=NaNLossAt(step=10), iterations=10), callbacks)
    assert not (tmp_path / "last.ckpt").exists()


def test_divergence_counts_discriminator_steps(tmp_path):
    with pytest.raises(DivergenceError, match=r"generator iteration 3 \(discriminator step 5\)"):
        fit(toy_module(loss=NaNLossAt(step=5), d_steps_per_g_step=2))


def test_a_finite_run_is_not_stopped(tmp_path):
    module = toy_module(iterations=6)
    fit(module, [IterationCheckpoint(str(tmp_path), every_n=2)])
    assert module.g_iter == 6 and saved(tmp_path / "last.ckpt")["ganlab"]["g_iter"] == 6


def test_a_loss_beyond_the_bound_is_a_divergence_and_null_means_no_bound():
    from ganlab.divergence import DivergenceMonitor

    terms = {"loss/d": torch.tensor(2e7)}
    steps = [(3, terms, terms["loss/d"])]
    bounded, unbounded = DivergenceMonitor(max_abs_loss=1e6), DivergenceMonitor(max_abs_loss=None)
    with pytest.raises(DivergenceError, match=r"generator iteration 2 \(discriminator step 3\): loss/d = 2e\+07 "
                                              r"\(beyond divergence.max_abs_loss=1e\+06\)"):
        bounded.verdict(steps, g_iter=2).raise_if_diverged({})
    unbounded.verdict(steps, g_iter=2).raise_if_diverged({})  # finite: not diverged
    DivergenceMonitor(max_abs_loss=1e8).verdict(steps, g_iter=2).raise_if_diverged({})
    from ganlab.config_checks import ConfigError

    with pytest.raises(ConfigError, match=r"^max_abs_loss must be a positive number or null \(no bound\), got 0$"):
        DivergenceMonitor(max_abs_loss=0)  # (divergence.max_abs_loss where train.py builds it: test_config_checks)
