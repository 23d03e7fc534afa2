"""Spherical interpolation between seeds: the geometry, the shapes and the reproducibility."""
import math

import pytest
import torch
from torch import nn

from ganlab.sampling import generate, interpolate, interpolation_noise, seeded_noise, slerp


class ToyGenerator(nn.Module):
    latent_dim = 6

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.net = nn.Sequential(nn.Linear(6, 3 * 5 * 5), nn.Tanh())

    def forward(self, z, y=None):
        return self.net(z).view(-1, 3, 5, 5)


def test_slerp_ends_and_midpoint_of_orthogonal_unit_vectors():
    z0, z1 = torch.tensor([1.0, 0.0]), torch.tensor([0.0, 1.0])
    path = slerp(z0, z1, torch.tensor([0.0, 0.5, 1.0]))
    torch.testing.assert_close(path[0], z0)
    torch.testing.assert_close(path[2], z1)
    torch.testing.assert_close(path[1], torch.tensor([1.0, 1.0]) / math.sqrt(2))  # on the circle


def test_slerp_keeps_the_norm_between_equal_norm_ends():
    z0, z1 = seeded_noise(2, 64, seed=3)
    z1 = z1 * z0.norm() / z1.norm()
    path = slerp(z0, z1, torch.linspace(0, 1, 9))
    torch.testing.assert_close(path.norm(dim=1), torch.full((9,), float(z0.norm())))
    lerp_mid = (z0 + z1) / 2
    assert lerp_mid.norm() < 0.9 * z0.norm()  # a straight line would cut towards the origin


def test_slerp_of_parallel_vectors_is_a_line():
    z = torch.tensor([1.0, 2.0])
    path = slerp(z, 2 * z, torch.tensor([0.5]))
    torch.testing.assert_close(path[0], 1.5 * z)


def test_interpolation_noise_rows_join_the_seeds():
    z = interpolation_noise(latent_dim=6, seeds=[4, 7, 9], steps=5)
    assert z.shape == (2, 5, 6)
    torch.testing.assert_close(z[0, 0], seeded_noise(1, 6, 4)[0])
    torch.testing.assert_close(z[0, -1], seeded_noise(1, 6, 7)[0])
    torch.testing.assert_close(z[1, 0], z[0, -1])  # consecutive rows share their seed
    torch.testing.assert_close(z[1, -1], seeded_noise(1, 6, 9)[0])


def test_interpolate_shapes_range_and_reproducibility():
    g = ToyGenerator()
    strip = interpolate(g, seeds=[0, 1, 2, 3], steps=7)
    assert strip.shape == (3, 7, 3, 5, 5)
    assert strip.min() >= -1 and strip.max() <= 1
    torch.testing.assert_close(strip, interpolate(g, seeds=[0, 1, 2, 3], steps=7))
    torch.testing.assert_close(strip[0, 0], generate(g, 1, seed=0)[0])
    torch.testing.assert_close(strip[2, -1], generate(g, 1, seed=3)[0])


def test_interpolate_passes_one_label_per_row():
    seen = []

    class Conditional(ToyGenerator):
        def forward(self, z, y=None):
            seen.append(y)
            return super().forward(z)

    interpolate(Conditional(), seeds=[0, 1, 2], steps=3, labels=torch.tensor([5, 8]))
    assert torch.equal(torch.cat(seen), torch.tensor([5, 5, 5, 8, 8, 8]))


@pytest.mark.parametrize("seeds, steps", [([0], 5), ([0, 1], 1)])
def test_interpolation_rejects_too_few_seeds_or_steps(seeds, steps):
    with pytest.raises(ValueError, match="at least 2"):
        interpolation_noise(4, seeds, steps)
