"""The R1 penalty of Mescheder et al. 2018, lazy as in StyleGAN2 (Karras et al. 2020)."""
from __future__ import annotations

from torch import Tensor, nn

from ganlab.regularizers.base import Regularizer, score_input_gradient


class R1Penalty(Regularizer):
    """1/2 ||grad_x D(x)||^2 on real data, averaged over the batch; weight is the paper's gamma.

    StyleGAN2 applies it every 16 discriminator steps (every_n=16) and scales it by 16 to keep its
    average strength (the training step does the scaling).
    """

    name = "r1"  # its term: loss/d_r1

    def __init__(self, weight: float = 10.0, every_n: int = 1, name: str | None = None):
        super().__init__(weight, every_n, name)

    def __call__(self, discriminator: nn.Module, real: Tensor, fake: Tensor, y: Tensor | None) -> Tensor:
        grad = score_input_gradient(discriminator, real, y)  # (n, c, h, w)
        return 0.5 * grad.pow(2).flatten(1).sum(1).mean()
