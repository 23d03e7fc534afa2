"""Discriminator regularisers (penalty terms) and constraints (post-step actions)."""
from ganlab.regularizers.base import Regularizer

__all__ = ["Regularizer"]
