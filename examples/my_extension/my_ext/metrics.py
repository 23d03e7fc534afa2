"""A metric: the leave-one-out accuracy of a 1-nearest-neighbour classifier that tells real from
generated features (Lopez-Paz & Oquab 2017, "Revisiting Classifier Two-Sample Tests"; recommended for
GANs by Xu et al. 2018, "An empirical study on evaluation metrics of generative adversarial networks").

About 0.5 when the two sets are alike; near 1 when they separate. The real accuracy (share of real
points whose nearest neighbour is real) falls below 0.5 where G memorises training images; the fake
accuracy near 1 means generated points lie apart from the real ones (poor quality or collapse).

ganlab's contract (ganlab/metrics/metric.py): `names` and `compute(real, fake, labels)` over the
features the run's feature network computed once for every metric.
"""
from __future__ import annotations

import torch
from torch import Tensor

from ganlab.metrics import FeatureMetric, Features


class OneNearestNeighbourAccuracy(FeatureMetric):
    """one_nn_accuracy, one_nn_real and one_nn_fake (the accuracy on each set)."""

    names = ("one_nn_accuracy", "one_nn_real", "one_nn_fake")

    def compute(self, real: Features, fake: Features, labels: Tensor | None) -> dict[str, float]:
        x = torch.cat([real.features, fake.features.to(real.features.device)]).float()  # (n + m, d)
        is_real = torch.arange(len(x), device=x.device) < len(real.features)  # (n + m,)
        distances = torch.cdist(x, x)  # (n + m, n + m)
        distances.fill_diagonal_(float("inf"))  # leave one out: a point is not its own neighbour
        correct = is_real[distances.argmin(dim=1)] == is_real  # (n + m,)
        return {"one_nn_accuracy": correct.float().mean().item(),
                "one_nn_real": correct[is_real].float().mean().item(),
                "one_nn_fake": correct[~is_real].float().mean().item()}
