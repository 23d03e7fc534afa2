"""The f-GAN objective of the Pearson chi^2 divergence (Nowozin et al. 2016, "f-GAN: Training Generative
Neural Samplers using Variational Divergence Minimization", Table 2 and eq. 6).

D's raw score v is the variational function T(x) = g_f(v) = v (the identity output activation of
Pearson chi^2), and f*(t) = t^2 / 4 + t is the convex conjugate of f(u) = (u - 1)^2. D maximises the
lower bound E_P[T(x)] - E_Q[f*(T(x))] of the divergence; G uses the paper's alternative update,
maximising E_Q[g_f(v)] on its samples.
"""
from __future__ import annotations

from torch import Tensor

from ganlab.losses.base import AdversarialLoss
from ganlab.networks.output import DOut


class PearsonChiSquaredLoss(AdversarialLoss):
    """D: -(E_real[v] - E_fake[v^2 / 4 + v]);  G: -E_fake[v]."""

    def discriminator_loss(self, real: DOut, fake: DOut) -> Tensor:
        conjugate = fake.score.pow(2) / 4 + fake.score  # f*(T(x)) on generated samples, (n,)
        return -(real.score.mean() - conjugate.mean())

    def generator_loss(self, fake: DOut) -> Tensor:
        return -fake.score.mean()
