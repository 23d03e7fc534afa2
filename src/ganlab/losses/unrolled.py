"""Unrolled GAN (Metz et al. 2017) for any adversarial loss: `unrolled=default` (conf/unrolled/).

The wrapped objective trains D exactly as it would alone; G's loss is the objective's generator
loss against D moved `steps` differentiable Adam steps ahead on the objective's discriminator loss
(ganlab/unrolled.py), so G's gradient includes how D would answer its samples. steps = 0 is the
plain objective.
"""
from __future__ import annotations

import dataclasses

from torch import Tensor, nn

from ganlab import checks
from ganlab.losses.base import AdversarialLoss
from ganlab.networks.output import DOut
from ganlab.step import DiscriminatorStep, GeneratorStep, Terms
from ganlab.unrolled import lookahead


class UnrolledLoss(AdversarialLoss, nn.Module):
    """An nn.Module so that a wrapped objective with state (BEGAN's k_t) stays registered and saved."""

    def __init__(
        self,
        objective: AdversarialLoss,  # the loss being unrolled (loss.objective)
        steps: int = 5,  # k: look-ahead steps of D in G's loss (0: the plain objective)
    ):
        nn.Module.__init__(self)
        self.objective = objective
        self.steps = checks.count(steps, "steps")
        self.needs_real_for_generator = objective.needs_real_for_generator
        self.needs = objective.needs

    def discriminator_loss(self, real: DOut, fake: DOut) -> Tensor:
        return self.objective.discriminator_loss(real, fake)

    def generator_loss(self, fake: DOut, *real: DOut) -> Tensor:
        return self.objective.generator_loss(fake, *real)

    def real_fake_accuracy(self, real: DOut, fake: DOut) -> tuple[Tensor, Tensor]:
        return self.objective.real_fake_accuracy(real, fake)

    def discriminator_terms(self, step: DiscriminatorStep) -> Terms:
        return self.objective.discriminator_terms(step)

    def discriminator_step_done(self, step: DiscriminatorStep) -> Terms:
        return self.objective.discriminator_step_done(step)

    def generator_terms(self, step: GeneratorStep) -> Terms:
        if self.steps == 0:
            return self.objective.generator_terms(step)
        if step.discriminator_optimizer is None:
            raise ValueError("the unrolled GAN needs D's optimiser in the generator step")
        real, fake = step.augment(step.real), step.augment(step.fake)

        def d_loss(discriminator) -> Tensor:  # D's loss on this iteration's batches, fake still in G's graph
            return self.objective.discriminator_loss(discriminator(real, step.labels), discriminator(fake, step.labels))

        ahead = lookahead(step.discriminator, step.discriminator_optimizer, self.steps, d_loss)
        ahead_step = dataclasses.replace(step, discriminator=ahead, d_fake=ahead(fake, step.labels))
        return self.objective.generator_terms(ahead_step)
