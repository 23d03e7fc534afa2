"""Kernel Inception Distance (Binkowski et al. 2018): the unbiased MMD^2 with the cubic polynomial
kernel between real and generated features, averaged over random subsets (torchmetrics)."""
from __future__ import annotations

from torch import Tensor
from torchmetrics.image.kid import KernelInceptionDistance

from ganlab import checks
from ganlab.metrics.features import Features
from ganlab.metrics.fid import PassThrough, quiet
from ganlab.metrics.metric import FeatureMetric


class KID(FeatureMetric):
    """kid and kid_std: mean and standard deviation over `subsets` random subsets of `subset_size`
    images of each set (None: min(1000, number of images))."""

    names = ("kid", "kid_std")

    def __init__(self, subsets: int = 100, subset_size: int | None = None):
        self.subsets = checks.positive_int(subsets, "subsets")
        self.subset_size = checks.or_null(checks.positive_int, subset_size, "subset_size", "min(1000, num_samples)")

    def check(self, real: Features, num_classes: int, num_samples: int) -> None:
        if self.subset_size is not None and self.subset_size > num_samples:
            raise ValueError(f"subset_size={self.subset_size} must be at most callbacks.metrics.num_samples="
                             f"{num_samples} (null: min(1000, num_samples))")

    def compute(self, real: Features, fake: Features, labels: Tensor | None) -> dict[str, float]:
        size = self.subset_size or min(1000, len(real.features), len(fake.features))
        metric = quiet(lambda: KernelInceptionDistance(feature=PassThrough(real.features.shape[1]),
                                                       subsets=self.subsets, subset_size=size,
                                                       sync_on_compute=False)).to(real.features.device)
        metric.update(real.features, real=True)
        metric.update(fake.features.to(real.features.device), real=False)
        mean, std = metric.compute()
        return {"kid": float(mean), "kid_std": float(std)}
