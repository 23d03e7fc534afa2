"""Weight clipping of Arjovsky et al. 2017 (WGAN, Algorithm 1): a constraint, not a penalty."""
from __future__ import annotations

import torch
from torch import nn

from ganlab import checks


class WeightClip:
    """Clamps every discriminator parameter to [-clip_value, clip_value] in place.

    The training step calls it on D after each discriminator update (conf/loss/*.yaml: constraints).
    """

    def __init__(self, clip_value: float = 0.01):
        self.clip_value = checks.positive(clip_value, "clip_value")

    @torch.no_grad()
    def __call__(self, discriminator: nn.Module) -> None:
        for p in discriminator.parameters():
            p.clamp_(-self.clip_value, self.clip_value)
