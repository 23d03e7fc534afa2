"""Checkpoints every N generator iterations, plus `last.ckpt`, written atomically."""
from __future__ import annotations

import logging
from pathlib import Path

import pytorch_lightning as pl

from ganlab import checks
from ganlab.atomic import write_atomically
from ganlab.checkpoints import CheckpointError
from ganlab.divergence import all_finite
from ganlab.module import GANModule

log = logging.getLogger(__name__)


class IterationCheckpoint(pl.Callback):
    """Saves `iter_XXXXXXX.ckpt` at the end of every `every_n`-th generator iteration and keeps
    `last.ckpt` current (then, at the end of training, and at the iteration where a stop was
    requested: `trainer.should_stop`, set by GracefulStop or TimeLimit before this callback runs).

    One Lightning batch is one generator iteration, so a checkpoint written at the end of the
    batch of iteration N holds exactly N generator and N x k discriminator steps, and each
    periodic file is written once. Each file is written to a temporary name and renamed, so a
    crash mid-save never leaves a truncated checkpoint behind, and a diverged state (NaN or Inf)
    is never saved.
    """

    def __init__(self, dirpath: str, every_n: int = 1000, keep_periodic: bool = True):
        self.dirpath = Path(dirpath)
        self.every_n = checks.positive_int(every_n, "every_n")
        self.keep_periodic = checks.flag(keep_periodic, "keep_periodic")
        self._last_holds: int | None = None  # the generator iteration last.ckpt holds (written by this run)

    @property
    def last_path(self) -> Path:
        return self.dirpath / "last.ckpt"

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if pl_module.g_iter % self.every_n == 0:
            if self.keep_periodic:
                save_atomically(trainer, self.dirpath / f"iter_{pl_module.g_iter:07d}.ckpt")
            self.save_last(trainer)
        elif trainer.should_stop:  # a stop (signal, max_time; run() lists those callbacks first): saved now,
            self.save_last(trainer)  # before the end-of-training work of other callbacks could fail

    def on_train_end(self, trainer, pl_module) -> None:
        self.save_last(trainer)

    def save_last(self, trainer: pl.Trainer) -> bool:
        """Brings `last.ckpt` up to the current generator iteration (written once per iteration);
        returns whether it holds it."""
        g_iter = trainer.lightning_module.g_iter
        if self._last_holds == g_iter:
            return True
        if not save_atomically(trainer, self.last_path):
            return False
        self._last_holds = g_iter
        return True


def save_atomically(trainer: pl.Trainer, path: Path) -> bool:
    """Writes the trainer's checkpoint to a temporary file, flushes it to disk and renames it to
    `path`: a crash or a full disk mid-save leaves the previous `path` intact. Refuses weights
    holding NaN or Inf: a GANModule first raises its DivergenceError (naming the iteration); any
    other NaN/Inf is logged and nothing is written. Collective: every rank calls it, rank 0 writes.
    Returns whether it was written."""
    module = trainer.lightning_module
    if isinstance(module, GANModule):
        module.check_divergence()
    if not bool(all_finite(module)):
        log.error("not saving %s: the weights hold NaN or Inf values; the last good checkpoint is kept", path)
        return False
    try:
        if trainer.is_global_zero:
            write_atomically(path, lambda tmp: trainer.save_checkpoint(tmp, weights_only=False))
        else:  # collective: the other ranks take part, rank 0 writes
            trainer.save_checkpoint(path.with_name(path.name + ".tmp"), weights_only=False)
    except OSError as error:
        raise CheckpointError(f"could not write the checkpoint {path} ({error}); the previous one, if any, "
                              "is intact. Free some space or choose a writable paths.log_dir.") from error
    trainer.strategy.barrier("ganlab_checkpoint")
    return True
