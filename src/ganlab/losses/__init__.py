"""Adversarial losses, one per file."""
from ganlab.losses.base import AdversarialLoss
from ganlab.losses.non_saturating import NonSaturatingLoss

__all__ = ["AdversarialLoss", "NonSaturatingLoss"]
