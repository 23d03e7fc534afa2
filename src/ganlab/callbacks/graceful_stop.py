"""SIGINT (Ctrl-C) and SIGTERM (cluster pre-emption) stop training at the end of the current step,
after a resumable checkpoint is written."""
from __future__ import annotations

import logging
import signal
import threading

import pytorch_lightning as pl

from ganlab.callbacks.iteration_checkpoint import IterationCheckpoint

log = logging.getLogger(__name__)


class GracefulStop(pl.Callback):
    """The first SIGINT or SIGTERM lets the running step finish, saves `last.ckpt` through the run's
    IterationCheckpoint and stops; `ckpt_path=.../last.ckpt` then resumes at the same iteration.
    A second Ctrl-C interrupts at once."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self):
        self.received: int | None = None  # the signal number, once one arrived
        self._previous: dict[int, object] = {}

    def on_train_start(self, trainer, pl_module) -> None:
        if threading.current_thread() is not threading.main_thread():
            return  # signal handlers can only be installed from the main thread
        for signum in self.SIGNALS:
            self._previous[signum] = signal.signal(signum, self._handle)

    def _handle(self, signum, frame) -> None:
        if self.received is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.received = signum
        log.warning("%s received: stopping after the current step and saving a checkpoint",
                    signal.Signals(signum).name)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        stop = self.received is not None
        if trainer.world_size > 1:  # every rank stops at the same step, even if one got the signal
            stop = trainer.strategy.reduce_boolean_decision(stop, all=False)
        if not stop:
            return
        for callback in trainer.callbacks:
            if isinstance(callback, IterationCheckpoint):
                callback.save(trainer, callback.last_path)
                callback._saved_at = pl_module.g_iter
                log.warning("saved %s at generator iteration %d; resume with ckpt_path=%s",
                            callback.last_path, pl_module.g_iter, callback.last_path)
        trainer.should_stop = True

    def on_train_end(self, trainer, pl_module) -> None:
        self._restore_handlers()

    def on_exception(self, trainer, pl_module, exception) -> None:
        self._restore_handlers()

    def _restore_handlers(self) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous.clear()
