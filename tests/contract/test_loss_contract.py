"""The contract every conf/loss/*.yaml meets, run automatically for each new loss file, and every
model x loss (x conditioning) combination building and training a few iterations."""
from itertools import product
from pathlib import Path

import pytest
import pytorch_lightning as pl
import torch

from ganlab import CONFIG_DIR
from ganlab.step import DiscriminatorStep, StepPart, add_terms, total
from ganlab.build import build_module
from ganlab.config_checks import ConfigError

from helpers import ToyData, compose_config, fit_module, options

CONF = CONFIG_DIR
SHAPE = (1, 16, 16)
NUM_CLASSES = 3


SMALL = {  # tiny widths per model family, so every combination runs in well under a second
    "dcgan": ["model.generator.width=8", "model.discriminator.width=8"],
    "mlp": ["model.generator.hidden=[32,32]", "model.discriminator.hidden=[32,16]"],
    "resnet": ["model.generator.width=8", "model.discriminator.width=8"],
}


def make_module(model: str, loss: str, conditioning: str = "none", *extra: str):
    overrides = [f"model={model}", f"loss={loss}", f"conditioning={conditioning}", "model.latent_dim=8",
                 "paths.output_dir=unused", *SMALL.get(model, []), *extra]
    cfg = compose_config(*overrides)
    return build_module(cfg, image_shape=SHAPE, num_classes=NUM_CLASSES), cfg


def module_or_refusal(model: str, loss: str, conditioning: str = "none", *extra: str):
    """make_module's result, or (None, None) when the family cannot serve the loss or the conditioning and
    says so before building (tests/contract/test_pairing.py checks that such a refusal is a real lack)."""
    try:
        return make_module(model, loss, conditioning, *extra)
    except ConfigError as error:
        assert str(error).startswith(f"model={model} cannot serve "), error
        assert f"loss={loss}" in str(error) or f"conditioning={conditioning}" in str(error), error
        return None, None


def images(n: int, low: float, high: float) -> torch.Tensor:
    return torch.empty(n, *SHAPE).uniform_(low, high)


@pytest.fixture(params=options("loss"))
def loss_module(request):
    torch.manual_seed(0)
    module, _ = make_module("dcgan", request.param)
    return module


def test_losses_are_finite_scalars(loss_module):
    real, z = images(8, -1, 1), torch.randn(8, 8)
    fake = loss_module.generator(z)
    d_real, d_fake = loss_module.discriminator(real), loss_module.discriminator(fake)
    d_loss = loss_module.loss.discriminator_loss(d_real, d_fake)
    g_loss = loss_module.loss.generator_loss(d_fake, *([d_real] if loss_module.loss.needs_real_for_generator else []))
    for loss in (d_loss, g_loss):
        assert loss.dim() == 0 and torch.isfinite(loss)


class PlayerProbe(StepPart):
    """Records, after each D step and at the G step, the players' weights and G's gradients."""

    def __init__(self, module):
        self.module, self.events = module, []

    def discriminator_step_done(self, step):
        g, d = self.module.generator, self.module.discriminator
        self.events.append((snapshot(g), snapshot(d), [p.grad for p in g.parameters()]))
        return {}


def snapshot(network) -> list[torch.Tensor]:
    return [p.detach().clone() for p in network.parameters()]


def test_d_loss_reaches_only_d_and_g_loss_only_g(loss_module):
    probe = PlayerProbe(loss_module)
    loss_module.parts["probe"] = probe  # the last part: after the constraints
    g_before = snapshot(loss_module.generator)
    fit(loss_module, iterations=1)  # every D step with the loss's regularisers and constraints, then G's
    for g, _, g_grads in probe.events:
        assert all(torch.equal(a, p) for a, p in zip(g_before, g))
        assert all(grad is None for grad in g_grads)
    _, d_after_d_steps, _ = probe.events[-1]
    assert all(torch.equal(a, p) for a, p in zip(d_after_d_steps, loss_module.discriminator.parameters()))
    assert any(not torch.equal(a, p) for a, p in zip(g_before, loss_module.generator.parameters()))


def discriminator_loss(module, real, fake, index: int) -> torch.Tensor:
    """D's loss of one D step through the parts' contract: the terms of every part (the loss's and the
    due regularisers')."""
    d = module.discriminator
    step = DiscriminatorStep(d, real, fake, None, d_real=d(real), d_fake=d(fake), index=index)
    terms = {}
    for part in module.parts.values():
        add_terms(terms, part.discriminator_terms(step))
    return total(terms)


def test_a_trained_discriminator_scores_real_as_real(loss_module):
    """After D learns to tell two distributions apart, the D loss rises when real and fake swap."""
    d_opt = torch.optim.Adam(loss_module.discriminator.parameters(), lr=1e-3)
    real, fake = images(16, 0.3, 1), images(16, -1, -0.3)
    for index in range(25):
        d_opt.zero_grad(set_to_none=True)
        discriminator_loss(loss_module, real, fake, index).backward()
        d_opt.step()
    d = loss_module.discriminator.eval()
    with torch.no_grad():
        right = loss_module.loss.discriminator_loss(d(real), d(fake))
        swapped = loss_module.loss.discriminator_loss(d(fake), d(real))
    assert right < swapped


def fit(module, iterations: int = 2, batch_size: int = 8) -> pl.Trainer:
    module.iterations = iterations
    k = module.d_steps_per_g_step
    data = ToyData(n=batch_size * k * iterations, side=SHAPE[1], batch_size=batch_size, batches_per_iteration=k,
                   num_classes=NUM_CLASSES)
    return fit_module(module, data, seed=None)


@pytest.mark.parametrize("model, loss", list(product(options("model"), options("loss"))))
def test_every_model_and_loss_trains(model, loss):
    torch.manual_seed(0)
    module, cfg = module_or_refusal(model, loss)
    if module is None:
        return
    fit(module)
    assert module.g_iter == 2 and module.d_iter == 2 * cfg.loss.d_steps_per_g_step
    assert all(torch.isfinite(p).all() for p in module.parameters())


CONDITIONINGS = ["concat", "projection", "acgan"]


def covering(models: list[str], losses: list[str], conditionings: list[str]) -> list[tuple[str, str, str]]:
    """A subset of the model x loss x conditioning product holding every (model, conditioning) pair
    and every loss at least once: the losses cycle along the pairs."""
    pairs = list(product(models, conditionings))
    return [(*pairs[i % len(pairs)][:1], losses[i % len(losses)], pairs[i % len(pairs)][1])
            for i in range(max(len(pairs), len(losses)))]


# The whole product runs in the slow tier (make test-all); the default run takes the covering subset.
REPRESENTATIVE = covering(options("model"), options("loss"), CONDITIONINGS)


@pytest.mark.parametrize("model, loss, conditioning", [
    pytest.param(*case, marks=() if case in REPRESENTATIVE else pytest.mark.slow)
    for case in product(options("model"), options("loss"), CONDITIONINGS)])
def test_every_conditioning_composes_and_steps(model, loss, conditioning):
    torch.manual_seed(0)
    module, _ = module_or_refusal(model, loss, conditioning, "loss.d_steps_per_g_step=1")  # (k: tested above)
    if module is None:
        return
    y = torch.randint(0, NUM_CLASSES, (4,))
    fake = module.generator(torch.randn(4, 8), y)
    assert fake.shape == (4, *SHAPE)
    out = module.discriminator(fake, y)
    assert out.score.shape == (4,)
    if conditioning == "acgan":
        assert out.class_logits.shape == (4, NUM_CLASSES)
    fit(module, iterations=1, batch_size=4)  # one iteration with labelled data: D's step, then G's
    assert module.g_iter == 1
    assert all(torch.isfinite(p).all() for p in module.parameters())


# Groups that change the step for any loss: each of their options (found in conf/) composes with every
# model and trains; so do the ganhacks options of the GAN loss.
STEP_GROUPS = ["regularizer", "scheduler", "instance_noise", "latent"]
GANHACKS = ["loss.objective.real_targets=[0.7,1.2]", "loss.objective.fake_targets=[0.0,0.3]",
            "loss.objective.flip_probability=0.2"]


@pytest.mark.parametrize("model, overrides", [(model, [f"{group}={option}"]) for model in options("model")
                                              for group in STEP_GROUPS for option in options(group)]
                         + [(model, GANHACKS) for model in options("model")])
def test_every_step_option_composes_with_every_model_and_trains(model, overrides):
    torch.manual_seed(0)
    module, _ = make_module(model, "gan", "none", *overrides)
    fit(module)
    assert module.g_iter == 2
    assert all(torch.isfinite(p).all() for p in module.parameters())


@pytest.mark.parametrize("loss, conditioning", [*((loss, "none") for loss in options("loss")),
                                                 ("gan", "concat"), ("gan", "projection"), ("gan", "acgan")])
def test_infogan_composes_with_every_loss_and_conditioning(loss, conditioning):
    torch.manual_seed(0)
    module, _ = make_module("dcgan", loss, conditioning, "latent=infogan")
    assert module.generator.latent_dim == module.latent.input_dim
    fit(module)
    assert module.g_iter == 2
    assert all(torch.isfinite(p).all() for p in module.parameters())
