"""Every adversarial loss against values worked out by hand (and gradients, where they define the loss)."""
import math

import pytest
import torch
import torch.nn.functional as F

from ganlab.losses import (
    BoundaryEquilibriumLoss,
    EnergyLoss,
    HingeLoss,
    LeastSquaresLoss,
    NonSaturatingLoss,
    RelativisticAverageLoss,
    RelativisticPairingLoss,
    WassersteinLoss,
    pull_away_term,
)
from ganlab.losses.boundary_equilibrium import equilibrium_step
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


# --- relativistic: RaGAN, RpGAN -------------------------------------------------------------------

def softplus(t: float) -> float:
    return math.log1p(math.exp(t))  # = -log sigmoid(-t)


def test_relativistic_losses_at_equal_logits():
    # every difference is 0: each term is -log sigmoid(0) = ln 2
    assert RelativisticAverageLoss().discriminator_loss(ZEROS, ZEROS).item() == pytest.approx(2 * math.log(2))
    assert RelativisticAverageLoss().generator_loss(ZEROS, ZEROS).item() == pytest.approx(2 * math.log(2))
    assert RelativisticPairingLoss().discriminator_loss(ZEROS, ZEROS).item() == pytest.approx(math.log(2))
    assert RelativisticPairingLoss().generator_loss(ZEROS, ZEROS).item() == pytest.approx(math.log(2))


def test_ragan_against_its_closed_form():
    real, fake = [2.0, 0.0, 4.0], [-1.0, 1.0, -3.0]  # mean real 2, mean fake -1
    mr, mf = sum(real) / 3, sum(fake) / 3
    d = sum(softplus(-(r - mf)) for r in real) / 3 + sum(softplus(f - mr) for f in fake) / 3
    g = sum(softplus(-(f - mr)) for f in fake) / 3 + sum(softplus(r - mf) for r in real) / 3
    loss = RelativisticAverageLoss()
    assert loss.discriminator_loss(scores(*real), scores(*fake)).item() == pytest.approx(d, rel=1e-6)
    assert loss.generator_loss(scores(*fake), scores(*real)).item() == pytest.approx(g, rel=1e-6)


def test_ragan_generator_gradient_reaches_fake_scores_through_both_terms():
    # G: mean_j softplus(mr - f_j) + mean_i softplus(r_i - mf); d/df_k = (-sigmoid(mr - f_k)
    #    - mean_i sigmoid(r_i - mf)) / n
    real, fake = [2.0, 0.0], [-1.0, 1.0]
    mr, mf = 1.0, 0.0
    sig = lambda t: 1 / (1 + math.exp(-t))
    fake_out = scores(*fake, requires_grad=True)
    RelativisticAverageLoss().generator_loss(fake_out, scores(*real)).backward()
    expected = [(-sig(mr - f) - sum(sig(r - mf) for r in real) / 2) / 2 for f in fake]
    torch.testing.assert_close(fake_out.score.grad, torch.tensor(expected), rtol=1e-5, atol=1e-7)


def test_rpgan_against_its_closed_form_and_gradient():
    real, fake = [2.0, 0.0, 4.0], [-1.0, 1.0, 5.0]  # pairs differ by 3, -1, -1
    d = sum(softplus(f - r) for r, f in zip(real, fake)) / 3
    g = sum(softplus(r - f) for r, f in zip(real, fake)) / 3
    loss = RelativisticPairingLoss()
    assert loss.discriminator_loss(scores(*real), scores(*fake)).item() == pytest.approx(d, rel=1e-6)
    fake_out = scores(*fake, requires_grad=True)
    g_loss = loss.generator_loss(fake_out, scores(*real))
    assert g_loss.item() == pytest.approx(g, rel=1e-6)
    g_loss.backward()  # d/df_i softplus(r_i - f_i) / n = -sigmoid(r_i - f_i) / n
    expected = [-1 / (1 + math.exp(-(r - f))) / 3 for r, f in zip(real, fake)]
    torch.testing.assert_close(fake_out.score.grad, torch.tensor(expected), rtol=1e-5, atol=1e-7)


def test_rpgan_is_shift_invariant_and_pairs_samples():
    real, fake = scores(2.0, 0.0), scores(-1.0, 1.0)
    shifted = RelativisticPairingLoss().discriminator_loss(scores(12.0, 10.0), scores(9.0, 11.0))
    assert shifted.item() == pytest.approx(RelativisticPairingLoss().discriminator_loss(real, fake).item())
    swapped_pairs = RelativisticPairingLoss().discriminator_loss(real, scores(1.0, -1.0))
    assert swapped_pairs.item() != pytest.approx(RelativisticPairingLoss().discriminator_loss(real, fake).item())
    with pytest.raises(ValueError, match="equal size"):
        RelativisticPairingLoss().discriminator_loss(scores(1.0, 2.0), scores(1.0))


# --- BEGAN ----------------------------------------------------------------------------------------

def test_began_equilibrium_step_known_values():
    # k = 0.2, L(x) = 0.4, L(G(z)) = 0.1, gamma 0.5, lambda 0.01: balance 0.2 - 0.1 = 0.1
    k, m = equilibrium_step(torch.tensor(0.2), torch.tensor(0.4), torch.tensor(0.1), gamma=0.5, lambda_k=0.01)
    assert k.item() == pytest.approx(0.2 + 0.01 * 0.1)
    assert m.item() == pytest.approx(0.4 + 0.1)
    # L(G(z)) above gamma L(x): k falls; M_global counts the absolute imbalance
    k, m = equilibrium_step(torch.tensor(0.2), torch.tensor(0.4), torch.tensor(0.5), gamma=0.5, lambda_k=0.01)
    assert k.item() == pytest.approx(0.2 - 0.01 * 0.3)
    assert m.item() == pytest.approx(0.4 + 0.3)
    # clipped to [0, 1]
    assert equilibrium_step(torch.tensor(0.0), torch.tensor(0.1), torch.tensor(5.0), 0.5, 0.1)[0].item() == 0.0
    assert equilibrium_step(torch.tensor(0.99), torch.tensor(4.0), torch.tensor(0.0), 0.5, 0.1)[0].item() == 1.0


def test_began_losses_and_controller_state():
    loss = BoundaryEquilibriumLoss(gamma=0.5, lambda_k=0.01, k_initial=0.25)
    real, fake = energies(0.3, 0.5), energies(0.1, 0.3)  # L(x) = 0.4, L(G(z)) = 0.2
    assert loss.discriminator_loss(real, fake).item() == pytest.approx(0.4 - 0.25 * 0.2)
    assert loss.generator_loss(fake).item() == pytest.approx(0.2)
    terms = loss.update(real, fake)  # balance 0.5 * 0.4 - 0.2 = 0
    assert terms["began/k"].item() == pytest.approx(0.25) and terms["began/m_global"].item() == pytest.approx(0.4)
    terms = loss.update(real, energies(0.0, 0.0))  # balance 0.2
    assert loss.k.item() == pytest.approx(0.25 + 0.01 * 0.2) == terms["began/k"].item()
    assert terms["began/m_global"].item() == pytest.approx(0.6)
    assert loss.discriminator_loss(real, fake).item() == pytest.approx(0.4 - 0.252 * 0.2)  # the new k


def test_began_k_is_saved_and_restored():
    loss = BoundaryEquilibriumLoss(lambda_k=0.1)
    loss.update(energies(1.0), energies(0.0))  # k: 0 -> 0.05
    restored = BoundaryEquilibriumLoss(lambda_k=0.1)
    restored.load_state_dict(loss.state_dict())
    assert restored.k.item() == pytest.approx(0.05) and "k" in loss.state_dict()


@pytest.mark.parametrize("kwargs, key", [({"gamma": 0.0}, "gamma"), ({"gamma": 1.5}, "gamma"),
                                         ({"lambda_k": -1.0}, "lambda_k"), ({"k_initial": 2.0}, "k_initial")])
def test_began_arguments_are_validated(kwargs, key):
    with pytest.raises(ValueError, match=key):
        BoundaryEquilibriumLoss(**kwargs)


# --- ganhacks options of the non-saturating loss --------------------------------------------------

def bce(logit: float, target: float) -> float:
    s = 1 / (1 + math.exp(-logit))
    return -(target * math.log(s) + (1 - target) * math.log(1 - s))


def test_soft_noisy_targets_are_drawn_per_sample_in_their_intervals():
    real, fake = [1.5, -0.5, 2.0, 0.3], [-1.0, 0.5, -2.0, 0.1]
    loss = NonSaturatingLoss(real_targets=[0.7, 1.2], fake_targets=[0.0, 0.3])
    torch.manual_seed(3)
    value = loss.discriminator_loss(scores(*real), scores(*fake)).item()
    torch.manual_seed(3)  # the same draws, in the loss's order: real targets, then fake targets
    t_real = (torch.rand(4) * 0.5 + 0.7).tolist()
    t_fake = (torch.rand(4) * 0.3).tolist()
    assert all(0.7 <= t <= 1.2 for t in t_real) and all(0 <= t <= 0.3 for t in t_fake)
    expected = sum(bce(x, t) for x, t in zip(real, t_real)) / 4 + sum(bce(x, t) for x, t in zip(fake, t_fake)) / 4
    assert value == pytest.approx(expected, rel=1e-5)
    assert len({*t_real}) == 4  # one target per sample


def test_flipping_every_label_swaps_real_and_fake():
    real, fake = scores(2.0, -1.0), scores(-0.5, 0.7)
    flipped = NonSaturatingLoss(flip_probability=1.0).discriminator_loss(real, fake)
    swapped = NonSaturatingLoss().discriminator_loss(fake, real)
    assert flipped.item() == pytest.approx(swapped.item())
    never = NonSaturatingLoss(flip_probability=0.0).discriminator_loss(real, fake)
    assert never.item() == pytest.approx(NonSaturatingLoss().discriminator_loss(real, fake).item())


def test_flip_probability_flips_about_that_share():
    # at logits +-30 the loss is ~0 per unflipped sample and ~30 per flipped one
    n, p = 4000, 0.2
    torch.manual_seed(0)
    loss = NonSaturatingLoss(flip_probability=p).discriminator_loss(
        DOut(score=torch.full((n,), 30.0)), DOut(score=torch.full((n,), -30.0)))
    assert loss.item() / 30 / 2 == pytest.approx(p, abs=0.02)


def test_ganhacks_options_leave_the_generator_loss_alone():
    hacked = NonSaturatingLoss(real_targets=[0.7, 1.2], fake_targets=[0.0, 0.3], flip_probability=0.5)
    assert hacked.generator_loss(scores(0.3, -2.0)).item() == NonSaturatingLoss().generator_loss(scores(0.3, -2.0)).item()


@pytest.mark.parametrize("kwargs, key", [
    ({"real_targets": [1.2, 0.7]}, "real_targets"), ({"fake_targets": [0.1]}, "fake_targets"),
    ({"flip_probability": 1.5}, "flip_probability"),
    ({"label_smoothing": 0.1, "real_targets": [0.7, 1.2]}, "label_smoothing")])
def test_ganhacks_options_are_validated(kwargs, key):
    with pytest.raises(ValueError, match=key):
        NonSaturatingLoss(**kwargs)


# --- the share of samples D judges right (diagnostics) ---------------------------------------------

@pytest.mark.parametrize("loss, real, fake, expected", [
    (LeastSquaresLoss(), [0.9, 0.2], [0.1, 0.6, 0.4, 0.45], (0.5, 0.75)),  # threshold 0.5
    (LeastSquaresLoss(a=1.0, b=-1.0), [-0.9, 0.2], [0.1, -0.6], (0.5, 0.5)),  # low is real
    (EnergyLoss(margin=1.0), [0.1, 0.7], [0.2, 0.9], (0.5, 0.5)),  # energies, threshold m/2
    (WassersteinLoss(), [10.0, 12.0, 14.0], [11.0, 9.0, 13.0], (2 / 3, 2 / 3)),  # vs the other side's mean
    (RelativisticAverageLoss(), [10.0, 12.0, 14.0], [11.0, 9.0, 13.0], (2 / 3, 2 / 3)),
    (RelativisticPairingLoss(), [2.0, 0.0, 5.0], [1.0, 1.0, 6.0], (1 / 3, 1 / 3)),  # pairwise
    (BoundaryEquilibriumLoss(), [0.1, 0.5], [0.4, 0.2], (0.5, 0.5)),  # low energy is real, relative
])
def test_real_fake_accuracy_follows_each_losss_decision(loss, real, fake, expected):
    shares = loss.real_fake_accuracy(scores(*real), scores(*fake))
    assert [s.item() for s in shares] == pytest.approx(list(expected))
