"""Linear decay of the learning rate to 0 over the budget, as SNGAN (Miyato et al. 2018), WGAN-GP
(Gulrajani et al. 2017) and mimicry (Lee & Town 2020) train."""
from __future__ import annotations

from ganlab.schedules.base import DecaySchedule


class LinearDecay(DecaySchedule):
    """factor(t) = 1 - t / total: 1 at the first iteration, 1/2 half-way, 0 at t = total (and after)."""

    def __call__(self, iteration: int) -> float:
        return 1.0 - self.progress(iteration)
