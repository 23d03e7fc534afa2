"""The GAN loss of Goodfellow et al. 2014 on logits, non-saturating for G by default."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from ganlab.losses.base import AdversarialLoss
from ganlab.networks.output import DOut


class NonSaturatingLoss(AdversarialLoss):
    """Binary cross-entropy on D's logits.

    D: -log sigmoid(D(x)) - log(1 - sigmoid(D(G(z)))), with real targets 1 - label_smoothing
       (one-sided label smoothing, Salimans et al. 2016).
    G: -log sigmoid(D(G(z))) (non-saturating) or, with saturating=True, the original minimax
       log(1 - sigmoid(D(G(z)))).
    """

    def __init__(self, label_smoothing: float = 0.0, saturating: bool = False):
        if not 0.0 <= label_smoothing < 1.0:
            raise ValueError(f"loss.objective.label_smoothing must be in [0, 1), got {label_smoothing}")
        self.real_target = 1.0 - label_smoothing
        self.saturating = saturating

    def discriminator_loss(self, real: DOut, fake: DOut) -> Tensor:
        real_loss = F.binary_cross_entropy_with_logits(real.score, torch.full_like(real.score, self.real_target))
        fake_loss = F.binary_cross_entropy_with_logits(fake.score, torch.zeros_like(fake.score))
        return real_loss + fake_loss

    def generator_loss(self, fake: DOut) -> Tensor:
        if self.saturating:
            return -F.binary_cross_entropy_with_logits(fake.score, torch.zeros_like(fake.score))
        return F.binary_cross_entropy_with_logits(fake.score, torch.ones_like(fake.score))
