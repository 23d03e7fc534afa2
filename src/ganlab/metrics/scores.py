"""FID, KID and IS from features, on torchmetrics.

torchmetrics computes the scores and, when several processes train together, sums (FID) or
gathers (KID, IS) every process's states inside `compute()` (`sync_on_compute`), so each process
feeds only its own share of real and generated images and all get the same scores. The feature
network runs outside (see real_features.py): torchmetrics receives features through a
pass-through module, which lets cached real features go in without images.

KID and IS keep lists of tensors that are gathered one list element per collective call, so every
process must hold the same number of elements, whatever the size of its share: the generated
features are therefore collected here and handed to the metrics in one `update` per evaluation
(and the real ones in one `update`).
"""
from __future__ import annotations

import warnings

import torch
from torch import Tensor, nn
from torchmetrics.image.fid import FrechetInceptionDistance
from torchmetrics.image.inception import InceptionScore
from torchmetrics.image.kid import KernelInceptionDistance

from ganlab.metrics.manifold import NAMES as MANIFOLD_NAMES
from ganlab.metrics.manifold import ManifoldMetrics


def score_names(kid: bool, inception_score: bool, manifold: bool = False) -> list[str]:
    """The names of the results `FeatureScores.compute` returns with these settings."""
    return (["fid"] + (["kid", "kid_std"] if kid else []) + (["is", "is_std"] if inception_score else [])
            + (list(MANIFOLD_NAMES) if manifold else []))


class PassThrough(nn.Identity):
    """The 'feature extractor' handed to torchmetrics: the inputs already are features."""

    def __init__(self, num_features: int):
        super().__init__()
        self.num_features = num_features  # read by FrechetInceptionDistance to size its states


class FeatureScores(nn.Module):
    """FID (always), KID (`kid`) and IS (`inception_score`, needs logits) of generated against
    real features. Real features stay between evaluations; `reset_generated()` clears the rest.

    Results: fid; kid and kid_std (mean and standard deviation over `kid_subsets` random subsets
    of `kid_subset_size` images, the polynomial-kernel MMD of Binkowski et al. 2018); is and
    is_std (over `is_splits` splits, Salimans et al. 2016); with `manifold`, precision and recall
    (Kynkaanniemi et al. 2019, k = `precision_recall_k`) and density and coverage (Naeem et al. 2020,
    k = `density_coverage_k`) on the same features (metrics/manifold.py).

    `distributed=False` scores this process's features alone, without a collective call: for what
    one process computes by itself (the classifier's held-out report on rank 0)."""

    def __init__(self, num_features: int, kid: bool = True, inception_score: bool = True,
                 kid_subsets: int = 100, kid_subset_size: int = 1000, is_splits: int = 10,
                 manifold: bool = False, precision_recall_k: int = 3, density_coverage_k: int = 5,
                 distributed: bool = True):
        super().__init__()
        sync = dict(sync_on_compute=distributed)
        with warnings.catch_warnings():  # "will save all extracted features in buffer": intended
            warnings.simplefilter("ignore", UserWarning)
            self.fid = FrechetInceptionDistance(feature=PassThrough(num_features), reset_real_features=False, **sync)
            self.kid = (KernelInceptionDistance(feature=PassThrough(num_features), subsets=kid_subsets,
                                                subset_size=kid_subset_size, reset_real_features=False, **sync)
                        if kid else None)
            self.inception_score = (InceptionScore(feature=nn.Identity(), splits=is_splits, **sync)
                                    if inception_score else None)
        self.manifold = ManifoldMetrics(precision_recall_k, density_coverage_k, **sync) if manifold else None
        self._generated: list[tuple[Tensor, Tensor | None]] = []  # this evaluation's batches

    @property
    def names(self) -> list[str]:
        return score_names(self.kid is not None, self.inception_score is not None, self.manifold is not None)

    def add_real(self, features: Tensor) -> None:
        """Real features (n, d) of this process's share."""
        self.fid.update(features, real=True)
        if self.kid is not None:
            self.kid.update(features, real=True)
        if self.manifold is not None:
            self.manifold.update(features, real=True)

    def add_generated(self, features: Tensor, logits: Tensor | None) -> None:
        """A batch of generated features (n, d) and class logits (n, k) of this process's share."""
        if self.inception_score is not None and logits is None:
            raise ValueError("IS needs class logits, but the feature network returned none")
        self._generated.append((features.detach(), None if logits is None else logits.detach()))

    def _update_generated(self) -> None:
        """Hands this evaluation's generated batches to the metrics: one update each (see above)."""
        if not self._generated:
            return
        features = torch.cat([f for f, _ in self._generated])  # (n, d)
        self.fid.update(features, real=False)
        if self.kid is not None:
            self.kid.update(features, real=False)
        if self.manifold is not None:
            self.manifold.update(features, real=False)
        if self.inception_score is not None:
            self.inception_score.update(torch.cat([logits for _, logits in self._generated]))  # (n, k)
        self._generated = []

    def compute(self) -> dict[str, float]:
        """The scores over every process's share (a collective call: every process must call it).
        KID and IS draw random subsets from torch's global generator: seed it for repeatable scores."""
        self._update_generated()
        results = {"fid": float(self.fid.compute())}
        if self.kid is not None:
            mean, std = self.kid.compute()
            results.update(kid=float(mean), kid_std=float(std))
        if self.inception_score is not None:
            mean, std = self.inception_score.compute()
            results.update({"is": float(mean), "is_std": float(std)})
        if self.manifold is not None:
            results.update(self.manifold.compute())
        return results

    def reset_generated(self) -> None:
        """Forgets the generated images (the real ones are kept)."""
        self._generated = []
        for metric in (self.fid, self.kid, self.inception_score, self.manifold):
            if metric is not None:
                metric.reset()
