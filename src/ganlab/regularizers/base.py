"""The interface of a discriminator regulariser."""
from __future__ import annotations

from torch import Tensor, nn


class Regularizer:
    """A penalty added to the discriminator loss.

    `__call__(discriminator, real, fake, y)` returns the unweighted scalar penalty. The training
    step adds `weight * every_n * penalty` on every `every_n`-th discriminator step (lazy
    regularisation, Karras et al. 2020: the factor every_n keeps the penalty's average strength).
    """

    def __init__(self, weight: float, every_n: int = 1):
        if weight < 0:
            raise ValueError(f"regulariser weight must be >= 0, got {weight}")
        if every_n < 1:
            raise ValueError(f"regulariser every_n must be >= 1, got {every_n}")
        self.weight = float(weight)
        self.every_n = int(every_n)

    def __call__(self, discriminator: nn.Module, real: Tensor, fake: Tensor, y: Tensor | None) -> Tensor:
        raise NotImplementedError
