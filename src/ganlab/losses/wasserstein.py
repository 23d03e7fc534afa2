"""The Wasserstein critic objective of Arjovsky et al. 2017 (WGAN) and Gulrajani et al. 2017 (WGAN-GP)."""
from __future__ import annotations

from torch import Tensor

from ganlab.diagnostics import relative_accuracy
from ganlab.losses.base import AdversarialLoss
from ganlab.networks.output import DOut


class WassersteinLoss(AdversarialLoss):
    """The critic estimates the Wasserstein-1 distance; its scores are unbounded (no sigmoid).

    D: mean(D(G(z))) - mean(D(x))   (the negated distance estimate)
    G: -mean(D(G(z)))

    The Lipschitz constraint is not part of the loss: weight clipping (`wgan_clip`) is a constraint
    and the gradient penalty (`wgan_gp`) a regulariser, both chosen in conf/loss/<name>.yaml.
    """

    def discriminator_loss(self, real: DOut, fake: DOut) -> Tensor:
        return fake.score.mean() - real.score.mean()

    def generator_loss(self, fake: DOut) -> Tensor:
        return -fake.score.mean()

    def real_fake_accuracy(self, real: DOut, fake: DOut) -> tuple[Tensor, Tensor]:
        """A critic's offset is arbitrary: each score is judged against the other side's mean."""
        return relative_accuracy(real.score, fake.score)
