"""Every adversarial loss against values worked out by hand (and gradients, where they define the loss)."""
import math

import pytest
import torch
import torch.nn.functional as F

from ganlab.losses import (
    EnergyLoss,
    HingeLoss,
    LeastSquaresLoss,
    NonSaturatingLoss,
    WassersteinLoss,
    pull_away_term,
)
from ganlab.networks.output import DOut


def scores(*values: float, requires_grad: bool = False) -> DOut:
    return DOut(score=torch.tensor(values, requires_grad=requires_grad))


ZEROS = scores(0.0, 0.0, 0.0, 0.0)


# --- gan (non-saturating / saturating) --------------------------------------------------------------

def test_non_saturating_d_loss_at_zero_logits_is_2_ln_2():
    assert NonSaturatingLoss().discriminator_loss(ZEROS, ZEROS).item() == pytest.approx(2 * math.log(2))


def test_non_saturating_d_loss_at_known_logits():
    real, fake = 2.0, -1.0
    expected = -math.log(torch.sigmoid(torch.tensor(real)).item()) - math.log(1 - torch.sigmoid(torch.tensor(fake)).item())
    loss = NonSaturatingLoss().discriminator_loss(scores(real), scores(fake))
    assert loss.item() == pytest.approx(expected, rel=1e-6)


def test_label_smoothing_moves_the_real_target():
    # real target 0.9 at logit 0: BCE = -(0.9 log 0.5 + 0.1 log 0.5) = ln 2 whatever the target,
    # so test at a logit where the target matters: l(x) = -(t log s(x) + (1 - t) log(1 - s(x)))
    x, t = 3.0, 0.9
    s = 1 / (1 + math.exp(-x))
    expected_real = -(t * math.log(s) + (1 - t) * math.log(1 - s))
    loss = NonSaturatingLoss(label_smoothing=0.1).discriminator_loss(scores(x), scores(-50.0))
    assert loss.item() == pytest.approx(expected_real, rel=1e-5)
    assert loss.item() > NonSaturatingLoss().discriminator_loss(scores(x), scores(-50.0)).item()


@pytest.mark.parametrize("bad", [-0.1, 1.0])
def test_label_smoothing_is_validated(bad):
    with pytest.raises(ValueError, match="label_smoothing"):
        NonSaturatingLoss(label_smoothing=bad)


@pytest.mark.parametrize("logit", [-4.0, 0.0, 2.0])
def test_generator_losses_non_saturating_vs_saturating(logit):
    s = 1 / (1 + math.exp(-logit))
    ns = NonSaturatingLoss()
    sat = NonSaturatingLoss(saturating=True)
    # values: -log D(G(z)) and log(1 - D(G(z)))
    assert ns.generator_loss(scores(logit)).item() == pytest.approx(-math.log(s), rel=1e-5)
    assert sat.generator_loss(scores(logit)).item() == pytest.approx(math.log(1 - s), rel=1e-5)
    # gradients w.r.t. the logit: -(1 - s) and -s; the saturating one vanishes when D rejects (s -> 0)
    for loss, expected in ((ns, -(1 - s)), (sat, -s)):
        fake = scores(logit, requires_grad=True)
        loss.generator_loss(fake).backward()
        assert fake.score.grad.item() == pytest.approx(expected, rel=1e-5)


def test_saturating_gradient_vanishes_where_non_saturating_does_not():
    fake_ns, fake_sat = scores(-10.0, requires_grad=True), scores(-10.0, requires_grad=True)
    NonSaturatingLoss().generator_loss(fake_ns).backward()
    NonSaturatingLoss(saturating=True).generator_loss(fake_sat).backward()
    assert abs(fake_sat.score.grad.item()) < 1e-4 < abs(fake_ns.score.grad.item())


# --- hinge ------------------------------------------------------------------------------------------

def test_hinge_d_loss_at_zero_logits_is_2():
    assert HingeLoss().discriminator_loss(ZEROS, ZEROS).item() == pytest.approx(2.0)


def test_hinge_d_loss_is_zero_beyond_the_margin_and_linear_inside():
    assert HingeLoss().discriminator_loss(scores(1.0, 3.0), scores(-1.0, -2.0)).item() == 0.0
    # real 0.5 -> 0.5, real 2 -> 0 ; fake 0.5 -> 1.5, fake -3 -> 0
    assert HingeLoss().discriminator_loss(scores(0.5, 2.0), scores(0.5, -3.0)).item() == pytest.approx(
        (0.5 + 0.0) / 2 + (1.5 + 0.0) / 2)


def test_hinge_g_loss_is_minus_mean_score():
    assert HingeLoss().generator_loss(scores(1.0, -3.0)).item() == pytest.approx(1.0)


# --- Wasserstein ------------------------------------------------------------------------------------

def test_wasserstein_losses():
    loss = WassersteinLoss()
    assert loss.discriminator_loss(scores(2.0, 4.0), scores(-1.0, 0.0)).item() == pytest.approx(-0.5 - 3.0)
    assert loss.generator_loss(scores(-1.0, 0.0)).item() == pytest.approx(0.5)
    assert loss.discriminator_loss(ZEROS, ZEROS).item() == 0.0


# --- least squares ----------------------------------------------------------------------------------

def test_lsgan_values_at_known_scores():
    loss = LeastSquaresLoss()  # a=0, b=1, c=1
    assert loss.discriminator_loss(scores(1.0), scores(0.0)).item() == 0.0  # the perfect D
    assert loss.discriminator_loss(ZEROS, ZEROS).item() == pytest.approx(0.5)  # 1/2 (0-1)^2 + 0
    assert loss.discriminator_loss(scores(3.0), scores(2.0)).item() == pytest.approx(0.5 * 4 + 0.5 * 4)
    assert loss.generator_loss(scores(1.0)).item() == 0.0
    assert loss.generator_loss(scores(-1.0, 1.0)).item() == pytest.approx(0.5 * (4 + 0) / 2)


def test_lsgan_custom_targets():
    loss = LeastSquaresLoss(a=-1.0, b=1.0, c=0.0)
    assert loss.discriminator_loss(scores(1.0), scores(-1.0)).item() == 0.0
    assert loss.generator_loss(scores(0.0)).item() == 0.0
    assert loss.generator_loss(scores(2.0)).item() == pytest.approx(2.0)


def test_lsgan_rejects_equal_labels():
    with pytest.raises(ValueError, match="differ"):
        LeastSquaresLoss(a=1.0, b=1.0)


# --- EBGAN ------------------------------------------------------------------------------------------

def energies(*values: float, features=None) -> DOut:
    return DOut(score=torch.tensor(values), features=features)


@pytest.mark.parametrize("fake_energy, fake_term", [(0.25, 0.75), (1.0, 0.0), (3.0, 0.0)])
def test_ebgan_d_loss_below_at_and_beyond_the_margin(fake_energy, fake_term):
    loss = EnergyLoss(margin=1.0, pt_weight=0.1)
    d = loss.discriminator_loss(energies(0.2, 0.4), energies(fake_energy, fake_energy))
    assert d.item() == pytest.approx(0.3 + fake_term)


def test_ebgan_d_loss_gradient_stops_at_the_margin():
    loss = EnergyLoss(margin=2.0)
    for energy, expected in ((1.0, -1.0), (2.5, 0.0)):
        fake = DOut(score=torch.tensor([energy], requires_grad=True))
        loss.discriminator_loss(energies(0.0), fake).backward()
        assert fake.score.grad.item() == expected


def test_ebgan_g_loss_is_energy_plus_weighted_pull_away():
    same = torch.ones(4, 3)  # identical embeddings: PT = 1
    loss = EnergyLoss(margin=1.0, pt_weight=0.1)
    assert loss.generator_loss(energies(0.5, 1.5, 0.5, 1.5, features=same)).item() == pytest.approx(1.0 + 0.1)
    assert EnergyLoss(pt_weight=0.0).generator_loss(energies(0.5, 1.5)).item() == pytest.approx(1.0)


def test_ebgan_without_features_names_the_fix():
    with pytest.raises(ValueError, match="features"):
        EnergyLoss(pt_weight=0.1).generator_loss(energies(0.5, 1.5))


@pytest.mark.parametrize("kwargs, key", [({"margin": 0.0}, "margin"), ({"pt_weight": -1.0}, "pt_weight")])
def test_ebgan_arguments_are_validated(kwargs, key):
    with pytest.raises(ValueError, match=key):
        EnergyLoss(**kwargs)


def test_pull_away_term_identical_orthogonal_and_reference():
    assert pull_away_term(torch.tensor([[1.0, 2.0, 3.0]] * 5)).item() == pytest.approx(1.0)
    assert pull_away_term(torch.tensor([[2.0, 2.0, 3.0]] * 3) * torch.tensor([[1.0], [2.0], [0.5]])).item() == pytest.approx(1.0)  # scale-free
    assert pull_away_term(torch.eye(4) * 3.0).item() == pytest.approx(0.0)
    assert pull_away_term(torch.randn(1, 8)).item() == 0.0  # no pairs
    # an independent reference: the double loop of EBGAN eq. 8
    s = torch.randn(6, 5, dtype=torch.float64)
    n = s.shape[0]
    ref = sum((F.cosine_similarity(s[i], s[j], dim=0) ** 2).item()
              for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    assert pull_away_term(s).item() == pytest.approx(ref, rel=1e-9)
    # (n, c, h, w) embeddings are flattened
    assert pull_away_term(torch.ones(3, 2, 2, 2)).item() == pytest.approx(1.0)
