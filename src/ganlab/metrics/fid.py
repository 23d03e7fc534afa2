"""Fréchet Inception Distance (Heusel et al. 2017): the Fréchet distance between Gaussians fitted to
the real and the generated features, computed by torchmetrics (float64 statistics)."""
from __future__ import annotations

import warnings

from torch import Tensor, nn
from torchmetrics.image.fid import FrechetInceptionDistance

from ganlab.metrics.features import Features
from ganlab.metrics.metric import FeatureMetric


class PassThrough(nn.Identity):
    """The 'feature extractor' handed to torchmetrics: the inputs already are features."""

    def __init__(self, num_features: int):
        super().__init__()
        self.num_features = num_features  # read by torchmetrics to size its states


class FID(FeatureMetric):
    """fid: |mu_r - mu_g|^2 + Tr(S_r + S_g - 2 (S_r S_g)^(1/2)) of the features."""

    names = ("fid",)

    def compute(self, real: Features, fake: Features, labels: Tensor | None) -> dict[str, float]:
        metric = quiet(lambda: FrechetInceptionDistance(feature=PassThrough(real.features.shape[1]),
                                                        sync_on_compute=False)).to(real.features.device)
        metric.update(real.features, real=True)
        metric.update(fake.features.to(real.features.device), real=False)
        return {"fid": float(metric.compute())}


def quiet(make):
    """Builds a torchmetrics metric without its "will save all extracted features" warning (intended)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return make()
