"""The R2 penalty of Mescheder et al. 2018 (sec. 4.1): R1's zero-centred gradient penalty, measured on
generated data instead of real data. R3GAN (Huang et al. 2024) uses R1 + R2 with the RpGAN loss."""
from __future__ import annotations

from torch import Tensor, nn

from ganlab.regularizers.base import Regularizer, score_input_gradient


class R2Penalty(Regularizer):
    """1/2 ||grad_x D(G(z))||^2 on the generated batch (detached from G), averaged over the batch;
    weight is gamma. With R1 (`regularizer=[r1,r2]`) and equal weights this is R3GAN's
    gamma/2 (||grad D(x)||^2 + ||grad D(G(z))||^2)."""

    name = "r2"  # its term: loss/d_r2

    def __init__(self, weight: float = 10.0, every_n: int = 1, name: str | None = None):
        super().__init__(weight, every_n, name)

    def __call__(self, discriminator: nn.Module, real: Tensor, fake: Tensor, y: Tensor | None) -> Tensor:
        grad = score_input_gradient(discriminator, fake, y)  # (n, c, h, w); the fake is detached there
        return 0.5 * grad.pow(2).flatten(1).sum(1).mean()
