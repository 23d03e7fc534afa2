"""The GAN loss of Goodfellow et al. 2014 on logits, non-saturating for G by default, with the label
tricks of ganhacks (Chintala et al. 2016, tips 6 and 7) as options."""
from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from ganlab import checks
from ganlab.config_checks import ConfigError
from ganlab.losses.base import AdversarialLoss
from ganlab.networks.output import DOut


class NonSaturatingLoss(AdversarialLoss):
    """Binary cross-entropy on D's logits.

    D: -log sigmoid(D(x)) - log(1 - sigmoid(D(G(z)))), with real targets 1 - label_smoothing
       (one-sided label smoothing, Salimans et al. 2016).
    G: -log sigmoid(D(G(z))) (non-saturating) or, with saturating=True, the original minimax
       log(1 - sigmoid(D(G(z)))).

    ganhacks options, D's loss only (each drawn afresh per sample at every D step):
    real_targets / fake_targets = [low, high]: soft noisy targets, U(low, high) instead of 1 and 0
       (ganhacks: real [0.7, 1.2], fake [0.0, 0.3]);
    flip_probability = p: each sample's label is flipped with probability p (a flipped real sample
       gets a fake target, a flipped fake a real one).
    """

    def __init__(self, label_smoothing: float = 0.0, saturating: bool = False,
                 real_targets: Sequence[float] | None = None, fake_targets: Sequence[float] | None = None,
                 flip_probability: float = 0.0):
        label_smoothing = checks.number(label_smoothing, "label_smoothing", 0.0, 1.0, high_open=True)
        if label_smoothing and real_targets is not None:
            raise ConfigError("label_smoothing and real_targets both set the real target: keep one "
                              "(label_smoothing=0 with real_targets=[0.7,1.2])")
        self.real_target = 1.0 - label_smoothing
        self.saturating = saturating
        self.real_targets = _target_range(real_targets, "real_targets")
        self.fake_targets = _target_range(fake_targets, "fake_targets")
        self.flip_probability = checks.probability(flip_probability, "flip_probability")

    def discriminator_loss(self, real: DOut, fake: DOut) -> Tensor:
        real_target = self._targets(real.score, self.real_targets, self.real_target)  # (n,)
        fake_target = self._targets(fake.score, self.fake_targets, 0.0)  # (n,)
        if self.flip_probability > 0:
            real_target = torch.where(self._flips(real.score), self._targets(real.score, self.fake_targets, 0.0),
                                      real_target)
            fake_target = torch.where(self._flips(fake.score),
                                      self._targets(fake.score, self.real_targets, self.real_target), fake_target)
        real_loss = F.binary_cross_entropy_with_logits(real.score, real_target)
        fake_loss = F.binary_cross_entropy_with_logits(fake.score, fake_target)
        return real_loss + fake_loss

    def generator_loss(self, fake: DOut) -> Tensor:
        if self.saturating:
            return -F.binary_cross_entropy_with_logits(fake.score, torch.zeros_like(fake.score))
        return F.binary_cross_entropy_with_logits(fake.score, torch.ones_like(fake.score))

    @staticmethod
    def _targets(score: Tensor, interval: tuple[float, float] | None, constant: float) -> Tensor:
        """`constant` for every sample, or one U(low, high) draw per sample."""
        if interval is None:
            return torch.full_like(score, constant)
        low, high = interval
        return torch.rand_like(score) * (high - low) + low

    def _flips(self, score: Tensor) -> Tensor:
        return torch.rand_like(score) < self.flip_probability  # (n,) bool


def _target_range(interval: Sequence[float] | None, key: str) -> tuple[float, float] | None:
    if interval is None:
        return None
    if len(interval) != 2 or not all(checks.is_int(v) or isinstance(v, float) for v in interval) \
            or not interval[0] <= interval[1]:
        raise checks.BadValue(key, "[low, high] with low <= high (e.g. [0.7, 1.2])", list(interval))
    return float(interval[0]), float(interval[1])
