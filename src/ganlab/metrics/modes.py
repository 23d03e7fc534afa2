"""Mode-collapse measures on a mixture of isotropic Gaussians with known means, as in PacGAN's
Table 1 (Lin et al. 2018; after VEEGAN, Srivastava et al. 2017):

- high quality: a sample within 3 standard deviations of its nearest mode;
- modes captured: modes that are the nearest mode of at least one high-quality sample;
- reverse KL: KL(p || uniform) = log K - H(p), where p is the histogram of the high-quality
  samples over the K modes (0 when they spread evenly; log K when all sit on one mode). Undefined
  (NaN) when no sample is of high quality.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

NAMES = ("modes", "high_quality", "reverse_kl")  # the scalars of ModeStats.scalars()


@dataclass
class ModeStats:
    counts: Tensor  # (K,) int64: high-quality samples per mode
    num_samples: int  # samples evaluated

    @property
    def modes(self) -> int:
        return int((self.counts > 0).sum())

    @property
    def high_quality(self) -> float:
        """Share of high-quality samples, in [0, 1]."""
        return int(self.counts.sum()) / self.num_samples

    @property
    def reverse_kl(self) -> float:
        return reverse_kl_to_uniform(self.counts)

    def scalars(self) -> dict[str, float]:
        return {"modes": float(self.modes), "high_quality": self.high_quality, "reverse_kl": self.reverse_kl}


def nearest_modes(points: Tensor, means: Tensor) -> tuple[Tensor, Tensor]:
    """(index of the nearest mean (n,), distance to it (n,)) for points (n, d) and means (K, d)."""
    distances = torch.cdist(points.double(), means.double())  # (n, K)
    distance, index = distances.min(dim=1)
    return index, distance


def mode_counts(points: Tensor, means: Tensor, sigma: float, threshold: float = 3.0) -> Tensor:
    """(K,) int64: per mode, the samples whose nearest mode it is and which lie within
    `threshold` * sigma of it."""
    if points.ndim != 2 or points.shape[1] != means.shape[1]:
        raise ValueError(f"points must be (n, {means.shape[1]}), got {tuple(points.shape)}")
    index, distance = nearest_modes(points, means)
    good = distance < threshold * sigma
    return torch.bincount(index[good], minlength=means.shape[0])


def reverse_kl_to_uniform(counts: Tensor) -> float:
    """KL(p || uniform over K) = log K - H(p) for the histogram `counts` (K,); NaN for an empty one."""
    total = counts.sum()
    if total == 0:
        return math.nan
    p = counts.double() / total
    entropy = -(p[p > 0] * p[p > 0].log()).sum()
    return float(math.log(counts.numel()) - entropy)


def mode_stats(points: Tensor, means: Tensor, sigma: float, threshold: float = 3.0) -> ModeStats:
    """All three measures of the samples `points` (n, d) for a mixture with `means` (K, d), `sigma`."""
    return ModeStats(mode_counts(points, means, sigma, threshold), num_samples=points.shape[0])
