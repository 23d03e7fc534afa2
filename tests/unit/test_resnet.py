"""The ResNet family (SNGAN): shapes for 28/32/64 and 1/3 channels, G in [-1, 1], D's output contract
(global-sum-pooled features), the paper's CIFAR-10 layout, spectral norm, per-sample critics,
conditioning (concat, conditional BatchNorm, projection, AC-GAN) and the EBGAN autoencoder."""
import pytest
import torch
from torch import nn

from ganlab.networks import ResNetAutoencoder, ResNetDiscriminator, ResNetGenerator, layer_norm
from ganlab.networks.layers import ConditionalBatchNorm2d
from ganlab.networks.resnet import DiscriminatorBlock, GeneratorBlock, OptimizedBlock

SHAPES = [(1, 28, 28), (3, 28, 28), (1, 32, 32), (3, 32, 32), (1, 64, 64), (3, 64, 64)]
SMALL = dict(width=8)


def labels(*values):
    return torch.tensor(values, dtype=torch.long)


@pytest.mark.parametrize("shape", SHAPES)
def test_generator_shape_and_range(shape):
    g = ResNetGenerator(shape, latent_dim=12, **SMALL)
    x = g(torch.randn(4, 12) * 10)  # large z pushes Tanh to its limits
    assert x.shape == (4, *shape)
    assert x.min() >= -1 and x.max() <= 1
    assert g.latent_dim == 12 and g.image_shape == shape


@pytest.mark.parametrize("shape", SHAPES)
def test_discriminators_return_one_score_per_sample(shape):
    x = torch.rand(4, *shape) * 2 - 1
    out = ResNetDiscriminator(shape, **SMALL)(x)
    assert out.score.shape == (4,) and out.features.shape == (4, 8)
    assert out.class_logits is None and out.reconstruction is None
    energy = ResNetAutoencoder(shape, **SMALL)(x)
    assert energy.score.shape == (4,) and (energy.score >= 0).all()
    assert energy.reconstruction.shape == x.shape
    assert energy.features.dim() == 2 and energy.features.shape[0] == 4
    torch.testing.assert_close(energy.score, (energy.reconstruction - x).pow(2).flatten(1).mean(1))


def test_features_are_the_global_sum_pool_of_the_relu_map():
    d = ResNetDiscriminator((3, 32, 32), **SMALL).eval()
    x = torch.randn(3, 3, 32, 32)
    out = d(x)
    h = d.encoder(x)  # (n, 8, 8, 8)
    assert h.shape == (3, 8, 8, 8)
    torch.testing.assert_close(out.features, torch.relu(h).sum(dim=(2, 3)))
    torch.testing.assert_close(out.score, d.head.linear(out.features).squeeze(1))


def test_sngan_cifar10_layout():
    """Miyato et al. 2018, Table 4 (appendix B.4): G 4x4 -> 3 up blocks of 256 -> BN, ReLU, conv3x3,
    Tanh; D optimised block + 3 residual blocks of 128 (the second of them downsampling), ReLU,
    global sum pool, linear. Parameter counts as in the authors' nets (G 4.3M, D 1.0M)."""
    g, d = ResNetGenerator((3, 32, 32)), ResNetDiscriminator((3, 32, 32))
    assert g.side == 4 and g.width == 256 and g.input.out_features == 256 * 4 * 4
    assert len(g.blocks) == 3 and all(isinstance(b, GeneratorBlock) for b in g.blocks)
    assert [b.conv2.out_channels for b in g.blocks] == [256, 256, 256]
    assert isinstance(g.output[0], nn.BatchNorm2d) and isinstance(g.output[-1], nn.Tanh)
    assert g.output[2].out_channels == 3 and g.output[2].kernel_size == (3, 3)
    blocks = list(d.encoder)
    assert isinstance(blocks[0], OptimizedBlock)
    assert [type(b) for b in blocks[1:]] == [DiscriminatorBlock] * 3
    assert [b.downsample for b in blocks[1:]] == [True, False, False]
    assert isinstance(blocks[-1].shortcut, nn.Identity)  # same shape: identity shortcut
    assert d.head.linear.in_features == 128
    assert not any(isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)) for m in d.modules())
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert 4.2e6 < count(g) < 4.4e6 and 1.0e6 < count(d) < 1.1e6


@pytest.mark.parametrize("size, g_blocks, d_downsamplings, d_map", [(28, 2, 1, 14), (32, 3, 2, 8), (64, 4, 3, 8)])
def test_resolution_stages(size, g_blocks, d_downsamplings, d_map):
    g = ResNetGenerator((3, size, size), **SMALL)
    d = ResNetDiscriminator((3, size, size), **SMALL)
    assert len(g.blocks) == g_blocks
    downsampling = [b for b in d.encoder if isinstance(b, OptimizedBlock) or getattr(b, "downsample", False)]
    assert len(downsampling) == d_downsamplings
    assert d.encoder(torch.randn(2, 3, size, size)).shape[-1] == d_map


@pytest.mark.parametrize("shape", [(1, 27, 27), (1, 6, 6), (1, 32, 28)])
def test_impossible_sizes_are_named(shape):
    for net in (ResNetGenerator, ResNetDiscriminator, ResNetAutoencoder):
        with pytest.raises(ValueError, match="image_size|square"):
            net(shape, **SMALL)


def test_initialisation_is_xavier_with_residual_gain():
    g = ResNetGenerator((3, 32, 32), width=64)
    block = g.blocks[0]
    fan = 64 * 9 + 64 * 9
    bound = lambda gain: gain * (6 / fan) ** 0.5  # noqa: E731
    assert block.conv1.weight.abs().max() <= bound(2 ** 0.5)
    assert block.conv1.weight.abs().max() > 0.9 * bound(2 ** 0.5)
    assert block.shortcut.weight.abs().max() <= (6 / (64 + 64)) ** 0.5
    assert torch.count_nonzero(block.conv1.bias) == 0


def test_spectral_norm_bounds_every_layer():
    d = ResNetDiscriminator((1, 28, 28), **SMALL, num_classes=3, projection=True, spectral_norm=True)
    layers = [m for m in d.modules() if isinstance(m, (nn.Conv2d, nn.Linear, nn.Embedding))]
    assert layers and all(nn.utils.parametrize.is_parametrized(m, "weight") for m in layers)
    d.train()
    for _ in range(30):  # power iterations converge
        d(torch.randn(2, 1, 28, 28), labels(0, 1))
    d.eval()
    for m in layers:
        sigma = torch.linalg.matrix_norm(m.weight.flatten(1), ord=2)
        assert sigma.item() == pytest.approx(1.0, abs=0.1)
    plain = ResNetDiscriminator((1, 28, 28), **SMALL, spectral_norm=False)
    assert not any(nn.utils.parametrize.is_parametrized(m) for m in plain.modules())


@pytest.mark.parametrize("norm", [None, layer_norm])
def test_critic_without_batchnorm_is_per_sample(norm):
    d = ResNetDiscriminator((1, 28, 28), **SMALL, norm=norm, spectral_norm=False)
    x = torch.randn(6, 1, 28, 28)
    torch.testing.assert_close(d(x).score[:2], d(x[:2]).score)
    if norm is not None:
        assert any(isinstance(m, nn.GroupNorm) for m in d.modules())


def test_concat_conditioning_uses_the_labels():
    g = ResNetGenerator((1, 28, 28), latent_dim=12, **SMALL, num_classes=10, label_dim=10).eval()
    z = torch.randn(4, 12)
    assert not torch.allclose(g(z, labels(0, 0, 0, 0)), g(z, labels(1, 1, 1, 1)))
    with pytest.raises(ValueError, match="labels"):
        g(z)
    for net in (ResNetDiscriminator, ResNetAutoencoder):
        d = net((1, 28, 28), **SMALL, num_classes=10, label_dim=4).eval()
        x = torch.rand(4, 1, 28, 28)
        assert not torch.allclose(d(x, labels(0, 0, 0, 0)).score, d(x, labels(1, 1, 1, 1)).score)
        with pytest.raises(ValueError, match="labels"):
            d(x)
    with pytest.raises(ValueError, match="needs class labels"):
        ResNetGenerator((1, 28, 28), **SMALL, num_classes=0, label_dim=4)


def test_conditional_batchnorm_in_every_generator_block():
    g = ResNetGenerator((1, 28, 28), latent_dim=12, **SMALL, num_classes=3, conditional_norm=True)
    conditional = [m for m in g.modules() if isinstance(m, ConditionalBatchNorm2d)]
    assert len(conditional) == 2 * len(g.blocks)  # two per block; the output BatchNorm is shared
    assert isinstance(g.output[0], nn.BatchNorm2d)
    with torch.no_grad():
        for m in conditional:
            m.scale.weight.normal_()
    g.eval()
    z = torch.randn(2, 12)
    assert not torch.allclose(g(z, labels(0, 0)), g(z, labels(1, 1)))
    with pytest.raises(ValueError, match="labels"):
        g(z)


def test_projection_and_auxiliary_classifier():
    d = ResNetDiscriminator((3, 32, 32), **SMALL, num_classes=5, projection=True, aux_classifier=True).eval()
    x, y = torch.rand(3, 3, 32, 32), labels(0, 1, 4)
    out = d(x, y)
    assert out.class_logits.shape == (3, 5)
    projection = (d.head.projection(y) * out.features).sum(1)
    torch.testing.assert_close(out.score, d.head.linear(out.features).squeeze(1) + projection)
    assert not torch.allclose(out.score, d(x, (y + 1) % 5).score)
    with pytest.raises(ValueError, match="needs class labels"):
        ResNetDiscriminator((3, 32, 32), **SMALL, num_classes=0, projection=True)
    ae = ResNetAutoencoder((3, 32, 32), **SMALL, num_classes=5, projection=True, aux_classifier=True).eval()
    assert ae(x, y).class_logits.shape == (3, 5)


def test_gradients_reach_every_parameter():
    g = ResNetGenerator((3, 32, 32), latent_dim=12, **SMALL, num_classes=4, conditional_norm=True)
    d = ResNetDiscriminator((3, 32, 32), **SMALL, num_classes=4, projection=True)
    y = labels(0, 1, 2, 3)
    d(g(torch.randn(4, 12), y), y).score.sum().backward()
    for name, p in [*g.named_parameters(), *d.named_parameters()]:
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
