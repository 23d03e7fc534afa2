"""(b): ganlab's real training path, GANModule inside a Lightning Trainer (timed by lockstep.py).

The Trainer gets what `conf/trainer/default.yaml` gives a user (log_every_n_steps=1, no Lightning
checkpointing, no sanity steps) and, as `logger=tensorboard` does, a TensorBoardLogger (in a
temporary directory); the module gets what `conf/train.yaml` gives every run (scalars every
`log_every_n` = 50 generator iterations, divergence detection, the constant learning-rate schedules
of `scheduler=constant`, the watch for a discriminator loss stuck at 0). Left out: the progress bar (`--progress-bar` puts ganlab's back) and the periodic
checkpoint and sample-grid callbacks, which run every 500-1000 iterations, outside the step.
"""
from __future__ import annotations

import functools
import tempfile
import warnings
from collections.abc import Sequence
from typing import Any

import pytorch_lightning as pl
import torch
from pytorch_lightning.loggers import TensorBoardLogger
from torch import Tensor, nn

from ganlab.callbacks import IterationProgressBar
from ganlab.diagnostics import DiscriminatorWinsWatch
from ganlab.module import GANModule
from ganlab.schedules import Constant

from cases import Case
from plain_loop import PlainLoop


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
    """GANModule with the case's networks, loss and Adam settings, and conf/train.yaml's defaults for the
    rest (`module_options` overrides them, e.g. log_every_n=1)."""
    adam = functools.partial(torch.optim.Adam, lr=case.lr, betas=case.betas, **(optimizer_options or {}))
    defaults = dict(generator_schedule=Constant(), discriminator_schedule=Constant(),
                    d_loss_watch=DiscriminatorWinsWatch(tolerance=1e-3, patience=500))
    return GANModule(generator=generator, discriminator=discriminator, loss=case.loss(),
                     generator_optimizer=adam, discriminator_optimizer=adam, parts=case.regularizers(),
                     d_steps_per_g_step=case.d_steps_per_g_step, iterations=iterations,
                     **{**defaults, **module_options})


class LightningPlainLoop(pl.LightningModule):
    """(c): the plain loop's iteration as a LightningModule written the documented way (manual
    optimisation, `manual_backward`, the `LightningOptimizer`s, autocast from the precision plugin),
    nothing else: what any LightningModule doing (a)'s work pays for Lightning's loop and wrappers.
    `wrapped=False`: raw `loss.backward()` and the raw optimisers instead (no hooks, no precision
    plugin, no step counting): what Lightning's per-batch loop alone costs."""

    def __init__(self, loop: PlainLoop, iterations: int, wrapped: bool = True):
        super().__init__()
        self.automatic_optimization = False
        self.loop, self.iterations, self.wrapped, self.g_iter = loop, iterations, wrapped, 0
        self.generator, self.discriminator = loop.generator, loop.discriminator

    def configure_optimizers(self):
        return [self.loop.g_opt, self.loop.d_opt]

    def training_step(self, batch, batch_idx) -> None:
        g_opt, d_opt = self.optimizers(use_pl_optimizer=self.wrapped)
        backward = self.manual_backward if self.wrapped else Tensor.backward
        self.loop.iteration(list(batch[0]), d_opt, g_opt, backward=backward, autocast=False)
        self.g_iter += 1
        if self.g_iter >= self.iterations:
            self.trainer.should_stop = True


def fit(module: pl.LightningModule, datamodule: pl.LightningDataModule, device: torch.device, precision: str = "32-true",
        callbacks: Sequence[pl.Callback] = (), seed: int | None = None, progress_bar: bool = False,
        logger: bool = True) -> None:
    """Trains `module` to its budget in the Trainer a user gets; `seed`: reseed torch right before the
    first step (as the plain loop is seeded), for runs compared value by value."""
    callbacks = [*callbacks, *([ReseedAtFirstBatch(seed)] if seed is not None else [])]
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
