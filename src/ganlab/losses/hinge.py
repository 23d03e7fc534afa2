"""The hinge loss of Lim & Ye 2017 and Tran et al. 2017, as used by SNGAN (Miyato et al. 2018) and
BigGAN (Brock et al. 2019)."""
from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from ganlab.losses.base import AdversarialLoss
from ganlab.networks.output import DOut


class HingeLoss(AdversarialLoss):
    """D: mean(relu(1 - D(x))) + mean(relu(1 + D(G(z))));   G: -mean(D(G(z))).

    D stops pushing a sample once it is beyond the margin (score >= 1 for real, <= -1 for fake).
    """

    def discriminator_loss(self, real: DOut, fake: DOut) -> Tensor:
        return F.relu(1.0 - real.score).mean() + F.relu(1.0 + fake.score).mean()

    def generator_loss(self, fake: DOut) -> Tensor:
        return -fake.score.mean()
