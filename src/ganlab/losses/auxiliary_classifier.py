"""The class loss of AC-GAN (Odena, Olah & Shlens 2017): an auxiliary classifier on D's features."""
from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from ganlab import checks
from ganlab.names import D_CLASS, G_CLASS
from ganlab.networks.output import CLASS_LOGITS, PER_SAMPLE, DOut
from ganlab.step import DiscriminatorStep, GeneratorStep, StepPart, Terms


class AuxiliaryClassifierLoss(StepPart):
    """Added to both players' losses, next to any adversarial loss (`conditioning=acgan`).

    D: weight * (CE(classifier(x), y) + CE(classifier(G(z, y)), y)) — it learns to name the class of
       real and generated images (with `on_fake=false`, of real images only, a common variant that
       keeps D's classifier from learning G's mistakes).
    G: weight * CE(classifier(G(z, y)), y) — its samples should be recognisable as the class asked for.
    Reads DOut.class_logits (the discriminator's `aux_classifier=true` head). Step terms:
    `loss/d_class`, `loss/g_class`.
    """

    needs = frozenset({CLASS_LOGITS, PER_SAMPLE})  # a class for every sample

    def __init__(self, weight: float = 1.0, on_fake: bool = True):
        self.weight = checks.non_negative(weight, "weight")
        self.on_fake = on_fake

    def discriminator_loss(self, real: DOut, fake: DOut, y: Tensor) -> Tensor:
        loss = F.cross_entropy(_logits(real), y)
        if self.on_fake:
            loss = loss + F.cross_entropy(_logits(fake), y)
        return self.weight * loss

    def generator_loss(self, fake: DOut, y: Tensor) -> Tensor:
        return self.weight * F.cross_entropy(_logits(fake), y)

    def discriminator_terms(self, step: DiscriminatorStep) -> Terms:
        return {D_CLASS: self.discriminator_loss(step.d_real, step.d_fake, step.labels)}

    def generator_terms(self, step: GeneratorStep) -> Terms:
        return {G_CLASS: self.generator_loss(step.d_fake, step.labels)}


def _logits(out: DOut) -> Tensor:
    if out.class_logits is None:
        raise ValueError("the AC-GAN class loss needs class logits from the discriminator: set "
                         "model.discriminator.aux_classifier=true (conditioning=acgan does)")
    return out.class_logits.float()
