"""Generators G(z, y=None) -> (N, C, H, W) in [-1, 1] and discriminators D(x, y=None) -> DOut."""
from ganlab.networks.output import DOut

__all__ = ["DOut"]
