"""Class scores of generated images from a classifier of the data's own classes (the feature network
of `callbacks/metrics=classifier`, whose logits are the data's classes):

- `class_accuracy` (conditional generators): the share of generated images classified as the class
  they were generated for, as the AC-GAN (Odena et al. 2017) and projection-discriminator (Miyato &
  Koyama 2018) papers report it. Read it against the classifier's accuracy on held-out real images.
- `class_share_min`: the share of generated images given to the rarest predicted class (MNIST's
  real digits: about 0.09 each; 0 when a class is never drawn), the quick check for dropped or
  starved modes of an unconditional generator.
"""
from __future__ import annotations

import torch
from torch import Tensor

from ganlab.metrics.features import Features
from ganlab.metrics.metric import FeatureMetric

CLASS_SCORE_NAMES = ("class_share_min", "class_accuracy")


def class_scores(logits: Tensor, labels: Tensor | None) -> dict[str, float]:
    """logits (n, k) of the classifier; labels (n,) the requested classes, or None (unconditional:
    no class_accuracy)."""
    predicted = logits.argmax(1)  # (n,)
    counts = torch.bincount(predicted, minlength=logits.shape[1])  # (k,) per predicted class
    results = {"class_share_min": float(counts.min()) / len(predicted)}
    if labels is not None:
        results["class_accuracy"] = float((predicted == labels.to(predicted.device)).sum()) / len(predicted)
    return results


class ClassScores(FeatureMetric):
    """class_share_min, and class_accuracy when the generator is conditional."""

    names = CLASS_SCORE_NAMES

    def check(self, real: Features, num_classes: int, num_samples: int) -> None:
        found = None if real.logits is None else real.logits.shape[1]
        if found != num_classes:
            raise ValueError(f"class scores need a feature network whose logits are the data's {num_classes} "
                             f"classes (callbacks/metrics=classifier); this one returns {found}. Drop them "
                             "(callbacks.metrics.scores.class_scores=null).")

    def compute(self, real: Features, fake: Features, labels: Tensor | None) -> dict[str, float]:
        if fake.logits is None:
            raise ValueError("class scores need class logits, but the feature network returned none")
        return class_scores(fake.logits, labels)
