"""Class scores of generated images from a classifier of the data's own classes
(`callbacks/metrics=classifier`):

- `class_accuracy` (conditional generators): the share of generated images classified as the class
  they were generated for, as the AC-GAN (Odena et al. 2017) and projection-discriminator (Miyato &
  Koyama 2018) papers report it. Read it against the classifier's accuracy on held-out real images.
- `class_share_min`: the share of generated images given to the rarest predicted class (MNIST's
  real digits: about 0.09 each; 0 when a class is never drawn), the quick check for dropped or
  starved modes of an unconditional generator.
"""
from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

CLASS_SCORE_NAMES = ("class_share_min", "class_accuracy")


class ClassTally:
    """Counts, over the batches of one evaluation, the generated images per predicted class and
    those predicted as their requested class."""

    def __init__(self, num_classes: int, device: torch.device | str = "cpu"):
        self.counts = torch.zeros(num_classes, dtype=torch.long, device=device)  # (k,) per predicted class
        self.hits = torch.zeros((), dtype=torch.long, device=device)  # predicted == requested
        self.conditional = False

    def add(self, logits: Tensor, requested: Tensor | None) -> None:
        """A batch: logits (n, k) of the classifier, requested (n,) classes or None (unconditional)."""
        if logits.shape[1] != self.counts.shape[0]:
            raise ValueError(f"class scores: the classifier has {logits.shape[1]} classes, the data "
                             f"{self.counts.shape[0]}")
        predicted = logits.argmax(1)  # (n,)
        self.counts += torch.bincount(predicted, minlength=self.counts.shape[0])
        if requested is not None:
            self.conditional = True
            self.hits += (predicted == requested.to(predicted.device)).sum()

    def compute(self, reduce: Callable[[Tensor], Tensor] = lambda t: t) -> dict[str, float]:
        """The scores; `reduce` sums a tensor over processes (each holds its share of the images)."""
        counts, hits = reduce(self.counts.clone()), reduce(self.hits.clone())
        total = int(counts.sum())
        if total == 0:
            return {}
        results = {"class_share_min": float(counts.min()) / total}
        if self.conditional:
            results["class_accuracy"] = float(hits) / total
        return results
