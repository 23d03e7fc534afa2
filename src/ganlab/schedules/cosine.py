"""Cosine decay of the learning rate over the budget (Loshchilov & Hutter 2017, without restarts),
optionally to a floor, as R3GAN (Huang et al. 2024) decays 2e-4 to 5e-5."""
from __future__ import annotations

import math

from ganlab.schedules.base import DecaySchedule


class Cosine(DecaySchedule):
    """factor(t) = final + (1 - final) (1 + cos(pi t / total)) / 2: 1 at t = 0, (1 + final) / 2
    half-way, `final` at t = total and after."""

    def __init__(self, total: int, final: float = 0.0):
        super().__init__(total)
        if not 0.0 <= final <= 1.0:
            raise ValueError(f"scheduler.*.final must be in [0, 1] (a factor of the initial lr), got {final}")
        self.final = float(final)

    def __call__(self, iteration: int) -> float:
        return self.final + (1.0 - self.final) * 0.5 * (1.0 + math.cos(math.pi * self.progress(iteration)))
