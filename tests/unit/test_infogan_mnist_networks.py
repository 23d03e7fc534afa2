"""InfoGAN's MNIST networks (networks/infogan_mnist.py): the paper's layers, shapes and the Q head."""
import pytest
import torch
from torch import nn

from ganlab.networks.infogan import InfoGANDiscriminator, QHead
from ganlab.networks.infogan_mnist import InfoGANMNISTDiscriminator, InfoGANMNISTGenerator

SHAPE = (1, 28, 28)


def layer_types(module):
    return [type(m).__name__ for m in module.modules() if not isinstance(m, nn.Sequential) and m is not module]


def test_generator_is_the_papers_stack():
    g = InfoGANMNISTGenerator(SHAPE, latent_dim=74)
    assert layer_types(g) == ["Linear", "BatchNorm1d", "ReLU", "Linear", "BatchNorm1d", "ReLU",
                              "ConvTranspose2d", "BatchNorm2d", "ReLU", "ConvTranspose2d", "Tanh"]
    linear = [m for m in g.modules() if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linear] == [(74, 1024), (1024, 7 * 7 * 128)]
    up = [m for m in g.modules() if isinstance(m, nn.ConvTranspose2d)]
    assert [(m.in_channels, m.out_channels, m.kernel_size, m.stride) for m in up] == [
        (128, 64, (4, 4), (2, 2)), (64, 1, (4, 4), (2, 2))]
    x = g.eval()(torch.rand(5, 74) * 2 - 1)
    assert x.shape == (5, *SHAPE) and x.abs().max() <= 1


def test_discriminator_is_the_papers_stack_with_1024_features():
    d = InfoGANMNISTDiscriminator(SHAPE)
    assert layer_types(d) == ["Conv2d", "LeakyReLU", "Conv2d", "BatchNorm2d", "LeakyReLU", "Flatten",
                              "Linear", "BatchNorm1d", "LeakyReLU", "Linear"]
    convs = [m for m in d.modules() if isinstance(m, nn.Conv2d)]
    assert [(m.in_channels, m.out_channels, m.kernel_size, m.stride) for m in convs] == [
        (1, 64, (4, 4), (2, 2)), (64, 128, (4, 4), (2, 2))]
    assert all(m.negative_slope == 0.1 for m in d.modules() if isinstance(m, nn.LeakyReLU))
    out = d.eval()(torch.rand(3, *SHAPE) * 2 - 1)
    assert out.score.shape == (3,) and out.features.shape == (3, 1024)


def test_q_head_reads_the_1024_features_as_in_the_paper():
    torch.manual_seed(0)
    d = InfoGANDiscriminator(InfoGANMNISTDiscriminator(SHAPE),
                             lambda f: QHead(f, categorical=[10], continuous=2, hidden=128, learn_std=False), SHAPE)
    first = d.q_head.net[0]
    assert (first.in_features, first.out_features) == (1024, 128)
    out = d.eval()(torch.rand(4, *SHAPE) * 2 - 1)
    assert out.codes.categorical_logits[0].shape == (4, 10) and out.codes.mean.shape == (4, 2)
    assert out.codes.log_std is None


def test_an_image_side_not_divisible_by_4_is_refused_with_the_key_to_set():
    with pytest.raises(ValueError, match="data.image_size"):
        InfoGANMNISTGenerator((1, 30, 30))
    with pytest.raises(ValueError, match="data.image_size"):
        InfoGANMNISTDiscriminator((1, 28, 32))
