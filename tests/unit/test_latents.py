"""Latent distributions (conf/latent/): shapes, ranges, seeding, truncation, InfoGAN's codes and
traversals, and the mutual-information term against hand-computed values."""
import math

import pytest
import torch

from ganlab.config_checks import ConfigError
from ganlab.latents import Codes, GaussianLatent, InfoGANLatent, UniformLatent
from ganlab.losses.mutual_information import MutualInformationLoss
from ganlab.networks.infogan import QHead
from ganlab.networks.output import CodePosterior


def seeded(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def infogan(categorical=(10,), continuous=2, noise=5) -> InfoGANLatent:
    return InfoGANLatent(UniformLatent(noise), categorical, continuous)


def test_gaussian_and_uniform_draw_their_distributions():
    z = GaussianLatent(8).sample(20_000, generator=seeded()).z
    assert z.shape == (20_000, 8)
    assert z.mean().abs() < 0.02 and (z.std() - 1).abs() < 0.02
    u = UniformLatent(8).sample(20_000, generator=seeded()).z
    assert u.min() >= -1 and u.max() <= 1 and (u.std() - 1 / math.sqrt(3)).abs() < 0.01
    shifted = UniformLatent(3, low=2.0, high=4.0).sample(1000, generator=seeded()).z
    assert shifted.min() >= 2 and shifted.max() <= 4
    assert GaussianLatent(8).sample(4).codes is None


@pytest.mark.parametrize("latent", [GaussianLatent(6), UniformLatent(6), infogan()], ids=type)
def test_the_same_seed_draws_the_same_inputs(latent):
    a, b = latent.sample(16, generator=seeded(3)).z, latent.sample(16, generator=seeded(3)).z
    assert torch.equal(a, b) and a.shape == (16, latent.input_dim)
    assert not torch.equal(a, latent.sample(16, generator=seeded(4)).z)


@pytest.mark.parametrize("threshold", [0.25, 0.5, 1.0])
def test_truncation_bounds_every_noise_value(threshold):
    z = GaussianLatent(64).sample(512, generator=seeded(), truncation=threshold).z
    assert z.abs().max() <= threshold
    # redrawn, not clipped: the values stay spread over [-t, t] (clipping piles them up at +-t)
    assert (z.abs() == threshold).float().mean() < 1e-3
    assert z.abs().mean() > 0.4 * threshold


def test_truncation_redraws_only_the_values_outside():
    plain = GaussianLatent(32).sample(64, generator=seeded(5)).z
    truncated = GaussianLatent(32).sample(64, generator=seeded(5), truncation=1.0).z
    inside = plain.abs() <= 1.0
    assert torch.equal(truncated[inside], plain[inside])


def test_truncation_of_infogan_leaves_the_codes_alone():
    latent = infogan(noise=16)
    sample = latent.sample(256, generator=seeded(), truncation=0.1)
    assert sample.z[:, :16].abs().max() <= 0.1
    assert sample.codes.continuous.abs().max() > 0.5  # U(-1, 1) codes untouched


@pytest.mark.parametrize("bad", [0, -0.5, True, "half"])
def test_bad_truncation_is_a_clear_error(bad):
    with pytest.raises(ConfigError, match="truncation must be a positive number"):
        GaussianLatent(4).sample(2, truncation=bad)


def test_a_truncation_the_latent_cannot_reach_is_a_clear_error():
    with pytest.raises(ConfigError, match="choose a larger truncation"):
        UniformLatent(2, low=1.0, high=2.0).sample(2, truncation=0.5)


def test_infogan_input_holds_noise_one_hot_codes_and_continuous_codes():
    latent = infogan(categorical=(10, 3), continuous=2, noise=5)
    assert latent.input_dim == 5 + 10 + 3 + 2
    assert latent.code_names == ("categorical_0", "categorical_1", "continuous_0", "continuous_1")
    sample = latent.sample(1000, generator=seeded())
    z, codes = sample.z, sample.codes
    assert codes.categorical.shape == (1000, 2) and codes.categorical.dtype == torch.long
    assert torch.equal(z[:, 5:15].argmax(1), codes.categorical[:, 0])
    assert torch.equal(z[:, 5:15].sum(1), torch.ones(1000))
    assert torch.equal(z[:, 15:18].argmax(1), codes.categorical[:, 1])
    assert torch.equal(z[:, 18:], codes.continuous) and codes.continuous.abs().max() <= 1
    assert set(codes.categorical[:, 0].tolist()) == set(range(10))  # every category is drawn


def test_categorical_traversal_rows_are_categories_and_columns_fixed_noise():
    latent = infogan(categorical=(4,), continuous=1, noise=3)
    sample = latent.traversal(0, columns=5, generator=seeded())
    rows = sample.z.view(4, 5, -1)  # (rows, columns, input_dim)
    assert torch.equal(sample.codes.categorical.view(4, 5), torch.arange(4)[:, None].expand(4, 5))
    for r in range(4):
        assert torch.equal(rows[r, :, :3], rows[0, :, :3])  # the noise of each column is the same in every row
        assert torch.equal(rows[r, :, 7:], rows[0, :, 7:])  # and so is the other code
        assert (rows[r, :, 3:7].argmax(1) == r).all()


def test_continuous_traversal_spans_minus_two_to_two():
    latent = infogan(categorical=(4,), continuous=2, noise=3)
    sample = latent.traversal(1, columns=3, steps=5, generator=seeded())  # code 1 = continuous_0
    values = sample.z.view(5, 3, -1)[:, :, 7]
    assert torch.allclose(values, torch.linspace(-2, 2, 5)[:, None].expand(5, 3))
    assert torch.equal(sample.z.view(5, 3, -1)[:, :, 8], sample.z.view(5, 3, -1)[:1, :, 8].expand(5, 3))


@pytest.mark.parametrize("kwargs, key", [({"categorical": [1]}, "^categorical must be a list of category counts >= 2"),
                                          ({"continuous": -1}, "^continuous must be an integer >= 0"),
                                          ({"categorical": [], "continuous": 0}, "at least one code")])
def test_bad_codes_are_clear_errors(kwargs, key):
    with pytest.raises(ConfigError, match=key):
        InfoGANLatent(UniformLatent(4), **kwargs)


def test_mutual_information_term_of_a_known_q_output():
    # Categorical: logits (0, log 3) -> Q = (1/4, 3/4); the code is 1 -> CE = -log(3/4). Code 0 of the
    # second sample -> -log(1/4). Continuous: mean 0.5, std 2, value -0.5 -> 0.5 * (1/2)^2 + log 2 +
    # 0.5 log(2 pi); the second sample: mean 0, std 1, value 1 -> 0.5 + 0.5 log(2 pi).
    posterior = CodePosterior(categorical_logits=[torch.tensor([[0.0, math.log(3)], [0.0, math.log(3)]])],
                              mean=torch.tensor([[0.5], [0.0]]), log_std=torch.tensor([[math.log(2)], [0.0]]))
    codes = Codes(categorical=torch.tensor([[1], [0]]), continuous=torch.tensor([[-0.5], [1.0]]))
    ce = (-math.log(3 / 4) - math.log(1 / 4)) / 2
    half_log_2pi = 0.5 * math.log(2 * math.pi)
    nll = ((0.125 + math.log(2) + half_log_2pi) + (0.5 + half_log_2pi)) / 2
    terms = MutualInformationLoss(categorical_weight=1.0, continuous_weight=0.1).breakdown(posterior, codes)
    assert terms["infogan/categorical"].item() == pytest.approx(ce, rel=1e-6)
    assert terms["infogan/continuous"].item() == pytest.approx(nll, rel=1e-6)
    assert terms["info"].item() == pytest.approx(ce + 0.1 * nll, rel=1e-6)
    fixed_std = CodePosterior(posterior.categorical_logits, posterior.mean, log_std=None)  # std 1
    expected = ((0.5 * 1.0 + half_log_2pi) + (0.5 + half_log_2pi)) / 2
    assert MutualInformationLoss().breakdown(fixed_std, codes)["infogan/continuous"].item() == pytest.approx(expected)


def test_the_term_sums_over_codes_and_is_minimal_at_the_drawn_codes():
    latent = infogan(categorical=(3, 5), continuous=2)
    codes = latent.sample(8, generator=seeded()).codes
    confident = CodePosterior([20 * torch.nn.functional.one_hot(codes.categorical[:, i], k).float()
                               for i, k in enumerate((3, 5))], codes.continuous.clone(), None)
    loss = MutualInformationLoss(continuous_weight=1.0)
    terms = loss.breakdown(confident, codes)
    assert terms["infogan/categorical"] < 1e-6  # sure and right: no cross-entropy left
    assert terms["infogan/continuous"].item() == pytest.approx(2 * 0.5 * math.log(2 * math.pi), rel=1e-6)
    shifted = CodePosterior(confident.categorical_logits, codes.continuous + 0.3, None)
    assert loss.breakdown(shifted, codes)["infogan/continuous"] > terms["infogan/continuous"]


def test_q_head_output_matches_the_codes_and_the_term_trains_it():
    torch.manual_seed(0)
    latent = infogan(categorical=(4,), continuous=1, noise=2)
    head = QHead(latent.input_dim, categorical=[4], continuous=1, hidden=32)
    loss = MutualInformationLoss(continuous_weight=1.0)
    opt = torch.optim.Adam(head.parameters(), lr=3e-2)
    first = None
    for _ in range(60):  # Q sees the codes themselves: it can learn to read them back
        sample = latent.sample(64)
        value = loss(head(sample.z), sample.codes)
        first = value.item() if first is None else first
        opt.zero_grad()
        value.backward()
        opt.step()
    posterior = head.eval()(sample.z)
    assert [t.shape for t in posterior.categorical_logits] == [(64, 4)] and posterior.mean.shape == (64, 1)
    assert value.item() < first - 1.0
    assert (posterior.categorical_logits[0].argmax(1) == sample.codes.categorical[:, 0]).float().mean() > 0.95


def test_a_mismatched_q_head_is_a_clear_error():
    codes = infogan(categorical=(4,), continuous=1).sample(3).codes
    posterior = QHead(6, categorical=[4, 2], continuous=1)(torch.randn(3, 6))
    with pytest.raises(ValueError, match="latent.categorical"):
        MutualInformationLoss()(posterior, codes)


class EchoGenerator(torch.nn.Module):
    """Returns its input as a (n, 1, 1, d) 'image': shows the noise G was given."""

    conditional = False

    def __init__(self, latent_dim: int):
        super().__init__()
        self.latent_dim = latent_dim
        self.unused = torch.nn.Parameter(torch.zeros(()))

    def forward(self, z, y=None):
        return z[:, None, None, :]


@pytest.mark.parametrize("latent", [GaussianLatent(16), UniformLatent(16)], ids=type)
def test_grids_and_interpolations_draw_from_the_latent_with_truncation(latent):
    from ganlab.sampling import generate, interpolate, seeded_latent, seeded_noise

    echo = EchoGenerator(16)
    z = generate(echo, 200, seed=1, latent=latent, truncation=0.5).flatten(1)
    assert torch.equal(z, seeded_latent(latent, 200, seed=1, truncation=0.5).z) and z.abs().max() <= 0.5
    strip = interpolate(echo, [3, 4], steps=3, latent=latent, truncation=0.5).flatten(2)  # (1, 3, 16)
    assert torch.equal(strip[0, 0], seeded_latent(latent, 1, seed=3, truncation=0.5).z[0])
    plain = generate(echo, 8, seed=2).flatten(1)  # no latent: N(0, I), the values of seeded_noise
    assert torch.equal(plain, seeded_noise(8, 16, seed=2))


def test_sample_py_chunks_draw_the_latent_truncated():
    from ganlab.sample import image_chunks

    echo = EchoGenerator(16)
    latent = infogan(categorical=(4,), continuous=1, noise=11)
    chunks = list(image_chunks(echo, 40, seed=0, device="cpu", classes=None, batch_size=8, chunk=16,
                               latent=latent, truncation=0.25))
    z = torch.cat(chunks).flatten(1)  # (40, 16)
    assert z.shape == (40, 16) and z[:, :11].abs().max() <= 0.25  # the noise, truncated
    assert torch.equal(z[:, 11:15].sum(1), torch.ones(40))  # one-hot codes, untouched
    plain = torch.cat(list(image_chunks(echo, 40, seed=0, device="cpu", classes=None, batch_size=8))).flatten(1)
    assert torch.equal(plain, torch.randn(40, 16, generator=torch.Generator().manual_seed(0)))  # N(0, I) as before
