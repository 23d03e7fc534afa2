"""Checkpoints every N generator iterations, plus `last.ckpt`, written atomically."""
from __future__ import annotations

import logging
import os
from pathlib import Path

import pytorch_lightning as pl
import torch

log = logging.getLogger(__name__)


def all_finite(module: torch.nn.Module) -> bool:
    """True when no parameter or buffer holds NaN or Inf."""
    tensors = [t for t in (*module.parameters(), *module.buffers()) if t.is_floating_point()]
    return bool(torch.stack([torch.isfinite(t).all() for t in tensors]).all()) if tensors else True


class IterationCheckpoint(pl.Callback):
    """Saves `iter_XXXXXXX.ckpt` every `every_n` generator iterations and keeps `last.ckpt` current.

    Lightning's ModelCheckpoint counts `global_step` (every optimiser step of both players); this
    counts generator iterations, the unit of the budget. Each file is written to a temporary name
    and renamed, so a crash mid-save never leaves a truncated checkpoint behind.
    """

    def __init__(self, dirpath: str, every_n: int = 1000, keep_periodic: bool = True):
        if every_n < 1:
            raise ValueError(f"callbacks.checkpoint.every_n must be >= 1, got {every_n}")
        self.dirpath = Path(dirpath)
        self.every_n = every_n
        self.keep_periodic = keep_periodic
        self._saved_at: int | None = None

    @property
    def last_path(self) -> Path:
        return self.dirpath / "last.ckpt"

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        g_iter = pl_module.g_iter
        if g_iter > 0 and g_iter % self.every_n == 0 and g_iter != self._saved_at:
            if self.keep_periodic:
                self.save(trainer, self.dirpath / f"iter_{g_iter:07d}.ckpt")
            self.save(trainer, self.last_path)
            self._saved_at = g_iter

    def on_train_end(self, trainer, pl_module) -> None:
        if pl_module.g_iter != self._saved_at:
            self.save(trainer, self.last_path)
            self._saved_at = pl_module.g_iter

    def save(self, trainer: pl.Trainer, path: Path) -> None:
        if not all_finite(trainer.lightning_module):
            log.error("not saving %s: the weights hold NaN or Inf values; the last good checkpoint is kept", path)
            return
        tmp = path.with_name(path.name + ".tmp")
        trainer.save_checkpoint(tmp)  # every rank takes part; only rank 0 writes
        if trainer.is_global_zero:
            os.replace(tmp, path)
        trainer.strategy.barrier("ganlab_checkpoint")
