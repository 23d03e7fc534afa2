"""Losses that go wrong on purpose at a chosen discriminator step: divergence and reliability tests."""
from __future__ import annotations

from ganlab.losses import NonSaturatingLoss


class LossChangedAt(NonSaturatingLoss):
    """The GAN loss, except that D's loss goes through `changed` at discriminator step `step`
    (in a run: loss.objective._target_=helpers.NaNLossAt +loss.objective.step=K)."""

    def __init__(self, step: int, **kwargs):
        super().__init__(**kwargs)
        self.step, self.calls = step, 0

    def changed(self, loss):
        raise NotImplementedError

    def discriminator_loss(self, real, fake):
        self.calls += 1
        loss = super().discriminator_loss(real, fake)
        return self.changed(loss) if self.calls == self.step else loss


class NaNLossAt(LossChangedAt):
    """D's loss is NaN at discriminator step `step`."""

    def changed(self, loss):
        return loss * float("nan")


class ExplodingLossAt(LossChangedAt):
    """D's loss is multiplied by 1e9 (finite, far beyond divergence.max_abs_loss) at discriminator step
    `step`: a run exploding as a huge learning rate makes it explode."""

    def changed(self, loss):
        return loss * 1e9
