"""k-nearest-neighbour manifold metrics of generated against real features:

- precision and recall (Kynkaanniemi et al. 2019, "Improved Precision and Recall Metric for
  Assessing Generative Models", NeurIPS): each set's manifold is the union of balls around its
  points, each ball's radius the distance to the point's k-th nearest neighbour in its own set
  (k = 3 in the paper). Precision: the share of generated points inside the real manifold (quality);
  recall: the share of real points inside the generated manifold (diversity).
- density and coverage (Naeem et al. 2020, "Reliable Fidelity and Diversity Metrics for Generative
  Models", ICML), from the real balls only (k = 5 in the paper), robust to outliers: density counts
  how many real balls hold each generated point, divided by k (about 1 when the two sets match, above
  1 where fakes crowd into dense regions); coverage is the share of real points whose ball holds at
  least one generated point.

A point lies inside a ball when its distance is <= the radius (a closed ball, as in the reference
implementation of Kynkaanniemi et al. and torch-fidelity's `prc`). Written here rather than taken
from a package: torch-fidelity (ganlab's optional `metrics` extra, not installed by default) has
precision and recall but not density and coverage, and the authors' `prdc` package computes the
full distance matrices in NumPy on the CPU; this file computes all four in one blockwise pass over
the distances, on the features' device. tests/unit/test_manifold_metrics.py checks it on point
clouds with known values, and against torch-fidelity and prdc where they are installed.
"""
from __future__ import annotations

import torch
from torch import Tensor

from ganlab import checks
from ganlab.metrics.features import Features
from ganlab.metrics.metric import FeatureMetric

NAMES = ("precision", "recall", "density", "coverage")


def kth_neighbour_distances(x: Tensor, ks: tuple[int, ...], batch_size: int = 1024) -> list[Tensor]:
    """For each k in `ks`: (n,) the distance of every row of x (n, d) to its k-th nearest other row
    (the row itself, at distance 0, is not counted)."""
    largest = max(ks)
    if x.shape[0] <= largest:
        raise ValueError(f"k-nearest-neighbour metrics with k = {largest} need more than {largest} samples, "
                         f"got {x.shape[0]}")
    nearest = torch.cat([torch.cdist(block, x).topk(largest + 1, dim=1, largest=False).values
                         for block in x.split(batch_size)])  # (n, largest + 1), ascending; column 0: itself
    return [nearest[:, k] for k in ks]


def manifold_metrics(real: Tensor, fake: Tensor, precision_recall_k: int = 3, density_coverage_k: int = 5,
                     batch_size: int = 1024) -> dict[str, float]:
    """precision, recall, density and coverage of `fake` (m, d) against `real` (n, d)."""
    if real.dim() != 2 or fake.dim() != 2 or real.shape[1] != fake.shape[1]:
        raise ValueError(f"real and generated features must be (n, d) and (m, d), got {tuple(real.shape)} and "
                         f"{tuple(fake.shape)}")
    real, fake = real.float(), fake.float()
    real_pr, real_dc = kth_neighbour_distances(real, (precision_recall_k, density_coverage_k), batch_size)  # (n,)
    (fake_pr,) = kth_neighbour_distances(fake, (precision_recall_k,), batch_size)  # (m,)
    inside_precision = []  # per generated point: inside some real ball (k = precision_recall_k)
    density_counts = []  # per generated point: the real balls (k = density_coverage_k) holding it
    recalled = torch.zeros(len(real), dtype=torch.bool, device=real.device)  # per real point: in some fake ball
    nearest_fake = torch.full((len(real),), float("inf"), device=real.device)  # per real point
    for start in range(0, len(fake), batch_size):
        distances = torch.cdist(fake[start:start + batch_size], real)  # (b, n)
        inside_precision.append((distances <= real_pr).any(dim=1))
        density_counts.append((distances <= real_dc).sum(dim=1))
        recalled |= (distances <= fake_pr[start:start + batch_size, None]).any(dim=0)
        nearest_fake = torch.minimum(nearest_fake, distances.min(dim=0).values)
    return {
        "precision": torch.cat(inside_precision).float().mean().item(),
        "recall": recalled.float().mean().item(),
        "density": torch.cat(density_counts).float().sum().item() / (density_coverage_k * len(fake)),
        "coverage": (nearest_fake <= real_dc).float().mean().item(),
    }


class PRDC(FeatureMetric):
    """precision, recall (k = `precision_recall_k`, the paper's 3), density and coverage
    (k = `density_coverage_k`, the paper's 5) of the generated against the real features, in one
    blockwise pass of `batch_size` rows."""

    names = NAMES

    def __init__(self, precision_recall_k: int = 3, density_coverage_k: int = 5, batch_size: int = 1024):
        self.precision_recall_k = checks.positive_int(precision_recall_k, "precision_recall_k")
        self.density_coverage_k = checks.positive_int(density_coverage_k, "density_coverage_k")
        self.batch_size = checks.positive_int(batch_size, "batch_size")

    def check(self, real: Features, num_classes: int, num_samples: int) -> None:
        for key, k in (("precision_recall_k", self.precision_recall_k), ("density_coverage_k", self.density_coverage_k)):
            if k >= num_samples:
                raise ValueError(f"{key}={k} must be below callbacks.metrics.num_samples={num_samples}: "
                                 "each image needs that many neighbours")

    def compute(self, real: Features, fake: Features, labels: Tensor | None) -> dict[str, float]:
        return manifold_metrics(real.features, fake.features.to(real.features.device), self.precision_recall_k,
                                self.density_coverage_k, self.batch_size)
