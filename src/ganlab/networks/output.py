"""What every discriminator returns: the contract between networks and losses."""
from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor


@dataclass
class DOut:
    """A discriminator's output. Losses read the fields they need.

    score:          (N,) realness logit, critic value or, for an energy-based critic, the energy.
    features:       (N, F) penultimate features (projection conditioning, EBGAN's pull-away term).
    class_logits:   (N, K) auxiliary classifier logits (AC-GAN), else None.
    reconstruction: (N, C, H, W) an autoencoder critic's reconstruction (EBGAN), else None.
    """

    score: Tensor
    features: Tensor | None = None
    class_logits: Tensor | None = None
    reconstruction: Tensor | None = None
