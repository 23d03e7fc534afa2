"""z ~ U(low, high)^d, by default U(-1, 1): uniform noise, as in the original GAN (Goodfellow et
al. 2014) and InfoGAN's official MNIST code."""
from __future__ import annotations

import torch
from torch import Tensor

from ganlab import checks
from ganlab.config_checks import ConfigError
from ganlab.latents.base import Latent, LatentSample, draw_noise


class UniformLatent(Latent):
    def __init__(self, dim: int, low: float = -1.0, high: float = 1.0):  # size of z; its range
        checks.positive_int(dim, "dim")
        if not low < high:
            raise ConfigError(f"low must be below high, got low={low}, high={high}")
        self.dim = dim
        self.input_dim = dim
        self.low, self.high = float(low), float(high)

    def _draw(self, count: int, generator: torch.Generator | None, device) -> Tensor:
        return torch.rand(count, generator=generator, device=device) * (self.high - self.low) + self.low

    def sample(self, n: int, device=None, generator=None, truncation=None) -> LatentSample:
        return LatentSample(draw_noise(self._draw, n, self.dim, device, generator, truncation))
