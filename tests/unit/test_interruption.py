"""SIGINT and SIGTERM during training, in process: the running step finishes, last.ckpt is saved,
training stops; a second Ctrl-C stops at once with status 130 (start-up: tests/e2e/test_startup.py)."""
import os
import signal
from pathlib import Path
from types import SimpleNamespace

import pytest
import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader

from ganlab.callbacks.graceful_stop import GracefulStop, IgnoreStopSignals
from ganlab.callbacks.iteration_checkpoint import IterationCheckpoint

from helpers import fit_module, make_toy_module


class LastCheckpointAtTrainEnd(pl.Callback):
    """Records, when training ends (before the checkpoint callback's own end-of-training save), the
    generator iteration last.ckpt holds."""

    def __init__(self, dirpath: Path):
        self.path, self.g_iter = dirpath / "last.ckpt", None

    def on_train_end(self, trainer, pl_module):
        self.g_iter = saved(self.path)["ganlab"]["g_iter"] if self.path.exists() else None


class SignalAt(pl.Callback):
    """Sends `signum` to this process at the end of generator iteration `g_iter`."""

    def __init__(self, signum: int, g_iter: int):
        self.signum, self.g_iter = signum, g_iter

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if pl_module.g_iter == self.g_iter:
            os.kill(os.getpid(), self.signum)


toy_module = make_toy_module  # toy networks, the GAN loss, Adam, 10 iterations


def fit(module, callbacks=()) -> pl.Trainer:
    return fit_module(module, callbacks=callbacks)  # 64 images, batches of 8


def saved(path: Path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=False)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_signal_saves_last_checkpoint_and_stops(tmp_path, signum):
    before = signal.getsignal(signum)
    stop, checkpoints = GracefulStop(), IterationCheckpoint(str(tmp_path), every_n=1000)
    probe, module = LastCheckpointAtTrainEnd(tmp_path), toy_module(iterations=50)
    fit(module, [probe, SignalAt(signum, g_iter=3), stop, checkpoints])  # as run() orders them
    assert stop.received == signum and stop.stop.signal == signum and stop.stop.reason == signal.Signals(signum).name
    assert module.g_iter == 3  # the step that was running finished; no further step started
    assert probe.g_iter == 3  # saved at that step, before anything else (teardown) could fail
    assert saved(tmp_path / "last.ckpt")["ganlab"]["g_iter"] == 3
    assert signal.getsignal(signum) is before  # the handlers are put back after training


def test_signal_on_a_checkpoint_step_writes_once(tmp_path, monkeypatch):
    writes = []
    original = pl.Trainer.save_checkpoint
    monkeypatch.setattr(pl.Trainer, "save_checkpoint",
                        lambda self, path, *a, **k: (writes.append(Path(path).name.split(".")[0]),
                                                     original(self, path, *a, **k)))
    fit(toy_module(iterations=50), [SignalAt(signal.SIGTERM, g_iter=4), GracefulStop(),
                                    IterationCheckpoint(str(tmp_path), every_n=2)])
    assert writes == ["iter_0000002", "last", "iter_0000004", "last"]


def test_dataloader_workers_leave_stop_signals_to_the_trainer():
    calls, before = [], {signum: signal.getsignal(signum) for signum in GracefulStop.SIGNALS}
    try:
        IgnoreStopSignals(calls.append)(3)  # what a worker runs first
        assert all(signal.getsignal(signum) is signal.SIG_IGN for signum in GracefulStop.SIGNALS)
    finally:
        for signum, handler in before.items():
            signal.signal(signum, handler)
    assert calls == [3]  # the loader's own worker_init_fn still runs


def test_graceful_stop_wraps_worker_init_and_ignores_signals_in_workers(monkeypatch):
    loader = DataLoader(range(8), num_workers=2, worker_init_fn=print)
    stop = GracefulStop()
    stop.on_train_start(SimpleNamespace(train_dataloader=loader), None)
    try:
        assert isinstance(loader.worker_init_fn, IgnoreStopSignals) and loader.worker_init_fn.inner is print
        monkeypatch.setattr(os, "getpid", lambda: -1)  # a forked worker that inherited the handler
        stop._handle(signal.SIGTERM, None)
        assert stop.received is None
    finally:
        stop._restore_handlers()


def test_second_ctrl_c_interrupts_at_once_with_status_130():
    stop = GracefulStop()
    stop._handle(signal.SIGINT, None)
    with pytest.raises(SystemExit) as exit_info:  # not KeyboardInterrupt: Lightning makes that exit status 1
        stop._handle(signal.SIGINT, None)
    assert exit_info.value.code == 130


def test_second_ctrl_c_during_training_exits_130(tmp_path):
    """Through Lightning: the SystemExit survives its teardown (a KeyboardInterrupt became sys.exit(1))."""
    stop = GracefulStop()
    with pytest.raises(SystemExit) as exit_info:
        fit_module(make_toy_module(iterations=50), callbacks=[
            SignalAt(signal.SIGINT, g_iter=2), SignalAt(signal.SIGINT, g_iter=2), stop,
            IterationCheckpoint(str(tmp_path), every_n=1000)])
    assert exit_info.value.code == 130


@pytest.mark.parametrize("value, seconds", [(None, None), ("00:12:00:00", 43200.0), ("01:00:00:30", 86430.0),
                                            ({"hours": 1, "minutes": 30}, 5400.0), (90, 90.0), (0, 0.0)])
def test_max_time_is_read_as_lightning_reads_it(value, seconds):
    from ganlab.callbacks.time_limit import max_time_seconds

    assert max_time_seconds(value) == seconds


@pytest.mark.parametrize("value", ["12h", "00:12:00", -5, {"weeks": "x"}])
def test_a_bad_max_time_names_the_key(value):
    from ganlab.callbacks.time_limit import max_time_seconds
    from ganlab.config_checks import ConfigError

    with pytest.raises(ConfigError, match="trainer.max_time must"):
        max_time_seconds(value)


def test_max_time_stops_at_an_iteration_boundary_and_saves_last(tmp_path):
    from ganlab.callbacks.time_limit import TimeLimit
    from ganlab.stop import StopRequest

    stop = StopRequest()
    module = toy_module(iterations=50)
    fit(module, [TimeLimit(0, stop), IterationCheckpoint(str(tmp_path), every_n=1000)])
    assert module.g_iter == 1 and stop.reason == "trainer.max_time=0" and stop.signal is None
    assert saved(tmp_path / "last.ckpt")["ganlab"]["g_iter"] == 1
