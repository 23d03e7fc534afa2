"""The relativistic average GAN loss of Jolicoeur-Martineau 2018 (RaSGAN, "The relativistic
discriminator: a key element missing from standard GAN", eqs. 13-14)."""
from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from ganlab.diagnostics import relative_accuracy
from ganlab.losses.base import AdversarialLoss
from ganlab.networks.output import DOut


class RelativisticAverageLoss(AdversarialLoss):
    """D judges whether a real sample is more realistic than the average fake, and vice versa.

    With C the raw score (a logit) and softplus(-t) = -log sigmoid(t):
    D: mean(softplus(-(C(x) - mean C(G(z))))) + mean(softplus(C(G(z)) - mean C(x)))
    G: mean(softplus(-(C(G(z)) - mean C(x)))) + mean(softplus(C(x) - mean C(G(z))))

    G's loss reads D's scores on the real batch too (`needs_real_for_generator`); its gradient
    reaches G through C(G(z)) only, real data being fixed.
    """

    needs_real_for_generator = True

    def discriminator_loss(self, real: DOut, fake: DOut) -> Tensor:
        return _relativistic_average(real.score, fake.score)

    def generator_loss(self, fake: DOut, real: DOut) -> Tensor:
        return _relativistic_average(fake.score, real.score)

    def real_fake_accuracy(self, real: DOut, fake: DOut) -> tuple[Tensor, Tensor]:
        """RaGAN's own decision: a real sample above the fakes' mean score, a fake below the reals'."""
        return relative_accuracy(real.score, fake.score)


def _relativistic_average(winner: Tensor, loser: Tensor) -> Tensor:
    """-log sigmoid(winner - mean loser) - log(1 - sigmoid(loser - mean winner)), averaged: the loss
    of a player who wants `winner` judged more realistic than the average `loser` and vice versa."""
    winner, loser = winner.float(), loser.float()
    return F.softplus(loser.mean() - winner).mean() + F.softplus(loser - winner.mean()).mean()
