"""z ~ N(0, I): the usual GAN noise (DCGAN, SNGAN, StyleGAN ...)."""
from __future__ import annotations

import torch
from torch import Tensor

from ganlab import checks
from ganlab.latents.base import Latent, LatentSample, draw_noise


def _standard_normal(count: int, generator: torch.Generator | None, device) -> Tensor:
    return torch.randn(count, generator=generator, device=device)


class GaussianLatent(Latent):
    def __init__(self, dim: int):  # size of z
        checks.positive_int(dim, "dim")
        self.dim = dim
        self.input_dim = dim

    def sample(self, n: int, device=None, generator=None, truncation=None) -> LatentSample:
        return LatentSample(draw_noise(_standard_normal, n, self.dim, device, generator, truncation))
