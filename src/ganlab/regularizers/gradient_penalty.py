"""The gradient penalty of Gulrajani et al. 2017 (WGAN-GP), eq. (3)."""
from __future__ import annotations

import torch
from torch import Tensor, nn

from ganlab.regularizers.base import Regularizer, score_input_gradient


class GradientPenalty(Regularizer):
    """(||grad_x D(x_hat)||_2 - 1)^2 averaged over x_hat = eps x + (1 - eps) G(z), eps ~ U[0, 1] per sample.

    Two-sided: it pulls the critic's gradient norm towards 1 on random interpolates of real and fake.
    The penalty is per sample, so the critic should not couple samples (no BatchNorm; the paper uses
    layer norm or none). weight is the paper's lambda (10).
    """

    name = "gradient_penalty"  # its term: loss/d_gradient_penalty

    def __init__(self, weight: float = 10.0, every_n: int = 1, name: str | None = None):
        super().__init__(weight, every_n, name)

    def __call__(self, discriminator: nn.Module, real: Tensor, fake: Tensor, y: Tensor | None) -> Tensor:
        if real.shape != fake.shape:
            raise ValueError(f"gradient penalty: real {tuple(real.shape)} and fake {tuple(fake.shape)} differ")
        real, fake = real.detach(), fake.detach()
        eps = torch.rand(real.shape[0], *([1] * (real.dim() - 1)), device=real.device, dtype=real.dtype)
        x_hat = eps * real + (1.0 - eps) * fake  # (n, c, h, w)
        grad = score_input_gradient(discriminator, x_hat, y)  # (n, c, h, w)
        norm = grad.flatten(1).norm(2, dim=1)  # (n,)
        return (norm - 1.0).pow(2).mean()
