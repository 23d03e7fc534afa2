"""Instance noise (Sønderby et al. 2017, "Amortised MAP inference for image super-resolution", sec. 3.2;
Arjovsky & Bottou 2017; ganhacks tip 13): Gaussian noise added to every input of the discriminator,
real and generated alike, its standard deviation annealed to 0 so the final model sees clean data."""
from __future__ import annotations

import torch
from torch import Tensor

from ganlab import checks
from ganlab.step import StepPart


class InstanceNoise(StepPart):
    """x + sigma(t) * N(0, I), sigma(t) = std * max(0, 1 - t / anneal_iterations), t the generator
    iteration (0-based). Images are in [-1, 1]; std 0.1 is 5% of their range."""

    def __init__(self, std: float = 0.1, anneal_iterations: int = 10_000):
        self.std = checks.non_negative(std, "std")
        self.anneal_iterations = checks.positive_int(anneal_iterations, "anneal_iterations")  # generator iterations

    def std_at(self, iteration: int) -> float:
        return self.std * max(0.0, 1.0 - iteration / self.anneal_iterations)

    def __call__(self, x: Tensor, iteration: int) -> Tensor:
        sigma = self.std_at(iteration)
        if sigma == 0.0:
            return x
        return x + sigma * torch.randn_like(x)

    def discriminator_input(self, x: Tensor, iteration: int) -> Tensor:
        return self(x, iteration)
