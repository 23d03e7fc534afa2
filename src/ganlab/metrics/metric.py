"""What every evaluation measure of `callbacks/metrics` is: an object that scores generated against
real images from the features one feature network computed for all of them.

The metrics callback (callbacks/metrics.py) runs the feature network once per evaluation, gathers
every process's share of the generated features (in the order of the fixed noise), and hands the same
real and generated `Features` to each metric of its `scores`. A new measure is one class with `names`
and `compute` (and `check` where a setting can be wrong for the data) plus one line of YAML under
`callbacks.metrics.scores` (docs/extending.md).
"""
from __future__ import annotations

from torch import Tensor

from ganlab.metrics.features import Features


class FeatureMetric:
    """A measure of generated against real images over shared features."""

    names: tuple[str, ...] = ()  # the keys `compute` returns, known before training (TensorBoard's columns)

    def check(self, real: Features, num_classes: int, num_samples: int) -> None:
        """At fit start, with the real features: raises ValueError when this metric cannot work with
        them (no logits for IS, more neighbours than images, ...). The callback names the config key."""

    def compute(self, real: Features, fake: Features, labels: Tensor | None) -> dict[str, float]:
        """The scores of the generated features `fake` (m, d) (and logits (m, k) where the network has
        them) against the real ones `real` (n, d); `labels` (m,): the classes the generated images were
        asked for (conditional generators), else None. Random draws use torch's global generator,
        which the callback seeds: the same features give the same scores."""
        raise NotImplementedError
