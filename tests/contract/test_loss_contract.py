"""The contract every conf/loss/*.yaml meets, run automatically for each new loss file, and every
model x loss (x conditioning) combination building and training a few iterations."""
from itertools import product
from pathlib import Path

import pytest
import pytorch_lightning as pl
import torch
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from torch.utils.data import DataLoader, TensorDataset

from ganlab.train import build_module

CONF = Path(__file__).resolve().parents[2] / "conf"
SHAPE = (1, 16, 16)
NUM_CLASSES = 3


def options(group: str) -> list[str]:
    return sorted(p.stem for p in (CONF / group).glob("*.yaml"))


SMALL = {  # tiny widths per model family, so every combination runs in well under a second
    "dcgan": ["model.generator.width=8", "model.discriminator.width=8"],
    "mlp": ["model.generator.hidden=[32,32]", "model.discriminator.hidden=[32,16]"],
    "resnet": ["model.generator.width=8", "model.discriminator.width=8"],
}


def make_module(model: str, loss: str, conditioning: str = "none", *extra: str):
    GlobalHydra.instance().clear()
    overrides = [f"model={model}", f"loss={loss}", f"conditioning={conditioning}", "model.latent_dim=8",
                 "paths.output_dir=unused", *SMALL.get(model, []), *extra]
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose("train", overrides=overrides)
    return build_module(cfg, image_shape=SHAPE, num_classes=NUM_CLASSES), cfg


def images(n: int, low: float, high: float) -> torch.Tensor:
    return torch.empty(n, *SHAPE).uniform_(low, high)


@pytest.fixture(params=options("loss"))
def loss_module(request):
    torch.manual_seed(0)
    module, _ = make_module("dcgan", request.param)
    module.manual_backward = lambda loss: loss.backward()  # no Trainer attached
    return module


def test_losses_are_finite_scalars(loss_module):
    real, z = images(8, -1, 1), torch.randn(8, 8)
    fake = loss_module.generator(z)
    d_loss = loss_module.loss.discriminator_loss(loss_module.discriminator(real), loss_module.discriminator(fake))
    g_loss = loss_module.loss.generator_loss(loss_module.discriminator(fake))
    for loss in (d_loss, g_loss):
        assert loss.dim() == 0 and torch.isfinite(loss)


def test_d_loss_reaches_only_d_and_g_loss_only_g(loss_module):
    g_opt, d_opt = loss_module.configure_optimizers()
    g_params, d_params = list(loss_module.generator.parameters()), list(loss_module.discriminator.parameters())
    g_before = [p.detach().clone() for p in g_params]
    fake = loss_module.generator(torch.randn(8, 8))
    loss_module._discriminator_step(d_opt, images(8, -1, 1), fake.detach(), None)  # with regularisers
    assert all(p.grad is None for p in g_params)
    assert all(torch.equal(a, p) for a, p in zip(g_before, g_params))

    d_before = [p.detach().clone() for p in d_params]
    loss_module._generator_step(g_opt, loss_module.generator(torch.randn(8, 8)), None)
    assert all(torch.equal(a, p) for a, p in zip(d_before, d_params))
    assert any(not torch.equal(a, p) for a, p in zip(g_before, g_params))


def test_a_trained_discriminator_scores_real_as_real(loss_module):
    """After D learns to tell two distributions apart, the D loss rises when real and fake swap."""
    d_opt = torch.optim.Adam(loss_module.discriminator.parameters(), lr=1e-3)
    real, fake = images(16, 0.3, 1), images(16, -1, -0.3)
    for _ in range(25):
        loss_module._discriminator_step(d_opt, real, fake, None)
    d = loss_module.discriminator.eval()
    with torch.no_grad():
        right = loss_module.loss.discriminator_loss(d(real), d(fake))
        swapped = loss_module.loss.discriminator_loss(d(fake), d(real))
    assert right < swapped


def fit(module, iterations: int = 2) -> pl.Trainer:
    module.iterations = iterations
    n = 8 * module.d_steps_per_g_step * iterations
    data = TensorDataset(images(n, -1, 1), torch.randint(0, NUM_CLASSES, (n,)))
    trainer = pl.Trainer(accelerator="cpu", max_epochs=-1, logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False)
    trainer.fit(module, DataLoader(data, batch_size=8, drop_last=True))
    return trainer


@pytest.mark.parametrize("model, loss", list(product(options("model"), options("loss"))))
def test_every_model_and_loss_trains(model, loss):
    torch.manual_seed(0)
    module, cfg = make_module(model, loss)
    fit(module)
    assert module.g_iter == 2 and module.d_iter == 2 * cfg.loss.d_steps_per_g_step
    assert all(torch.isfinite(p).all() for p in module.parameters())


@pytest.mark.parametrize("model, loss, conditioning",
                         list(product(options("model"), options("loss"), ["concat", "projection", "acgan"])))
def test_every_conditioning_composes_and_steps(model, loss, conditioning):
    torch.manual_seed(0)
    module, _ = make_module(model, loss, conditioning)
    module.manual_backward = lambda loss: loss.backward()
    g_opt, d_opt = module.configure_optimizers()
    y = torch.randint(0, NUM_CLASSES, (4,))
    fake = module.generator(torch.randn(4, 8), y)
    assert fake.shape == (4, *SHAPE)
    out = module.discriminator(fake, y)
    assert out.score.shape == (4,)
    if conditioning == "acgan":
        assert out.class_logits.shape == (4, NUM_CLASSES)
    module._discriminator_step(d_opt, images(4, -1, 1), fake.detach(), y)
    module._generator_step(g_opt, fake, y)
    assert all(torch.isfinite(p).all() for p in module.parameters())
