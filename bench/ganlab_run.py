"""(b): ganlab's real training path, GANModule inside a Lightning Trainer, timed from the inside.

The Trainer gets what `conf/trainer/default.yaml` gives a user (log_every_n_steps=1, no Lightning
checkpointing, no sanity steps) and, as `logger=tensorboard` does, a TensorBoardLogger (in a
temporary directory); the module logs scalars every `log_every_n` = 50 generator iterations as by
default. Left out: the progress bar (`--progress-bar` puts ganlab's back) and the periodic
checkpoint and sample-grid callbacks, which run every 500-1000 iterations, outside the step.
"""
from __future__ import annotations

import functools
import tempfile
import time
import warnings
from collections.abc import Callable
from typing import Any

import pytorch_lightning as pl
import torch
from pytorch_lightning.loggers import TensorBoardLogger
from torch import nn

from ganlab.callbacks import IterationProgressBar
from ganlab.module import GANModule

from cases import Case


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class IterationTimer(pl.Callback):
    """Wall time from the end of generator iteration `start` to the end of iteration `stop`."""

    def __init__(self, start: int, stop: int, device: torch.device, clock: Callable[[], float] = time.perf_counter):
        self.start, self.stop, self.device, self.clock = start, stop, device, clock
        self.t0: float | None = None
        self.seconds: float | None = None

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if self.t0 is None and pl_module.g_iter >= self.start:
            synchronize(self.device)
            self.t0 = self.clock()
        elif self.seconds is None and pl_module.g_iter >= self.stop:
            synchronize(self.device)
            self.seconds = self.clock() - self.t0


class ReseedAtFirstBatch(pl.Callback):
    """Seeds torch's generator right before the first training step, as the plain loop does after
    creating its batch iterator (creating a DataLoader iterator draws from it), so both sides draw
    the same noise. Runs once; costs nothing per step."""

    def __init__(self, seed: int):
        self.seed = seed
        self.done = False

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if not self.done:
            torch.manual_seed(self.seed)
            self.done = True


def build_module(generator: nn.Module, discriminator: nn.Module, case: Case, iterations: int,
                 optimizer_options: dict[str, Any] | None = None, **module_options: Any) -> GANModule:
    adam = functools.partial(torch.optim.Adam, lr=case.lr, betas=case.betas, **(optimizer_options or {}))
    return GANModule(generator=generator, discriminator=discriminator, loss=case.loss(),
                     generator_optimizer=adam, discriminator_optimizer=adam, regularizers=case.regularizers(),
                     d_steps_per_g_step=case.d_steps_per_g_step, iterations=iterations, **module_options)


def fit(module: GANModule, datamodule: pl.LightningDataModule, device: torch.device, precision: str = "32-true",
        seed: int = 0, timed_from: int = 0, progress_bar: bool = False, logger: bool = True,
        clock: Callable[[], float] = time.perf_counter) -> float | None:
    """Trains `module` to its budget; returns the seconds from the end of generator iteration
    `timed_from` to the end of the budget (None when timed_from >= budget)."""
    timer = IterationTimer(timed_from, module.iterations, device, clock)
    callbacks: list[pl.Callback] = [ReseedAtFirstBatch(seed), timer]
    if progress_bar:
        callbacks.append(IterationProgressBar(refresh_rate=10))
    with tempfile.TemporaryDirectory(prefix="ganlab-bench-") as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "few DataLoader workers", "TensorBoard not found"...
        tb = TensorBoardLogger(tmp, name="tensorboard", version="", default_hp_metric=False) if logger else False
        trainer = pl.Trainer(
            accelerator=device.type, devices=[device.index or 0] if device.type == "cuda" else 1,
            precision=precision, max_epochs=-1, max_steps=-1, log_every_n_steps=1,
            enable_checkpointing=False, num_sanity_val_steps=0, enable_model_summary=False,
            enable_progress_bar=progress_bar, logger=tb, callbacks=callbacks, default_root_dir=tmp)
        trainer.fit(module, datamodule=datamodule)
    return timer.seconds
