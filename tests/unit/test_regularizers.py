"""Regularisers and constraints against values worked out by hand, and their place in the D step."""
import pytest
import torch
from torch import nn

from ganlab.losses import WassersteinLoss
from ganlab.module import GANModule
from ganlab.networks.output import DOut
from ganlab.regularizers import GradientPenalty, R1Penalty, R2Penalty, Regularizer, WeightClip
from ganlab.step import StepPart

from helpers import ToyGenerator

SHAPE = (3, 4, 4)  # (c, h, w)


class LinearCritic(nn.Module):
    """D(x) = w . flatten(x) + b: its input gradient is w everywhere."""

    def __init__(self, w: torch.Tensor, b: float = 0.3):
        super().__init__()
        self.w = nn.Parameter(w.clone())
        self.b = nn.Parameter(torch.tensor(b))
        self.seen_y = None

    def forward(self, x, y=None):
        self.seen_y = y
        return DOut(score=x.flatten(1) @ self.w + self.b)


class QuadraticCritic(nn.Module):
    """D(x) = a * sum(x^2): input gradient 2 a x."""

    def __init__(self, a: float = 1.5):
        super().__init__()
        self.a = nn.Parameter(torch.tensor(a))

    def forward(self, x, y=None):
        return DOut(score=self.a * x.flatten(1).pow(2).sum(1))


def unit_vector(n: int, norm: float = 1.0, seed: int = 0) -> torch.Tensor:
    w = torch.randn(n, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    return (w / w.norm() * norm).float()


def batch(n: int = 8, seed: int = 1) -> torch.Tensor:
    return torch.rand(n, *SHAPE, generator=torch.Generator().manual_seed(seed)) * 2 - 1


N_IN = SHAPE[0] * SHAPE[1] * SHAPE[2]


# --- gradient penalty ---------------------------------------------------------------------------

def test_gradient_penalty_of_a_unit_norm_linear_critic_is_zero():
    critic = LinearCritic(unit_vector(N_IN))
    gp = GradientPenalty()(critic, batch(seed=1), batch(seed=2), None)
    assert gp.item() == pytest.approx(0.0, abs=1e-10)


@pytest.mark.parametrize("norm", [0.0, 0.5, 3.0])
def test_gradient_penalty_of_a_linear_critic_is_norm_minus_one_squared(norm):
    critic = LinearCritic(unit_vector(N_IN, norm))
    gp = GradientPenalty()(critic, batch(seed=1), batch(seed=2), None)
    assert gp.item() == pytest.approx((norm - 1.0) ** 2, rel=1e-5, abs=1e-6)


def test_gradient_penalty_trains_the_critic():
    # d/dw (||w|| - 1)^2 = 2 (||w|| - 1) w / ||w||: the penalty is differentiable in D's weights
    w = unit_vector(N_IN, 3.0)
    critic = LinearCritic(w)
    GradientPenalty()(critic, batch(seed=1), batch(seed=2), None).backward()
    torch.testing.assert_close(critic.w.grad, 2 * (3.0 - 1.0) * w / 3.0, rtol=1e-5, atol=1e-6)


def test_gradient_penalty_uses_per_sample_interpolates():
    # D(x) = a ||x||^2 has gradient 2 a x_hat: the value checks where the interpolates lie
    real, fake = batch(seed=1), batch(seed=2)
    critic = QuadraticCritic(1.5)
    torch.manual_seed(7)
    gp = GradientPenalty()(critic, real, fake, None)
    torch.manual_seed(7)
    eps = torch.rand(real.shape[0], 1, 1, 1)
    x_hat = eps * real + (1 - eps) * fake
    expected = ((2 * 1.5 * x_hat.flatten(1)).norm(dim=1) - 1).pow(2).mean()
    assert gp.item() == pytest.approx(expected.item(), rel=1e-5)
    assert eps.flatten().unique().numel() == real.shape[0]  # one eps per sample


def test_gradient_penalty_does_not_reach_the_inputs():
    real = batch(seed=1).requires_grad_(True)
    fake = batch(seed=2).requires_grad_(True)
    GradientPenalty()(LinearCritic(unit_vector(N_IN, 2.0)), real, fake, None).backward()
    assert real.grad is None and fake.grad is None


def test_gradient_penalty_checks_shapes():
    with pytest.raises(ValueError, match="differ"):
        GradientPenalty()(LinearCritic(unit_vector(N_IN)), batch(8), batch(4), None)


# --- R1 -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("norm", [0.0, 1.0, 2.5])
def test_r1_of_a_linear_critic_is_half_norm_squared(norm):
    critic = LinearCritic(unit_vector(N_IN, norm))
    assert R1Penalty()(critic, batch(), batch(seed=2), None).item() == pytest.approx(0.5 * norm**2, rel=1e-5, abs=1e-7)


def test_r1_is_measured_on_real_data_only():
    real = batch(seed=1)
    critic = QuadraticCritic(1.5)
    expected = 0.5 * (2 * 1.5 * real.flatten(1)).pow(2).sum(1).mean()
    for fake in (batch(seed=2), batch(seed=3) * 0.1):
        assert R1Penalty()(critic, real, fake, None).item() == pytest.approx(expected.item(), rel=1e-5)


def test_r1_passes_labels_and_trains_the_critic():
    critic = LinearCritic(unit_vector(N_IN, 2.0))
    y = torch.arange(8)
    R1Penalty()(critic, batch(), batch(seed=2), y).backward()
    assert critic.seen_y is y
    torch.testing.assert_close(critic.w.grad, critic.w.detach(), rtol=1e-5, atol=1e-6)  # d/dw 0.5||w||^2 = w


def test_penalty_forward_leaves_float16_autocast():
    seen = []

    class Probe(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(N_IN, 1)

        def forward(self, x, y=None):
            out = self.lin(x.flatten(1)).squeeze(1)
            seen.append(out.dtype)
            return DOut(score=out)

    with torch.autocast("cpu", dtype=torch.float16):
        R1Penalty()(Probe(), batch(), batch(seed=2), None)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        R1Penalty()(Probe(), batch(), batch(seed=2), None)
    assert seen == [torch.float32, torch.bfloat16]


# --- R2 -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("norm", [0.0, 1.0, 2.5])
def test_r2_of_a_linear_critic_is_half_norm_squared(norm):
    critic = LinearCritic(unit_vector(N_IN, norm))
    assert R2Penalty()(critic, batch(), batch(seed=2), None).item() == pytest.approx(0.5 * norm**2, rel=1e-5, abs=1e-7)


def test_r2_is_measured_on_generated_data_only():
    fake = batch(seed=2)
    critic = QuadraticCritic(1.5)
    expected = 0.5 * (2 * 1.5 * fake.flatten(1)).pow(2).sum(1).mean()
    for real in (batch(seed=1), batch(seed=3) * 0.1):
        assert R2Penalty()(critic, real, fake, None).item() == pytest.approx(expected.item(), rel=1e-5)
    assert R2Penalty()(critic, fake, batch(seed=1), None).item() != pytest.approx(expected.item(), rel=1e-3)


def test_r2_trains_the_critic_and_not_the_generator():
    critic = LinearCritic(unit_vector(N_IN, 2.0))
    fake = batch(seed=2).requires_grad_(True)  # as if it came from G
    y = torch.arange(8)
    R2Penalty()(critic, batch(), fake, y).backward()
    assert critic.seen_y is y and fake.grad is None
    torch.testing.assert_close(critic.w.grad, critic.w.detach(), rtol=1e-5, atol=1e-6)  # d/dw 0.5||w||^2 = w


def test_r1_plus_r2_is_r3gans_penalty():
    # R3GAN: gamma/2 (||grad D(x)||^2 + ||grad D(G(z))||^2), per sample, averaged
    real, fake, gamma = batch(seed=1), batch(seed=2), 0.05
    critic = QuadraticCritic(0.7)
    ours = gamma * R1Penalty()(critic, real, fake, None) + gamma * R2Penalty()(critic, real, fake, None)
    grad_real, grad_fake = 2 * 0.7 * real.flatten(1), 2 * 0.7 * fake.flatten(1)
    reference = (gamma / 2 * (grad_real.pow(2).sum(1) + grad_fake.pow(2).sum(1))).mean()
    assert ours.item() == pytest.approx(reference.item(), rel=1e-5)


# --- weight / every_n validation --------------------------------------------------------------

@pytest.mark.parametrize("cls", [GradientPenalty, R1Penalty, R2Penalty])
def test_regularisers_validate_weight_and_every_n(cls):
    reg = cls(weight=2.0, every_n=16)
    assert isinstance(reg, Regularizer) and (reg.weight, reg.every_n) == (2.0, 16)
    with pytest.raises(ValueError, match="every_n"):
        cls(weight=1.0, every_n=0)
    with pytest.raises(ValueError, match="weight"):
        cls(weight=-1.0)


# --- weight clipping ----------------------------------------------------------------------------

def test_weight_clip_clamps_every_parameter_in_place():
    net = nn.Sequential(nn.Linear(4, 8), nn.LayerNorm(8), nn.Linear(8, 1))
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.linspace(-1, 1, p.numel()).view_as(p))
    ids = [id(p) for p in net.parameters()]
    inside = [p.detach().abs() <= 0.01 for p in net.parameters()]
    originals = [p.detach().clone() for p in net.parameters()]
    WeightClip(0.01)(net)
    assert [id(p) for p in net.parameters()] == ids
    for p, keep, orig in zip(net.parameters(), inside, originals):
        assert p.abs().max().item() <= 0.01
        torch.testing.assert_close(p[keep], orig[keep])  # values inside the box are untouched
        assert p.requires_grad


def test_weight_clip_validates():
    with pytest.raises(ValueError, match="clip"):
        WeightClip(0.0)


class TinyCritic(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(16, 8), nn.LeakyReLU(0.2), nn.Linear(8, 1))

    def forward(self, x, y=None):
        return DOut(score=self.net(x).squeeze(1))


class CriticAfterEachStep(StepPart):
    """Records D's parameters after each D step (the constraints listed before it have run by then)."""

    def __init__(self):
        self.after = []

    def discriminator_step_done(self, step):
        self.after.append([p.detach().clone() for p in step.discriminator.parameters()])
        return {}


def test_after_a_wgan_clip_critic_step_every_parameter_lies_in_the_box(fit):
    c = 0.01
    probe = CriticAfterEachStep()
    torch.manual_seed(0)
    module = GANModule(
        generator=ToyGenerator(), discriminator=TinyCritic(), loss=WassersteinLoss(),
        generator_optimizer=lambda p: torch.optim.RMSprop(p, lr=0.5),
        discriminator_optimizer=lambda p: torch.optim.RMSprop(p, lr=0.5),  # steps far outside the box
        parts={"weight_clip": WeightClip(c), "probe": probe}, d_steps_per_g_step=5, iterations=1)
    before = [p.detach().clone() for p in module.discriminator.parameters()]
    fit(module)
    assert len(probe.after) == 5
    assert not any(torch.equal(b, p) for b, p in zip(before, probe.after[0]))  # the first step moved every one
    for after in probe.after:  # and after every critic step each lies in the box
        assert all(p.abs().max().item() <= c + 1e-12 for p in after)
        assert any(p.abs().max().item() == pytest.approx(c) for p in after)