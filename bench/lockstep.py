"""Times (a) and (b) in alternating short segments inside one training run.

The plain loop (a) runs inside a callback of (b)'s Trainer: after every `every_n` generator
iterations of (b) the callback stops (b)'s clock, runs `every_n` iterations of (a) on its own
clock, and starts (b)'s clock again. The two sides alternate every few tens of milliseconds, so a
change in the machine's speed (another job, the clock frequency) reaches both alike, instead of
whichever side happened to run during it. Each side keeps its own networks, optimisers and
batches; (b)'s segments hold everything its iterations do (Lightning's loop and hooks, the batch
fetch, the step, logging); only the callback's own call is shared.
"""
from __future__ import annotations

import time
from collections.abc import Callable

import pytorch_lightning as pl
import torch


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class Lockstep(pl.Callback):
    """After (b)'s generator iteration `warmup` runs (a)'s `warmup` iterations untimed, then
    alternates timed segments of `every_n` iterations: a, b, a, b, ... `segments` of each, ending
    with (b)'s. `plain_seconds[i]` and `ganlab_seconds[i]` are the i-th segments' times; (b) must be
    given `warmup + segments * every_n` iterations."""

    def __init__(self, run_plain: Callable[[int], object], warmup: int, every_n: int, segments: int,
                 device: torch.device, clock: Callable[[], float] = time.perf_counter):
        self.run_plain, self.warmup, self.every_n, self.segments = run_plain, warmup, every_n, segments
        self.device, self.clock = device, clock
        self.plain_seconds: list[float] = []
        self.ganlab_seconds: list[float] = []
        self._started = 0.0

    @property
    def iterations(self) -> int:
        """(b)'s budget."""
        return self.warmup + self.segments * self.every_n

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        done = pl_module.g_iter - self.warmup
        if done < 0 or done % self.every_n:
            return
        if done == 0:
            self.run_plain(self.warmup)
        else:
            synchronize(self.device)
            self.ganlab_seconds.append(self.clock() - self._started)
            if len(self.ganlab_seconds) == self.segments:
                return
        synchronize(self.device)
        started = self.clock()
        self.run_plain(self.every_n)
        synchronize(self.device)
        self.plain_seconds.append(self.clock() - started)
        self._started = self.clock()
