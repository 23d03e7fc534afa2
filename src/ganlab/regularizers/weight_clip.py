"""Weight clipping of Arjovsky et al. 2017 (WGAN, Algorithm 1): a constraint, not a penalty."""
from __future__ import annotations

import torch
from torch import nn

from ganlab import checks
from ganlab.step import DiscriminatorStep, StepPart, Terms


class WeightClip(StepPart):
    """Clamps every discriminator parameter to [-clip_value, clip_value] in place, after each
    discriminator update (a part of the step, ganlab.step; conf/loss/wgan_clip.yaml: constraints)."""

    def __init__(self, clip_value: float = 0.01):
        self.clip_value = checks.positive(clip_value, "clip_value")

    @torch.no_grad()
    def __call__(self, discriminator: nn.Module) -> None:
        for p in discriminator.parameters():
            p.clamp_(-self.clip_value, self.clip_value)

    def discriminator_step_done(self, step: DiscriminatorStep) -> Terms:
        self(step.discriminator)
        return {}
