"""Every network family: shapes for 28/32/64 and 1/3 channels, G in [-1, 1], D's output contract,
initialisation, spectral norm, norms, conditioning hooks and clear errors for impossible sizes."""
import functools

import pytest
import torch
from torch import nn

from ganlab.networks import (
    DCGANAutoencoder,
    DCGANDiscriminator,
    DCGANGenerator,
    MLPAutoencoder,
    MLPDiscriminator,
    MLPGenerator,
    layer_norm,
)
from ganlab.networks.layers import pyramid
from ganlab.networks.pacgan import PacGANAutoencoder
from ganlab.networks.resnet import ResNetAutoencoder

SHAPES = [(1, 28, 28), (3, 28, 28), (1, 32, 32), (3, 32, 32), (1, 64, 64), (3, 64, 64)]
FAMILIES = {
    "dcgan": (DCGANGenerator, DCGANDiscriminator, DCGANAutoencoder, dict(width=8)),
    "mlp": (MLPGenerator, MLPDiscriminator, MLPAutoencoder, dict(hidden=[32, 16])),
}


def small_generator(family, shape, **kwargs):
    G = FAMILIES[family][0]
    size = dict(width=8) if family == "dcgan" else dict(hidden=[32, 64])
    return G(shape, latent_dim=12, **size, **kwargs)


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("shape", SHAPES)
def test_generator_shape_and_range(family, shape):
    g = small_generator(family, shape)
    x = g(torch.randn(4, 12) * 10)  # large z pushes Tanh to its limits
    assert x.shape == (4, *shape)
    assert x.min() >= -1 and x.max() <= 1
    assert g.latent_dim == 12


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("shape", SHAPES)
def test_discriminators_return_one_score_per_sample(family, shape):
    _, D, A, size = FAMILIES[family]
    x = torch.rand(4, *shape) * 2 - 1
    out = D(shape, **size)(x)
    assert out.score.shape == (4,) and out.features.dim() == 2 and out.features.shape[0] == 4
    assert out.class_logits is None and out.reconstruction is None
    energy = A(shape, **size)(x)
    assert energy.score.shape == (4,) and (energy.score >= 0).all()
    assert energy.reconstruction.shape == x.shape
    torch.testing.assert_close(energy.score, (energy.reconstruction - x).pow(2).flatten(1).mean(1))


@pytest.mark.parametrize("size, expected", [(28, (2, 7)), (32, (3, 4)), (64, (4, 4)), (128, (5, 4)), (48, (3, 6))])
def test_pyramid_stages(size, expected):
    assert pyramid((3, size, size)) == expected


@pytest.mark.parametrize("shape", [(1, 27, 27), (1, 6, 6), (1, 32, 28)])
def test_impossible_sizes_are_named(shape):
    with pytest.raises(ValueError, match="image_size|square"):
        DCGANGenerator(shape)


def test_dcgan_follows_the_paper():
    g, d = DCGANGenerator((3, 64, 64)), DCGANDiscriminator((3, 64, 64))
    g_convs = [m for m in g.modules() if isinstance(m, nn.ConvTranspose2d)]
    d_convs = [m for m in d.modules() if isinstance(m, nn.Conv2d)]
    assert [m.out_channels for m in g_convs] == [512, 256, 128, 64, 3]
    assert [m.out_channels for m in d_convs] == [64, 128, 256, 512]
    assert sum(isinstance(m, nn.BatchNorm2d) for m in g.modules()) == 4
    assert sum(isinstance(m, nn.BatchNorm2d) for m in d.modules()) == 3  # none after the first conv
    assert any(isinstance(m, nn.LeakyReLU) and m.negative_slope == 0.2 for m in d.modules())
    assert isinstance(list(g.modules())[-1], nn.Tanh)
    weights = torch.cat([m.weight.flatten() for m in g_convs + d_convs])
    assert abs(weights.std().item() - 0.02) < 0.002 and abs(weights.mean().item()) < 0.002


def test_critic_norm_is_a_choice():
    no_norm = DCGANDiscriminator((1, 28, 28), width=8, norm=None)
    assert not any(isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)) for m in no_norm.modules())
    ln = DCGANDiscriminator((1, 28, 28), width=8, norm=layer_norm)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in ln.modules())
    # per-sample: a sample's score does not depend on the rest of the batch
    x = torch.randn(6, 1, 28, 28)
    torch.testing.assert_close(ln(x).score[:2], ln(x[:2]).score)


@pytest.mark.parametrize("family", FAMILIES)
def test_spectral_norm_bounds_every_layer(family):
    _, D, _, size = FAMILIES[family]
    d = D((1, 28, 28), **size, spectral_norm=True)
    layers = [m for m in d.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    assert layers and all(nn.utils.parametrize.is_parametrized(m, "weight") for m in layers)
    d.train()
    for _ in range(30):  # power iterations converge
        d(torch.randn(2, 1, 28, 28))
    d.eval()
    for m in layers:
        sigma = torch.linalg.matrix_norm(m.weight.flatten(1), ord=2)
        assert sigma.item() == pytest.approx(1.0, abs=0.1)


@pytest.mark.parametrize("family", FAMILIES)
def test_concat_conditioning_uses_the_labels(family):
    _, D, A, size = FAMILIES[family]
    g = small_generator(family, (1, 28, 28), num_classes=10, label_dim=10).eval()
    z = torch.randn(4, 12)
    assert not torch.allclose(g(z, torch.zeros(4, dtype=torch.long)), g(z, torch.ones(4, dtype=torch.long)))
    for net in (D, A):
        d = net((1, 28, 28), **size, num_classes=10, label_dim=4).eval()
        x = torch.rand(4, 1, 28, 28)
        assert not torch.allclose(d(x, torch.zeros(4, dtype=torch.long)).score, d(x, torch.ones(4, dtype=torch.long)).score)
    with pytest.raises(ValueError, match="labels"):
        g(z)


@pytest.mark.parametrize("family", FAMILIES)
def test_projection_and_auxiliary_classifier(family):
    _, D, _, size = FAMILIES[family]
    d = D((3, 32, 32), **size, num_classes=5, projection=True, aux_classifier=True).eval()
    x, y = torch.rand(3, 3, 32, 32), torch.tensor([0, 1, 4])
    out = d(x, y)
    assert out.class_logits.shape == (3, 5)
    assert not torch.allclose(out.score, d(x, (y + 1) % 5).score)
    with pytest.raises(ValueError, match="needs class labels"):
        D((3, 32, 32), **size, num_classes=0, projection=True)


def test_conditional_batchnorm_generator():
    g = DCGANGenerator((1, 28, 28), latent_dim=12, width=8, num_classes=3, conditional_norm=True)
    with torch.no_grad():
        for m in g.modules():
            if hasattr(m, "scale"):
                m.scale.weight.normal_()
    g.eval()
    z = torch.randn(2, 12)
    assert not torch.allclose(g(z, torch.tensor([0, 0])), g(z, torch.tensor([1, 1])))


def test_dcgan_minibatch_std_feature_sees_a_collapsed_batch():
    """With minibatch_std the DCGAN discriminator's head reads one more feature map: the average
    standard deviation over each group, zero for identical samples and positive otherwise."""
    from ganlab.networks import DCGANAutoencoder, DCGANDiscriminator
    torch.manual_seed(0)
    plain = DCGANDiscriminator((1, 28, 28), width=8)
    with_std = DCGANDiscriminator((1, 28, 28), width=8, minibatch_std=4)
    varied = torch.randn(8, 1, 28, 28)
    collapsed = varied[:1].expand(8, -1, -1, -1)
    out = with_std(varied)
    extra = out.features.shape[1] - plain(varied).features.shape[1]  # one more map of side x side
    side = round(extra ** 0.5)
    assert out.score.shape == (8,) and side * side == extra and side == 7
    std_map = out.features.view(8, -1, side, side)[:, -1]  # one constant per group
    assert torch.all(std_map > 0)
    assert torch.allclose(with_std(collapsed).features.view(8, -1, side, side)[:, -1], torch.tensor(1e-4), atol=1e-4)
    with pytest.raises(ValueError, match="minibatch_std=0"):
        DCGANAutoencoder((1, 28, 28), width=8, minibatch_std=4)


AUTOENCODERS = {
    "mlp": lambda **kw: MLPAutoencoder((1, 28, 28), hidden=[32, 16], **kw),
    "dcgan": lambda **kw: DCGANAutoencoder((1, 28, 28), width=8, **kw),
    "pacgan": lambda **kw: PacGANAutoencoder((1, 28, 28), hidden=[8, 4], pieces=2, **kw),
    "resnet": lambda **kw: ResNetAutoencoder((1, 32, 32), width=8, **kw),
}


@pytest.mark.parametrize("family", AUTOENCODERS)
@pytest.mark.parametrize("exponent", [1.0, 2.0])
def test_autoencoder_energy_is_the_mean_error_to_the_chosen_power(family, exponent):
    """error_exponent 1: the mean absolute error (BEGAN's L1), 2: the mean squared error (the default)."""
    torch.manual_seed(0)
    ae = AUTOENCODERS[family](error_exponent=exponent).eval()
    side = 32 if family == "resnet" else 28
    x = torch.rand(3, 1, side, side) * 2 - 1
    out = ae(x)
    expected = (out.reconstruction - x).abs().pow(exponent).flatten(1).mean(dim=1)
    assert torch.allclose(out.score, expected, atol=1e-6)
    if exponent == 2.0:  # the default
        torch.manual_seed(0)
        assert torch.allclose(AUTOENCODERS[family]().eval()(x).score, out.score, atol=1e-6)


def test_autoencoder_energy_known_values():
    """A decoder that outputs 0 reconstructs x = 0.5 everywhere with error 0.5 per value: energy 0.5
    for the absolute error, 0.25 for the squared; -0.5 gives the same (the error's size counts)."""
    ae = MLPAutoencoder((1, 4, 4), hidden=[8, 4], error_exponent=1)
    last = ae.decoder[-2]
    assert isinstance(last, nn.Linear)
    nn.init.zeros_(last.weight)
    nn.init.zeros_(last.bias)
    x = torch.tensor([0.5, -0.5]).view(2, 1, 1, 1).expand(2, 1, 4, 4)
    assert torch.allclose(ae(x).score, torch.tensor([0.5, 0.5]))
    ae.error_exponent = 2.0
    assert torch.allclose(ae(x).score, torch.tensor([0.25, 0.25]))


@pytest.mark.parametrize("bad", [0, -1.0, float("nan")])
def test_autoencoder_error_exponent_must_be_positive(bad):
    with pytest.raises(ValueError, match="error_exponent must be"):
        MLPAutoencoder((1, 4, 4), hidden=[8, 4], error_exponent=bad)


@pytest.mark.parametrize("shape", [(1, 28, 28), (3, 32, 32)])
def test_dcgan_autoencoder_embedding_is_a_bottleneck(shape):
    """embedding=h: the code (D's features) has h values, and the decoder starts from them alone."""
    ae = DCGANAutoencoder(shape, width=8, embedding=5)
    x = torch.rand(4, *shape) * 2 - 1
    out = ae(x)
    assert out.features.shape == (4, 5) and out.reconstruction.shape == x.shape and out.score.shape == (4,)
    first = ae.decoder[0]
    assert isinstance(first, nn.Linear) and first.in_features == 5
    code = ae.encoder(x)
    assert torch.allclose(ae.decoder(code), out.reconstruction)
    wide = DCGANAutoencoder(shape, width=8)  # no bottleneck: the code is the encoder's map
    stages, side = pyramid(shape)
    assert wide(x).features.shape[1] == 8 * 2 ** (stages - 1) * side * side


def test_dcgan_autoencoder_embedding_with_labels_and_a_bad_size():
    ae = DCGANAutoencoder((1, 28, 28), width=8, embedding=6, num_classes=10, label_dim=3, projection=True)
    assert ae(torch.randn(4, 1, 28, 28), torch.arange(4)).score.shape == (4,)
    with pytest.raises(ValueError, match="embedding must be"):
        DCGANAutoencoder((1, 28, 28), width=8, embedding=-1)


def test_mlp_activation_is_a_choice():
    g = MLPGenerator((2,), latent_dim=4, hidden=[8, 8], norm=None, tanh=False, activation=nn.ReLU)
    d = MLPDiscriminator((2,), hidden=[8], activation=nn.ReLU)
    assert [type(m) for m in g.net] == [nn.Linear, nn.Identity, nn.ReLU, nn.Linear, nn.Identity, nn.ReLU,
                                        nn.Linear, nn.Identity]
    assert sum(isinstance(m, nn.ReLU) for m in d.modules()) == 1
    assert not any(isinstance(m, nn.LeakyReLU) for m in [*g.modules(), *d.modules()])
    default = MLPDiscriminator((2,), hidden=[8])
    assert [m.negative_slope for m in default.modules() if isinstance(m, nn.LeakyReLU)] == [0.2]


def test_mlp_weight_init_reaches_every_linear_layer_and_zeroes_the_biases():
    orthogonal = functools.partial(nn.init.orthogonal_, gain=0.8)
    g = MLPGenerator((2,), latent_dim=256, hidden=[128, 128], norm=None, tanh=False, weight_init=orthogonal)
    d = MLPDiscriminator((2,), hidden=[128], weight_init=orthogonal)
    linears = [m for m in [*g.modules(), *d.modules()] if isinstance(m, nn.Linear)]
    assert [tuple(m.weight.shape) for m in linears] == [(128, 256), (128, 128), (2, 128), (128, 2), (1, 128)]
    for m in linears:  # orthogonal rows or columns, scaled by the gain: W W^T (or W^T W) = 0.64 I
        w = m.weight.detach()
        gram = w @ w.T if w.shape[0] <= w.shape[1] else w.T @ w
        torch.testing.assert_close(gram, 0.64 * torch.eye(gram.shape[0]), atol=1e-5, rtol=0)
        assert torch.count_nonzero(m.bias) == 0


def test_mlp_discriminator_input_scale_is_a_fixed_factor_on_the_input():
    torch.manual_seed(0)
    plain = MLPDiscriminator((2,), hidden=[8])
    scaled = MLPDiscriminator((2,), hidden=[8], input_scale=0.25)
    assert [p.shape for p in scaled.parameters()] == [p.shape for p in plain.parameters()]  # none learned
    with torch.no_grad():
        for mine, theirs in zip(scaled.parameters(), plain.parameters()):
            mine.copy_(theirs)
    x = torch.randn(5, 2)
    torch.testing.assert_close(scaled(x).score, plain(x / 4).score)
    with pytest.raises(ValueError, match="input_scale"):
        MLPDiscriminator((2,), hidden=[8], input_scale=0.0)


def test_mlp_autoencoder_takes_the_discriminators_options():
    torch.manual_seed(0)
    options = dict(hidden=[8], activation=nn.ReLU, weight_init=nn.init.orthogonal_, input_scale=0.25)
    plain = MLPAutoencoder((2,), **{**options, "input_scale": 1.0})
    scaled = MLPAutoencoder((2,), **options)
    with torch.no_grad():
        for mine, theirs in zip(scaled.parameters(), plain.parameters()):
            mine.copy_(theirs)
    x = torch.randn(5, 2)
    assert not any(isinstance(m, nn.LeakyReLU) for m in scaled.modules())
    torch.testing.assert_close(scaled.encoder(x), plain.encoder(x / 4))  # the encoder reads the scaled point
