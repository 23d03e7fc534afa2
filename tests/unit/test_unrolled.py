"""The unrolled GAN's look-ahead (Metz et al. 2017): it follows Adam's rule, leaves D and its
optimiser untouched, and its gradient to G is right (finite differences) and differs from k = 0."""
import copy

import pytest
import torch
from torch import nn

from ganlab.config_checks import ConfigError
from ganlab.losses import NonSaturatingLoss
from ganlab.networks.output import DOut
from ganlab.networks.pacgan import PacGANDiscriminator, PacGANGenerator
from ganlab.unrolled import lookahead


class SmoothD(nn.Module):
    """A small smooth discriminator with a BatchNorm buffer (for the finite-difference check)."""

    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(2, 6), nn.BatchNorm1d(6), nn.Tanh(), nn.Linear(6, 1))

    def forward(self, x, y=None):
        return DOut(score=self.net(x).squeeze(1))


def d_loss_on(loss, real, fake):
    return lambda d: loss.discriminator_loss(d(real), d(fake))


def warmed_up(d, real, fake, loss, steps=3):
    """D and its Adam optimiser after a few real steps (the optimiser then holds moments)."""
    opt = torch.optim.Adam(d.parameters(), lr=1e-2, betas=(0.8, 0.999))
    for _ in range(steps):
        opt.zero_grad()
        loss.discriminator_loss(d(real), d(fake)).backward()
        opt.step()
    opt.zero_grad(set_to_none=True)
    return opt


@pytest.mark.parametrize("make_d, dtype, steps", [(lambda: PacGANDiscriminator((2,), hidden=[16, 16], pieces=3),
                                                   torch.float32, 1),
                                                  (SmoothD, torch.float64, 3)])
def test_lookahead_steps_are_adam_steps(make_d, dtype, steps):
    torch.manual_seed(0)
    loss = NonSaturatingLoss()
    real, fake = torch.randn(16, 2, dtype=dtype), torch.randn(16, 2, dtype=dtype) + 1
    d = make_d().to(dtype)
    opt = warmed_up(d, real, fake, loss)
    ahead = lookahead(d, opt, steps, d_loss_on(loss, real, fake))

    stepped = copy.deepcopy(d)  # the same D, moved by torch's Adam from the same state
    stepped_opt = torch.optim.Adam(stepped.parameters(), lr=1e-2, betas=(0.8, 0.999))
    stepped_opt.load_state_dict(opt.state_dict())
    for _ in range(steps):
        stepped_opt.zero_grad()
        loss.discriminator_loss(stepped(real), stepped(fake)).backward()
        stepped_opt.step()
    x = torch.randn(32, 2, dtype=dtype)
    assert torch.allclose(ahead(x).score, stepped(x).score, atol=1e-7, rtol=1e-6)
    assert not torch.allclose(ahead(x).score, d(x).score, atol=1e-3)
    assert torch.equal(lookahead(d, opt, 0, d_loss_on(loss, real, fake))(x).score, d(x).score)


def test_unrolling_leaves_d_and_its_optimiser_unchanged_and_changes_gs_gradient():
    torch.manual_seed(0)
    loss, real = NonSaturatingLoss(), torch.randn(32, 2)
    g = PacGANGenerator((2,), hidden=[16, 16])
    d = SmoothD()
    z = torch.randn(32, 2)
    opt = warmed_up(d, real, g(z).detach(), loss)
    params = {k: v.clone() for k, v in d.state_dict().items()}  # parameters and buffers
    state = copy.deepcopy(opt.state_dict())

    def g_gradient(steps):
        g.zero_grad()
        d.requires_grad_(False)  # as during G's step
        fake = g(z)
        ahead = lookahead(d, opt, steps, d_loss_on(loss, real, fake))
        loss.generator_loss(ahead(fake)).backward()
        d.requires_grad_(True)
        return torch.cat([p.grad.flatten() for p in g.parameters()])

    plain, unrolled = g_gradient(0), g_gradient(5)
    assert torch.isfinite(unrolled).all()
    assert not torch.allclose(plain, unrolled, rtol=1e-3, atol=1e-6)
    assert all(torch.equal(params[k], v) for k, v in d.state_dict().items())
    after = opt.state_dict()
    for key, before in state["state"].items():
        for name, value in before.items():
            assert torch.equal(torch.as_tensor(value), torch.as_tensor(after["state"][key][name]))
    assert all(p.grad is None for p in d.parameters())


def test_gradient_through_the_lookahead_matches_finite_differences():
    torch.manual_seed(0)
    loss, real = NonSaturatingLoss(), torch.randn(6, 2, dtype=torch.float64)
    d = SmoothD().double()
    opt = warmed_up(d, real, torch.randn(6, 2, dtype=torch.float64), loss)
    d.eval()  # BatchNorm from its running statistics: the loss is a smooth function of the fakes

    def g_loss(fake):
        return loss.generator_loss(lookahead(d, opt, 2, d_loss_on(loss, real, fake))(fake))

    fake = torch.randn(6, 2, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(g_loss, (fake,), eps=1e-6, atol=1e-5)


def test_lookahead_needs_adam():
    d = SmoothD()
    with pytest.raises(ConfigError, match="optim=adam"):
        lookahead(d, torch.optim.RMSprop(d.parameters()), 1, lambda f: f(torch.randn(4, 2)).score.mean())


def test_unrolled_loss_trains_d_as_its_objective_and_g_through_the_lookahead():
    from ganlab.losses.unrolled import UnrolledLoss
    from ganlab.names import G_LOSS
    from ganlab.step import DiscriminatorStep, GeneratorStep

    torch.manual_seed(0)
    objective, real = NonSaturatingLoss(), torch.randn(8, 2)
    d = SmoothD()
    fake = torch.randn(8, 2, requires_grad=True)
    opt = warmed_up(d, real, fake.detach(), objective)
    d_step = DiscriminatorStep(d, real, fake.detach(), None, d(real), d(fake.detach()), index=0)
    assert torch.equal(UnrolledLoss(objective, 3).discriminator_terms(d_step)["loss/d"],
                       objective.discriminator_terms(d_step)["loss/d"])

    def g_step():
        return GeneratorStep(d, real, fake, None, d_fake=d(fake), index=0, discriminator_optimizer=opt)

    plain = objective.generator_terms(g_step())[G_LOSS]
    assert torch.equal(UnrolledLoss(objective, 0).generator_terms(g_step())[G_LOSS], plain)
    unrolled = UnrolledLoss(objective, 3).generator_terms(g_step())[G_LOSS]
    expected = objective.generator_loss(lookahead(d, opt, 3, d_loss_on(objective, real, fake))(fake))
    assert torch.allclose(unrolled, expected) and not torch.allclose(unrolled, plain)
    with pytest.raises(ConfigError, match=r"^steps must be an integer >= 0, got -1"):  # (unrolled.steps, built)
        UnrolledLoss(objective, -1)
