"""`best.ckpt`: the checkpoint with the best value of a metric so far, beside `last.ckpt`."""
from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any

import pytorch_lightning as pl

from ganlab.callbacks.iteration_checkpoint import save_atomically

log = logging.getLogger(__name__)

MODES = ("min", "max")


class BestCheckpoint:
    """Keeps `<dirpath>/<filename>` holding the checkpoint whose `monitor` value was best so far
    (lowest with mode=min, as FID and KID; highest with mode=max, as IS), rewritten atomically only
    when a new evaluation improves on it. A NaN value never counts as an improvement.

    Not a callback of its own: the metrics callback calls `update` right after each evaluation,
    so the weights saved are exactly the weights evaluated, whatever the order of the callbacks.
    Its state (the best value and iteration) is saved with the metrics callback's, so a resumed
    run keeps comparing against the best of the whole run."""

    def __init__(self, dirpath: str, monitor: str = "fid", mode: str = "min", filename: str = "best.ckpt"):
        if mode not in MODES:
            raise ValueError(f"callbacks.metrics.best_checkpoint.mode must be one of {MODES}, got {mode!r}")
        self.path = Path(dirpath) / filename
        self.monitor = monitor
        self.mode = mode
        self.best: float | None = None
        self.best_iter: int | None = None

    def improves(self, value: float) -> bool:
        if math.isnan(value):
            return False
        if self.best is None:
            return True
        return value < self.best if self.mode == "min" else value > self.best

    def update(self, trainer: pl.Trainer, g_iter: int, results: dict[str, float]) -> bool:
        """Saves the checkpoint if `results[monitor]` improves on the best so far; returns whether
        it did. Collective under several processes: the results are the same on every rank."""
        value = float(results[self.monitor])
        if not self.improves(value):
            return False
        previous = (self.best, self.best_iter)
        self.best, self.best_iter = value, g_iter  # before saving: the file records its own value
        if not save_atomically(trainer, self.path):
            self.best, self.best_iter = previous
            return False
        if trainer.is_global_zero:
            log.info("%s: %s %.4g at generator iteration %d (was %s)", self.path.name, self.monitor, value,
                     g_iter, "none" if previous[0] is None else f"{previous[0]:.4g}")
        return True

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best, "best_iter": self.best_iter, "monitor": self.monitor}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state.get("monitor") != self.monitor:  # another metric: its values do not compare
            return
        self.best, self.best_iter = state.get("best"), state.get("best_iter")
