"""Inception Score (Salimans et al. 2016): exp E_x KL(p(y|x) || p(y)) of the feature network's class
predictions on the generated images (torchmetrics); needs a network that returns class logits."""
from __future__ import annotations

from torch import Tensor, nn
from torchmetrics.image.inception import InceptionScore as TorchmetricsInceptionScore

from ganlab import checks
from ganlab.metrics.features import Features
from ganlab.metrics.fid import quiet
from ganlab.metrics.metric import FeatureMetric


class InceptionScore(FeatureMetric):
    """is and is_std: mean and standard deviation over `splits` splits of the generated images."""

    names = ("is", "is_std")

    def __init__(self, splits: int = 10):
        self.splits = checks.positive_int(splits, "splits")

    def check(self, real: Features, num_classes: int, num_samples: int) -> None:
        if real.logits is None:
            raise ValueError("IS needs class logits, but the feature network returns features only; drop it "
                             "(callbacks.metrics.scores.is=null) or return (features, logits) from the network")

    def compute(self, real: Features, fake: Features, labels: Tensor | None) -> dict[str, float]:
        if fake.logits is None:
            raise ValueError("IS needs class logits, but the feature network returned none")
        metric = quiet(lambda: TorchmetricsInceptionScore(feature=nn.Identity(), splits=self.splits,
                                                          sync_on_compute=False)).to(fake.logits.device)
        metric.update(fake.logits)
        mean, std = metric.compute()
        return {"is": float(mean), "is_std": float(std)}
