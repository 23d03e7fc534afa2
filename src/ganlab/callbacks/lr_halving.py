"""Halving both players' learning rates when a convergence measure stalls: BEGAN's schedule
(Berthelot et al. 2017, sec. 4.1: the lr decays by a factor of 2 when the convergence measure
M_global stalls), in the form of the public re-implementations (carpedm20/BEGAN-pytorch): every
`window` generator iterations, the mean of the monitored step term over those iterations is
compared with the previous window's mean, and both learning rates are halved unless it improved
(fell below `(1 - min_improvement)` times it).

The monitored value is a step term the training step returns (module.py), `began/m_global` for
`loss=began`. It is summed on the device and read once per window. The halving scales each
optimiser's configured lr (`optimizer.defaults["lr"]`, which `scheduler=...` multiplies by its
factor each iteration), so a schedule and the halving compose. The number of halvings and the
window in progress are saved in checkpoints; a resumed run continues at the halved rates.
TensorBoard: `lr/g`, `lr/d` (the module's) and `<monitor>_window`, the mean of each window;
metrics.json: final/<monitor>_window (the last window's) and final/lr_halvings.
"""
from __future__ import annotations

import logging
from typing import Any

import pytorch_lightning as pl
import torch

from ganlab import checks, names
from ganlab.config_checks import ConfigError

log = logging.getLogger(__name__)


class StallHalving:
    """The decision rule alone: `end_window(mean)` after each window returns whether the lr halves;
    `factor` is the lr's factor so far (`rate ** halvings`). The first window only sets the
    reference (the re-implementation compares it with a fixed 1.0; here nothing precedes it)."""

    def __init__(self, rate: float = 0.5, min_improvement: float = 1e-4):
        self.rate = checks.number(rate, "rate", 0.0, 1.0, low_open=True, high_open=True)
        self.min_improvement = checks.number(min_improvement, "min_improvement", 0.0, 1.0, high_open=True)
        self.previous: float | None = None  # the last window's mean
        self.halvings = 0

    @property
    def factor(self) -> float:
        return self.rate ** self.halvings

    def end_window(self, mean: float) -> bool:
        stalled = self.previous is not None and not mean < self.previous * (1.0 - self.min_improvement)
        if stalled:
            self.halvings += 1
        self.previous = float(mean)
        return stalled


class HalveLearningRateOnStall(pl.Callback):
    def __init__(
        self,
        monitor: str = "began/m_global",  # a step term (lower is better)
        window: int = 1000,  # generator iterations per window
        rate: float = 0.5,  # the lr's factor at each stall
        min_improvement: float = 1e-4,  # relative fall of the window mean that counts as progress
    ):
        self.monitor = monitor
        self.window = checks.positive_int(window, "window")
        self.rule = StallHalving(rate, min_improvement)
        self.total: torch.Tensor | None = None  # the window's sum so far, on the device
        self.count = 0
        self.base_lr: list[float] = []  # each optimiser's configured lr before any halving

    # --- what train.py reads -------------------------------------------------------------------
    @property
    def summary_names(self) -> list[str]:
        return [names.final(f"{self.monitor}_window"), names.final("lr_halvings")]

    def summary(self) -> dict[str, float]:
        """The last complete window's mean of the monitor and the number of halvings (metrics.json)."""
        last = {} if self.rule.previous is None else {names.final(f"{self.monitor}_window"): self.rule.previous}
        return {**last, names.final("lr_halvings"): float(self.rule.halvings)}

    # --- Lightning hooks -------------------------------------------------------------------------
    def on_train_start(self, trainer, pl_module) -> None:
        self.base_lr = [float(optimizer.defaults["lr"]) for optimizer in trainer.optimizers]
        self._apply(trainer)  # a resumed run: the halvings so far

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if not isinstance(outputs, dict) or self.monitor not in outputs:
            raise ConfigError(f"callbacks.lr_halving monitors the step term {self.monitor!r}, which this run's "
                              f"training step does not return (it returns {sorted(outputs or {})}); set "
                              "callbacks.lr_halving.monitor or remove callbacks.lr_halving")
        value = outputs[self.monitor].detach().float()
        self.total = value if self.total is None else self.total.to(value.device) + value
        self.count += 1
        if self.count < self.window:
            return
        mean = self.total.item() / self.count  # one read per window
        self.total, self.count = None, 0
        if self.rule.end_window(mean):
            self._apply(trainer)
            log.info("generator iteration %d: %s averaged %.4g over the last %d iterations, no better than "
                     "before: learning rates x%g (halved %d times)", pl_module.g_iter, self.monitor, mean,
                     self.window, self.rule.factor, self.rule.halvings)
        for logger in trainer.loggers:
            logger.log_metrics({f"{self.monitor}_window": mean}, step=pl_module.g_iter)

    def _apply(self, trainer) -> None:
        for optimizer, base in zip(trainer.optimizers, self.base_lr):
            optimizer.defaults["lr"] = base * self.rule.factor
            for group in optimizer.param_groups:
                group["lr"] = base * self.rule.factor

    def state_dict(self) -> dict[str, Any]:
        return {"previous": self.rule.previous, "halvings": self.rule.halvings, "count": self.count,
                "total": None if self.total is None else float(self.total)}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.rule.previous = state_dict.get("previous")
        self.rule.halvings = int(state_dict.get("halvings", 0))
        self.count = int(state_dict.get("count", 0))
        total = state_dict.get("total")
        self.total = None if total is None else torch.tensor(total)
