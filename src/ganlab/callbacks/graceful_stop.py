"""SIGINT (Ctrl-C) and SIGTERM (cluster pre-emption) stop training at the end of the current step;
the checkpoint callback then writes a resumable last.ckpt (at the end of training)."""
from __future__ import annotations

import logging
import os
import signal
import threading

import pytorch_lightning as pl
from torch.utils.data import DataLoader

from ganlab.stop import StopRequest

log = logging.getLogger(__name__)


class GracefulStop(pl.Callback):
    """The first SIGINT or SIGTERM lets the running step finish and stops training there (records it in
    `stop`, sets `trainer.should_stop`); the checkpoint callback writes `last.ckpt` at the end of
    training, and `ckpt_path=.../last.ckpt` then resumes at the same step. A second Ctrl-C stops at
    once (without a checkpoint), exit status 130.

    Lightning's own SIGTERM handler is replaced while training runs and restored afterwards. With
    several processes, the first rank that receives a signal stops them all at the same step.
    DataLoader workers ignore both signals (Ctrl-C and a cluster's SIGTERM reach every process of
    the job; a worker they killed would fail the run before it saved): the trainer stops them.
    `received` holds the signal number afterwards, and `stop` (shared with run()) says so; run()
    turns it into exit status 128 + signal."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self, stop: StopRequest | None = None):
        self.stop = stop if stop is not None else StopRequest()
        self.received: int | None = None  # the signal number, once one arrived
        self._previous: dict[int, object] = {}
        self._pid: int | None = None  # the training process; DataLoader workers inherit the handler

    def on_train_start(self, trainer, pl_module) -> None:
        if threading.current_thread() is not threading.main_thread():
            return  # signal handlers can only be installed from the main thread
        self._pid = os.getpid()
        for signum in self.SIGNALS:
            self._previous[signum] = signal.signal(signum, self._handle)
        for loader in _loaders(trainer.train_dataloader):  # their workers start after this hook
            if loader.num_workers > 0 and not isinstance(loader.worker_init_fn, IgnoreStopSignals):
                loader.worker_init_fn = IgnoreStopSignals(loader.worker_init_fn)

    def _handle(self, signum, frame) -> None:
        if self._pid is not None and os.getpid() != self._pid:
            return  # a DataLoader worker (Ctrl-C reaches the whole process group): the trainer decides
        if self.received is not None and signum == signal.SIGINT:
            log.warning("second Ctrl-C: stopping at once, without a checkpoint (the last one saved is kept)")
            # Not KeyboardInterrupt: Lightning turns that into exit status 1. This passes through
            # Lightning's teardown and ends the process with 130, as Ctrl-C should.
            raise SystemExit(128 + signal.SIGINT)
        self.received = signum
        log.warning("%s received: stopping after the current step and saving a checkpoint "
                    "(press Ctrl-C again to stop at once, without one)", signal.Signals(signum).name)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        stop = self.received is not None
        if trainer.world_size > 1:  # every rank stops at the same step, even if one got the signal
            stop = trainer.strategy.reduce_boolean_decision(stop, all=False)
        if not stop:
            return
        if self.received is None:
            self.received = signal.SIGTERM  # another rank received it
        self.stop.request(signal.Signals(self.received).name, self.received)
        trainer.should_stop = True

    def on_train_end(self, trainer, pl_module) -> None:
        self._restore_handlers()

    def on_exception(self, trainer, pl_module, exception) -> None:
        self._restore_handlers()

    def _restore_handlers(self) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous.clear()


class IgnoreStopSignals:
    """A DataLoader `worker_init_fn` (wrapping the one it had, e.g. Lightning's worker seeding): the
    worker ignores SIGINT and SIGTERM and leaves stopping to the training process."""

    def __init__(self, inner=None):
        self.inner = inner

    def __call__(self, worker_id: int) -> None:
        for signum in GracefulStop.SIGNALS:
            signal.signal(signum, signal.SIG_IGN)
        if self.inner is not None:
            self.inner(worker_id)


def _loaders(loaders) -> list[DataLoader]:
    """The DataLoaders in what `trainer.train_dataloader` returns (one, or a list or dict of them)."""
    if isinstance(loaders, DataLoader):
        return [loaders]
    if isinstance(loaders, dict):
        loaders = list(loaders.values())
    return [loader for loader in loaders or [] if isinstance(loader, DataLoader)]
