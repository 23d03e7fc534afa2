"""The adversarial objective interface every loss implements."""
from __future__ import annotations

from torch import Tensor

from ganlab.diagnostics import threshold_accuracy
from ganlab.names import D_LOSS, G_LOSS
from ganlab.networks.output import DOut
from ganlab.step import DiscriminatorStep, GeneratorStep, StepPart, Terms


class AdversarialLoss(StepPart):
    """An adversarial objective: a discriminator loss and a generator loss, both scalars, reported
    as the step terms `loss/d` and `loss/g`.

    Losses only read discriminator outputs; regularisers (gradient penalty, R1) and constraints
    (weight clipping) are separate objects the training step applies, so any loss composes with any
    of them. A loss whose generator loss reads D's output on real data (the relativistic losses)
    sets `needs_real_for_generator = True` and takes `generator_loss(fake, real)`: `real` is D's
    output on the real batch of the iteration's last D step, computed in the G step only for such
    losses. A loss with state is also an `nn.Module` (see `ganlab.step.StepPart`).
    """

    needs_real_for_generator = False

    def discriminator_loss(self, real: DOut, fake: DOut) -> Tensor:
        raise NotImplementedError

    def generator_loss(self, fake: DOut, *real: DOut) -> Tensor:
        raise NotImplementedError

    def real_fake_accuracy(self, real: DOut, fake: DOut) -> tuple[Tensor, Tensor]:
        """The share of real samples D judges real and of fakes it judges fake (0-dim tensors, a
        diagnostic: both near 1 means D wins, real near 0.5 is the overfitting signal StyleGAN2-ADA
        watches). By default the sign of the score, D's decision as a classifier on logits; a loss
        whose scores mean something else overrides it."""
        return threshold_accuracy(real.score, fake.score)

    def discriminator_terms(self, step: DiscriminatorStep) -> Terms:
        return {D_LOSS: self.discriminator_loss(step.d_real, step.d_fake)}

    def generator_terms(self, step: GeneratorStep) -> Terms:
        real = (step.d_real,) if self.needs_real_for_generator else ()
        return {G_LOSS: self.generator_loss(step.d_fake, *real)}
