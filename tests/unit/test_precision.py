"""Mixed precision: every loss trains under bf16-mixed on the CPU; the gradient penalty survives
float16 autocast; the float16 GradScaler serves both optimisers of the manual step.

float16 AMP (`trainer.precision=16-mixed`) is a GPU setting (Lightning turns it into bf16-mixed
on the CPU). Its loss-scaling logic is the same on every device, so the tests below pass
Lightning's MixedPrecision("16-mixed", "cpu") plugin explicitly to exercise it here; float16
kernels, speed and NaN behaviour on a real GPU are not covered by the CPU suite.
"""
from pathlib import Path

import pytest
import pytorch_lightning as pl
import torch
from pytorch_lightning.plugins.precision import MixedPrecision
from torch import nn

from ganlab import CONFIG_DIR
from ganlab.losses import WassersteinLoss
from ganlab.module import GANModule
from ganlab.networks import DOut
from ganlab.regularizers import GradientPenalty, R1Penalty
from ganlab.build import build_module

from helpers import ToyData, ToyGenerator, compose_config, fit_module

CONF = CONFIG_DIR
IMAGE_SHAPE = (1, 8, 8)
LOSSES = sorted(p.stem for p in (CONF / "loss").glob("*.yaml"))


def tiny_module(loss: str, model: str, tmp_path: Path) -> GANModule:
    size = {"mlp": ["model.generator.hidden=[16,16]", "model.discriminator.hidden=[16]"],
            "dcgan": ["model.generator.width=8", "model.discriminator.width=8"]}[model]
    cfg = compose_config(f"loss={loss}", f"model={model}", "model.latent_dim=8", *size, output_dir=tmp_path)
    return build_module(cfg, image_shape=IMAGE_SHAPE, num_classes=0)


def fit(module: GANModule, iterations: int, **trainer_kwargs) -> pl.Trainer:
    """32 random images (n, 1, 8, 8) in batches of 8, k per iteration as the module asks."""
    module.iterations = iterations
    data = ToyData(n=32, side=IMAGE_SHAPE[1], batch_size=8, batches_per_iteration=module.d_steps_per_g_step)
    return fit_module(module, data, seed=None, **trainer_kwargs)


def snapshot(module: nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in module.parameters()]


def any_changed(before: list[torch.Tensor], module: nn.Module) -> bool:
    return any(not torch.equal(b, p) for b, p in zip(before, module.parameters()))


# every loss with the MLP; the convolutional family with a saturating and a Wasserstein loss
BF16_CASES = [(loss, "mlp") for loss in LOSSES] + [("gan", "dcgan"), ("wgan_gp", "dcgan")]


@pytest.mark.parametrize("loss, model", BF16_CASES)
def test_every_loss_trains_under_bf16_mixed(tmp_path, loss, model):
    module = tiny_module(loss, model, tmp_path)
    g_before, d_before = snapshot(module.generator), snapshot(module.discriminator)
    trainer = fit(module, iterations=2, precision="bf16-mixed")
    assert module.g_iter == 2
    for name in ("loss_d", "loss_g"):
        assert torch.isfinite(trainer.callback_metrics[name]), (name, trainer.callback_metrics)
    # (not every tensor: a Wasserstein or hinge critic's output bias has a zero gradient)
    assert any_changed(g_before, module.generator), "the generator did not move"
    assert any_changed(d_before, module.discriminator), "the discriminator did not move"
    # autocast computes in bfloat16, the weights (and the optimiser state) stay float32
    assert {p.dtype for p in module.parameters()} == {torch.float32}


class SmallCritic(nn.Module):
    """A norm-free critic whose input gradients are small (~1e-6): in float16 they underflow."""

    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(64, 32), nn.Tanh(), nn.Linear(32, 1))
        with torch.no_grad():
            self.net[1].weight.mul_(1e-3)
            self.net[3].weight.mul_(1e-3)

    def forward(self, x, y=None):
        return DOut(score=self.net(x).squeeze(1))


def real_and_fake() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(2)
    real = torch.rand(16, *IMAGE_SHAPE, generator=g) * 2 - 1  # (16, 1, 8, 8)
    fake = (torch.rand(16, *IMAGE_SHAPE, generator=g) * 2 - 1).half()
    return real, fake


def penalty_and_grads(penalty, critic, real, fake, autocast_dtype=None, scaler=None):
    """The penalty's value and d penalty / d critic parameters, computed as the training step does:
    inside autocast when asked, the backward through the scaler when one is given."""
    critic.zero_grad(set_to_none=True)
    torch.manual_seed(0)  # the same interpolation points every call
    with torch.autocast("cpu", dtype=autocast_dtype, enabled=autocast_dtype is not None):
        value = penalty(critic, real, fake, None)
    (scaler.scale(value) if scaler is not None else value).backward()
    grads = [torch.zeros_like(p) if p.grad is None else p.grad.detach().clone() for p in critic.parameters()]
    if scaler is not None:
        inv = 1.0 / scaler.get_scale()
        grads = [g * inv for g in grads]
    return value.detach().float(), grads


@pytest.mark.parametrize("penalty", [GradientPenalty(), R1Penalty()], ids=["gradient_penalty", "r1"])
def test_penalty_under_float16_autocast_matches_float32(penalty):
    torch.manual_seed(1)
    critic = SmallCritic()
    real, fake = real_and_fake()
    ref_value, ref_grads = penalty_and_grads(penalty, critic, real, fake.float())
    # G's output under float16 autocast is float16
    value, grads = penalty_and_grads(penalty, critic, real, fake, torch.float16,
                                     torch.amp.GradScaler("cpu", init_scale=2.0**16))
    torch.testing.assert_close(value, ref_value, rtol=1e-4, atol=0)
    assert all(ref.abs().max() > 0 for ref in ref_grads[:-1])  # (the output bias has no input gradient)
    for g, ref in zip(grads, ref_grads):
        torch.testing.assert_close(g, ref, rtol=1e-3, atol=1e-3 * ref.abs().max().item())


def test_penalty_in_float16_would_underflow(monkeypatch):
    """Why the penalty's forward leaves float16 autocast: in float16 these input gradients vanish."""
    import contextlib

    import ganlab.regularizers.base as base

    monkeypatch.setattr(base, "_no_float16_autocast", lambda device_type: contextlib.nullcontext())
    torch.manual_seed(1)
    critic = SmallCritic()
    real, fake = real_and_fake()
    _, ref_grads = penalty_and_grads(R1Penalty(), critic, real, fake.float())
    _, grads = penalty_and_grads(R1Penalty(), critic, real, fake, torch.float16,
                                 torch.amp.GradScaler("cpu", init_scale=2.0**16))
    assert any(not torch.allclose(g, ref, rtol=1e-1, atol=0) for g, ref in zip(grads, ref_grads))


def test_penalty_under_bfloat16_autocast_is_close_to_float32():
    torch.manual_seed(1)
    critic = SmallCritic()
    real, fake = real_and_fake()
    ref_value, ref_grads = penalty_and_grads(GradientPenalty(), critic, real, fake.float())
    value, grads = penalty_and_grads(GradientPenalty(), critic, real, fake.float(), torch.bfloat16)
    torch.testing.assert_close(value, ref_value, rtol=2e-2, atol=1e-6)
    for g, ref in zip(grads, ref_grads):
        torch.testing.assert_close(g, ref, rtol=5e-2, atol=2e-2 * ref.abs().max().item())


def wgan_gp_module() -> GANModule:
    torch.manual_seed(0)
    return GANModule(ToyGenerator(side=8, latent_dim=8, hidden=32), SmallCritic(), WassersteinLoss(),
                     generator_optimizer=lambda p: torch.optim.SGD(p, lr=1e-2),
                     discriminator_optimizer=lambda p: torch.optim.SGD(p, lr=1e-2),
                     parts={"gradient_penalty": GradientPenalty()}, iterations=3, log_every_n=1)


def test_float16_grad_scaler_serves_both_optimisers():
    """A float16 run follows the float32 run closely: each optimiser steps on unscaled gradients.

    (The initial scale is 2**10 here: with the default 2**16 the gradient reaching a float16 loss is
    65536 > float16's maximum, so the first step overflows and is skipped, as AMP intends.)"""
    reference = wgan_gp_module()
    fit(reference, iterations=3, precision="32-true")
    module = wgan_gp_module()
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0**10)
    fit(module, iterations=3, plugins=[MixedPrecision("16-mixed", "cpu", scaler=scaler)])
    assert scaler.get_scale() == 2.0**10  # no overflow, no skipped step
    for p, ref in zip(module.parameters(), reference.parameters()):
        torch.testing.assert_close(p, ref, rtol=1e-2, atol=1e-4)


def test_float16_overflow_skips_only_that_players_step():
    """An overflow in D's gradients skips D's step and halves the scale; G's step still happens."""
    module = wgan_gp_module()
    first = next(module.discriminator.parameters())
    handle = first.register_hook(lambda grad: torch.full_like(grad, float("inf")))
    g_before, d_before = snapshot(module.generator), snapshot(module.discriminator)

    trainer = fit(module, iterations=1, plugins=[MixedPrecision("16-mixed", "cpu")])
    handle.remove()
    assert all(torch.equal(b, p) for b, p in zip(d_before, module.discriminator.parameters()))
    assert any_changed(g_before, module.generator)
    assert trainer.precision_plugin.scaler.get_scale() == 2.0**15
