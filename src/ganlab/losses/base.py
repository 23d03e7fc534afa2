"""The adversarial objective interface every loss implements."""
from __future__ import annotations

from torch import Tensor

from ganlab.networks.output import DOut


class AdversarialLoss:
    """An adversarial objective: a discriminator loss and a generator loss, both scalars.

    Losses only read discriminator outputs; regularisers (gradient penalty, R1) and constraints
    (weight clipping) are separate objects the training step applies, so any loss composes with any
    of them.
    """

    def discriminator_loss(self, real: DOut, fake: DOut) -> Tensor:
        raise NotImplementedError

    def generator_loss(self, fake: DOut) -> Tensor:
        raise NotImplementedError
