"""Ctrl-C and SIGTERM before training starts (imports, configuration, data preparation).

train.py calls `guard_startup()` first thing, before the seconds of importing torch and Lightning.
Until GracefulStop takes the signals over at the first training step, SIGINT and SIGTERM end the
process at once: one line saying that nothing was trained yet, no traceback, exit status 130
(SIGINT) or 143 (SIGTERM), and the run directory this start-up created (if any) removed again, so
no half-made run is left behind. After training (`startup_over()`) Python's defaults are back.
Imports nothing heavy: it must be importable before torch.
"""
from __future__ import annotations

import logging
import os
import shutil
import signal
import sys
from pathlib import Path

SIGNALS = (signal.SIGINT, signal.SIGTERM)
_created: list[Path] = []  # directories this start-up created (the run directory)


def guard_startup() -> None:
    for signum in SIGNALS:
        signal.signal(signum, _stop_during_startup)


def created_during_startup(path: Path) -> None:
    """Registers a directory that start-up created, to be removed if start-up is interrupted."""
    _created.append(Path(path))


def discard_created() -> list[Path]:
    """Start-up failed (a config error): removes the run directories it created, unless they hold a
    checkpoint, so a run that never started leaves no empty directory behind. Returns those removed."""
    removed = [path for path in _created if _remove_unused(path)]
    _created.clear()
    return removed


def startup_over() -> None:
    """Training has run: Python's own signal handling from now on (if the guard was installed)."""
    _created.clear()
    for signum, default in ((signal.SIGINT, signal.default_int_handler), (signal.SIGTERM, signal.SIG_DFL)):
        if signal.getsignal(signum) is _stop_during_startup:
            signal.signal(signum, default)


def _stop_during_startup(signum: int, frame) -> None:
    for other in SIGNALS:  # a second Ctrl-C while this cleans up changes nothing
        signal.signal(other, signal.SIG_IGN)
    removed = [path for path in _created if _remove_unused(path)]
    name = signal.Signals(signum).name
    message = (f"{name} received during start-up: stopped before the first training step, nothing was "
               f"trained yet" + (f" (removed the new run directory {removed[0]})" if removed else ""))
    for handler in logging.getLogger().handlers:  # train.log of an existing run directory
        if isinstance(handler, logging.FileHandler):
            handler.handle(logging.makeLogRecord({"name": "ganlab", "levelno": logging.WARNING,
                                                  "levelname": "WARNING", "msg": message}))
            handler.flush()
    sys.stdout.flush()
    sys.stderr.write(message + "\n")
    sys.stderr.flush()
    os._exit(128 + signum)  # at once: no cleanup code of half-initialised libraries, no traceback


def _remove_unused(path: Path) -> bool:
    """Removes a directory start-up created unless it holds a checkpoint (it never should)."""
    if not path.is_dir() or any(path.rglob("*.ckpt")):
        return False
    for handler in logging.getLogger().handlers:  # its train.log is open
        if isinstance(handler, logging.FileHandler) and Path(handler.baseFilename).is_relative_to(path.resolve()):
            logging.getLogger().removeHandler(handler)
            handler.close()
    shutil.rmtree(path, ignore_errors=True)
    return not path.exists()
