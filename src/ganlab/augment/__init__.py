"""Augmentations applied to real and generated images before the discriminator (`augment=...`)."""
from ganlab.augment.diffaugment import POLICIES, DiffAugment

__all__ = ["POLICIES", "DiffAugment"]
