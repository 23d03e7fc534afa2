"""`trainer.max_time`: stop at the end of the generator iteration during which the time ran out."""
from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import pytorch_lightning as pl

from ganlab.config_checks import ConfigError
from ganlab.stop import StopRequest


def max_time_seconds(value: Any) -> float | None:
    """`trainer.max_time` in seconds: "DD:HH:MM:SS" (as Lightning takes it), a mapping of timedelta
    keywords ({hours: 12}), or a number of seconds; None: no limit. ConfigError otherwise."""
    if value is None:
        return None
    try:
        if isinstance(value, str):
            days, hours, minutes, seconds = (int(part) for part in value.split(":"))
            duration = timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            duration = timedelta(seconds=value)
        else:
            duration = timedelta(**dict(value))
    except (TypeError, ValueError) as error:
        raise ConfigError(f'trainer.max_time must be "DD:HH:MM:SS" (e.g. "00:12:00:00"), a number of seconds '
                          f"or null, got {value!r}") from error
    if duration.total_seconds() < 0:
        raise ConfigError(f"trainer.max_time must not be negative, got {value!r}")
    return duration.total_seconds()


class TimeLimit(pl.Callback):
    """Stops training at the end of the first generator iteration that ends `max_time` or more after
    this process started training (so every start trains at least one iteration). The limit is per
    start: a resumed run gets the whole `max_time` again, as a cluster job of that length would.
    Sets `stop` (the run reports it) and `trainer.should_stop`; the checkpoint callback then writes
    last.ckpt at that iteration. With several processes, all stop at the same iteration."""

    def __init__(self, max_time: Any, stop: StopRequest):
        self.max_time = max_time
        self.seconds = max_time_seconds(max_time)
        self.stop = stop
        self._started: float | None = None

    def on_train_start(self, trainer, pl_module) -> None:
        self._started = time.monotonic()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if self.seconds is None or self._started is None or pl_module.g_iter >= pl_module.iterations:
            return  # no limit, or the budget is reached anyway
        due = time.monotonic() - self._started >= self.seconds
        if trainer.world_size > 1:
            due = trainer.strategy.reduce_boolean_decision(due, all=False)
        if due:
            self.stop.request(f"trainer.max_time={self.max_time}")
            trainer.should_stop = True
