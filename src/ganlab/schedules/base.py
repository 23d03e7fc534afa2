"""The interface of a learning-rate schedule, and the one place that writes a learning rate."""
from __future__ import annotations

import torch

from ganlab import checks


class LRSchedule:
    """factor(t): the learning rate of generator iteration t (0-based) is initial_lr * factor(t).

    A pure function of t, so a resumed run, whose generator-iteration counter comes back from the
    checkpoint, continues with exactly the learning rates of an uninterrupted one.
    """

    def __call__(self, iteration: int) -> float:
        raise NotImplementedError


class DecaySchedule(LRSchedule):
    """A schedule that runs over `total` generator iterations (the budget, `iterations`)."""

    def __init__(self, total: int):
        self.total = checks.positive_int(total, "total")  # generator iterations

    def progress(self, iteration: int) -> float:
        """t / total, clamped to [0, 1]."""
        return min(max(iteration, 0), self.total) / self.total


def set_learning_rate(optimizer: torch.optim.Optimizer, schedule: LRSchedule, iteration: int) -> None:
    """Sets every parameter group's lr to the optimiser's configured lr (`optimizer.defaults`, what
    its constructor was given: the config's `optim.<player>.lr`) times schedule(iteration).

    `defaults` is not part of an optimiser's saved state, so a resumed run starts from the config's
    lr (an lr override given when resuming takes effect) and the schedule's factor from the restored
    iteration: nothing about the schedule needs saving.
    """
    lr = optimizer.defaults["lr"] * schedule(iteration)
    for group in optimizer.param_groups:
        group["lr"] = lr
