"""GANModule: each player's step updates only that player; budgets count generator iterations."""
import pytorch_lightning as pl
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from ganlab.losses import NonSaturatingLoss
from ganlab.module import GANModule
from ganlab.networks import DOut


class ToyGenerator(nn.Module):
    latent_dim = 4

    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 1 * 4 * 4), nn.Tanh())

    def forward(self, z, y=None):
        return self.net(z).view(-1, 1, 4, 4)


class ToyDiscriminator(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Flatten(), nn.Linear(16, 8), nn.LeakyReLU(0.2))
        self.head = nn.Linear(8, 1)

    def forward(self, x, y=None):
        features = self.body(x)
        return DOut(score=self.head(features).squeeze(1), features=features)


def make_module(**kwargs) -> GANModule:
    return GANModule(
        generator=ToyGenerator(),
        discriminator=ToyDiscriminator(),
        loss=NonSaturatingLoss(),
        generator_optimizer=lambda p: torch.optim.Adam(p, lr=1e-2),
        discriminator_optimizer=lambda p: torch.optim.Adam(p, lr=1e-2),
        **kwargs,
    )


def snapshot(module: nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in module.parameters()]


def changed(before: list[torch.Tensor], module: nn.Module) -> list[bool]:
    return [not torch.equal(b, p) for b, p in zip(before, module.parameters())]


@pytest.fixture
def module_with_optimizers():
    module = make_module()
    g_opt, d_opt = module.configure_optimizers()
    module.manual_backward = lambda loss: loss.backward()  # no Trainer attached here
    return module, g_opt, d_opt


def test_discriminator_step_updates_only_d(module_with_optimizers):
    module, g_opt, d_opt = module_with_optimizers
    real = torch.rand(8, 1, 4, 4) * 2 - 1
    fake = module.generator(torch.randn(8, 4))
    g_before, d_before = snapshot(module.generator), snapshot(module.discriminator)
    module._discriminator_step(d_opt, real, fake.detach(), None)
    assert not any(changed(g_before, module.generator))
    assert all(changed(d_before, module.discriminator))
    assert all(p.grad is None for p in module.generator.parameters())


def test_generator_step_updates_only_g(module_with_optimizers):
    module, g_opt, d_opt = module_with_optimizers
    fake = module.generator(torch.randn(8, 4))
    g_before, d_before = snapshot(module.generator), snapshot(module.discriminator)
    module._generator_step(g_opt, fake, None)
    assert all(changed(g_before, module.generator))
    assert not any(changed(d_before, module.discriminator))
    # D's parameters were frozen for G's backward and are trainable again afterwards
    assert all(p.grad is None for p in module.discriminator.parameters())
    assert all(p.requires_grad for p in module.discriminator.parameters())


def fit(module: GANModule, n_images: int = 64, batch_size: int = 8) -> pl.Trainer:
    data = TensorDataset(torch.rand(n_images, 1, 4, 4) * 2 - 1, torch.zeros(n_images, dtype=torch.long))
    trainer = pl.Trainer(accelerator="cpu", max_epochs=-1, logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False)
    trainer.fit(module, DataLoader(data, batch_size=batch_size, shuffle=True, drop_last=True))
    return trainer


@pytest.mark.parametrize("d_steps", [1, 3, 5])
def test_budget_counts_generator_iterations(d_steps):
    module = make_module(d_steps_per_g_step=d_steps, iterations=7)
    trainer = fit(module)  # 8 batches per epoch: the budget spans several epochs
    g_opt, d_opt = module.optimizers(use_pl_optimizer=False)
    g_steps = {int(s["step"]) for s in g_opt.state.values()}
    d_steps_taken = {int(s["step"]) for s in d_opt.state.values()}
    assert module.g_iter == 7 and g_steps == {7}
    assert module.d_iter == 7 * d_steps and d_steps_taken == {7 * d_steps}
    # Lightning's global_step counts both players' optimiser steps: not the budget's unit
    assert trainer.global_step == 7 * d_steps + 7


@pytest.mark.parametrize("bad", [dict(d_steps_per_g_step=0), dict(iterations=0), dict(log_every_n=0)])
def test_rejects_non_positive_counts(bad):
    with pytest.raises(ValueError, match=next(iter(bad)).split("_per")[0]):
        make_module(**bad)
