"""A fixed-noise sample grid every N generator iterations and at the end of training."""
from __future__ import annotations

from pathlib import Path

import pytorch_lightning as pl
import torch
from torchvision.utils import make_grid, save_image

from ganlab.sampling import generate


class SampleGrid(pl.Callback):
    """Writes `samples/iter_XXXXXXX.png` and a TensorBoard image from the same fixed noise each time,
    so grids from different iterations are comparable."""

    def __init__(self, dirpath: str, every_n: int = 500, num_samples: int = 64, seed: int = 1234):
        if every_n < 1:
            raise ValueError(f"callbacks.sample_grid.every_n must be >= 1, got {every_n}")
        if num_samples < 1:
            raise ValueError(f"callbacks.sample_grid.num_samples must be >= 1, got {num_samples}")
        self.dirpath = Path(dirpath)
        self.every_n = every_n
        self.num_samples = num_samples
        self.seed = seed
        self._written_at: int | None = None

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        g_iter = pl_module.g_iter
        if g_iter > 0 and g_iter % self.every_n == 0 and g_iter != self._written_at:
            self.write(trainer, pl_module)

    def on_train_end(self, trainer, pl_module) -> None:
        if pl_module.g_iter != self._written_at:
            self.write(trainer, pl_module)

    @torch.no_grad()
    def write(self, trainer: pl.Trainer, pl_module) -> None:
        self._written_at = pl_module.g_iter
        if not trainer.is_global_zero:
            return
        images = generate(pl_module.generator, self.num_samples, seed=self.seed, device=pl_module.device)
        grid = make_grid(images, nrow=int(self.num_samples**0.5), normalize=True, value_range=(-1, 1))
        self.dirpath.mkdir(parents=True, exist_ok=True)
        save_image(grid, self.dirpath / f"iter_{pl_module.g_iter:07d}.png")
        for logger in trainer.loggers:
            experiment = getattr(logger, "experiment", None)
            if hasattr(experiment, "add_image"):
                experiment.add_image("samples", grid, global_step=pl_module.g_iter)
