"""Checkpoints every N generator iterations, plus `last.ckpt`, written atomically."""
from __future__ import annotations

import logging
import os
from pathlib import Path

import pytorch_lightning as pl

from ganlab.checkpoints import CheckpointError
from ganlab.module import GANModule, all_finite

log = logging.getLogger(__name__)


class IterationCheckpoint(pl.Callback):
    """Saves `iter_XXXXXXX.ckpt` every `every_n` generator iterations and keeps `last.ckpt` current.

    Lightning's ModelCheckpoint counts `global_step` (every optimiser step of both players); this
    counts generator iterations, the unit of the budget. Each file is written to a temporary name
    and renamed, so a crash mid-save never leaves a truncated checkpoint behind, and a diverged
    state (NaN or Inf) is never saved.
    """

    def __init__(self, dirpath: str, every_n: int = 1000, keep_periodic: bool = True):
        if isinstance(every_n, bool) or not isinstance(every_n, int) or every_n < 1:
            raise ValueError(f"callbacks.checkpoint.every_n must be a positive integer, got {every_n!r}")
        self.dirpath = Path(dirpath)
        self.every_n = every_n
        self.keep_periodic = keep_periodic
        self._saved_step: int | None = None  # trainer.global_step of the newest last.ckpt

    @property
    def last_path(self) -> Path:
        return self.dirpath / "last.ckpt"

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        g_iter = pl_module.g_iter
        if g_iter > 0 and g_iter % self.every_n == 0 and not self._is_saved(trainer):
            if self.keep_periodic:
                self.save(trainer, self.dirpath / f"iter_{g_iter:07d}.ckpt")
            self.save_last(trainer)

    def on_train_end(self, trainer, pl_module) -> None:
        self.save_last(trainer)

    def save_last(self, trainer: pl.Trainer) -> bool:
        """Brings `last.ckpt` up to the current step (written once per step); returns whether it is."""
        if self._is_saved(trainer):
            return True
        if not self.save(trainer, self.last_path):
            return False
        self._saved_step = trainer.global_step
        return True

    def save(self, trainer: pl.Trainer, path: Path) -> bool:
        return save_atomically(trainer, path)

    def _is_saved(self, trainer: pl.Trainer) -> bool:
        # global_step counts every optimiser step: it tells apart the D-only steps of one iteration
        return self._saved_step == trainer.global_step


def save_atomically(trainer: pl.Trainer, path: Path) -> bool:
    """Writes the trainer's checkpoint to `<path>.tmp`, flushes it to disk and renames it to `path`:
    a crash or a full disk mid-save leaves the previous `path` intact. Refuses weights holding NaN or
    Inf: a GANModule first raises its DivergenceError (naming the iteration); any other NaN/Inf is
    logged and nothing is written. Collective: every rank calls it, rank 0 writes. Returns whether it
    was written."""
    module = trainer.lightning_module
    if isinstance(module, GANModule):
        module.check_divergence()
    if not bool(all_finite(module)):
        log.error("not saving %s: the weights hold NaN or Inf values; the last good checkpoint is kept", path)
        return False
    tmp = path.with_name(path.name + ".tmp")
    try:
        trainer.save_checkpoint(tmp, weights_only=False)  # every rank takes part, rank 0 writes (over a stale .tmp)
        if trainer.is_global_zero:
            _flush_to_disk(tmp)
            os.replace(tmp, path)  # atomic on POSIX and Windows
            _flush_to_disk(path.parent)
    except OSError as error:
        if trainer.is_global_zero:
            tmp.unlink(missing_ok=True)
        raise CheckpointError(f"could not write the checkpoint {path} ({error}); the previous one, if any, "
                              "is intact. Free some space or choose a writable paths.log_dir.") from error
    trainer.strategy.barrier("ganlab_checkpoint")
    return True


def _flush_to_disk(path: Path) -> None:
    """fsync: the renamed file holds its data even after a power loss (best effort for directories)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return  # e.g. directories on Windows
    try:
        os.fsync(fd)
    except OSError:
        if not path.is_dir():
            raise
    finally:
        os.close(fd)
