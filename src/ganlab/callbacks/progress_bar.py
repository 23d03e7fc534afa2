"""A progress bar over the budget: generator iterations done out of `iterations`, with the losses."""
from __future__ import annotations

import sys

from pytorch_lightning.callbacks import ProgressBar
from tqdm import tqdm

from ganlab import checks


class IterationProgressBar(ProgressBar):
    """One bar for the whole run (not one per epoch), counted in generator iterations."""

    def __init__(self, refresh_rate: int = 10):
        super().__init__()
        self.refresh_rate = checks.positive_int(refresh_rate, "refresh_rate")
        self._enabled = True
        self._bar: tqdm | None = None

    def disable(self) -> None:
        self._enabled = False

    def enable(self) -> None:
        self._enabled = True

    @property
    def is_enabled(self) -> bool:
        return self._enabled

    def on_train_start(self, trainer, pl_module) -> None:
        if self._enabled and trainer.is_global_zero:
            self._bar = tqdm(total=pl_module.iterations, initial=pl_module.g_iter, desc="Training",
                             unit="it", dynamic_ncols=True, file=sys.stderr, smoothing=0.1)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        # one batch = one generator iteration
        if self._bar is None:
            return
        if pl_module.g_iter % self.refresh_rate == 0 or pl_module.g_iter >= pl_module.iterations:
            metrics = self.get_metrics(trainer, pl_module)
            metrics.pop("v_num", None)
            self._bar.set_postfix({k: f"{float(v):.3g}" for k, v in metrics.items()}, refresh=False)
            self._bar.update(pl_module.g_iter - self._bar.n)

    def on_train_end(self, trainer, pl_module) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
