"""A constant learning rate (the default, `scheduler=constant`)."""
from __future__ import annotations

from ganlab.schedules.base import LRSchedule


class Constant(LRSchedule):
    """factor(t) = 1."""

    def __call__(self, iteration: int) -> float:
        return 1.0
