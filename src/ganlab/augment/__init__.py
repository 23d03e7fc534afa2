"""Augmentations applied to real and generated images before the discriminator (`augment=...`)."""
from ganlab.augment.diffaugment import POLICIES, DiffAugment
from ganlab.augment.instance_noise import InstanceNoise

__all__ = ["POLICIES", "DiffAugment", "InstanceNoise"]
