"""The least-squares GAN loss of Mao et al. 2017 (LSGAN), eq. (2) of the paper."""
from __future__ import annotations

from torch import Tensor

from ganlab.config_checks import ConfigError
from ganlab.diagnostics import threshold_accuracy
from ganlab.losses.base import AdversarialLoss
from ganlab.networks.output import DOut


class LeastSquaresLoss(AdversarialLoss):
    """Squared distance of D's raw scores (no sigmoid) to target values.

    D: 1/2 mean((D(x) - b)^2) + 1/2 mean((D(G(z)) - a)^2)
    G: 1/2 mean((D(G(z)) - c)^2)

    a: the fake label, b: the real label, c: the value G wants D to give its samples. The defaults
    (0, 1, 1) are the paper's 0-1 coding; (-1, 1, 0) is its Pearson chi^2 setting (b - c = 1, b - a = 2).
    """

    def __init__(self, a: float = 0.0, b: float = 1.0, c: float = 1.0):
        if a == b:
            raise ConfigError(f"the real label b and the fake label a must differ, got a = b = {a}")
        self.a = float(a)
        self.b = float(b)
        self.c = float(c)

    def discriminator_loss(self, real: DOut, fake: DOut) -> Tensor:
        return 0.5 * (real.score - self.b).pow(2).mean() + 0.5 * (fake.score - self.a).pow(2).mean()

    def generator_loss(self, fake: DOut) -> Tensor:
        return 0.5 * (fake.score - self.c).pow(2).mean()

    def real_fake_accuracy(self, real: DOut, fake: DOut) -> tuple[Tensor, Tensor]:
        """Real when the score is nearer the real label b than the fake label a."""
        return threshold_accuracy(real.score, fake.score, (self.a + self.b) / 2, higher_is_real=self.b > self.a)
