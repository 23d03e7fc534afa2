"""Toy networks, tiny data, a module factory and a `fit` helper: the parts unit tests build from."""
from __future__ import annotations

import warnings
from collections.abc import Sequence

import pytorch_lightning as pl
import torch
from pytorch_lightning.loggers import Logger
from torch import nn
from torch.utils.data import TensorDataset

from ganlab.data.sampler import EpochShuffleSampler, ResumableDataLoader
from ganlab.ema import GeneratorEMA
from ganlab.losses import NonSaturatingLoss
from ganlab.module import GANModule
from ganlab.networks import DOut, Generator


class ToyGenerator(Generator):
    """z (n, 4) -> (n, 1, side, side) in [-1, 1]: two linear layers."""

    def __init__(self, side: int = 4, latent_dim: int = 4, hidden: int = 16, num_classes: int = 0):
        super().__init__(latent_dim, num_classes)
        self.side = side
        self.net = nn.Sequential(nn.Linear(latent_dim, hidden), nn.ReLU(), nn.Linear(hidden, side * side), nn.Tanh())

    def forward(self, z, y=None):
        return self.net(z).view(-1, 1, self.side, self.side)  # (b, 1, side, side)


class ToyDiscriminator(nn.Module):
    """(n, 1, side, side) -> DOut(score (n,), features (n, 8))."""

    def __init__(self, side: int = 4):
        super().__init__()
        self.body = nn.Sequential(nn.Flatten(), nn.Linear(side * side, 8), nn.LeakyReLU(0.2))
        self.head = nn.Linear(8, 1)

    def forward(self, x, y=None):
        features = self.body(x)
        return DOut(score=self.head(features).squeeze(1), features=features)


class RecordingLogger(Logger):
    """A logger that keeps every (step, metrics) it is given, for tests of what reaches the loggers."""

    def __init__(self):
        super().__init__()
        self.logged: list[tuple[int, dict]] = []

    name, version = "recording", 0

    def log_hyperparams(self, params, *args, **kwargs):
        pass

    def log_metrics(self, metrics, step=None):
        self.logged.append((step, dict(metrics)))


def make_toy_module(side: int = 4, lr: float = 1e-2, ema: dict | None = None, seed: int = 0,
                    **options) -> GANModule:
    """A GANModule of toy networks (weights drawn from `seed`), the GAN loss and Adam; `ema`:
    GeneratorEMA settings (None: no EMA); `options` go to GANModule."""
    options = {"loss": NonSaturatingLoss(), "iterations": 10, **options}
    torch.manual_seed(seed)
    generator = ToyGenerator(side)
    return GANModule(generator=generator, discriminator=ToyDiscriminator(side),
                     generator_ema=GeneratorEMA(generator, **ema) if ema is not None else None,
                     generator_optimizer=lambda p: torch.optim.Adam(p, lr=lr),
                     discriminator_optimizer=lambda p: torch.optim.Adam(p, lr=lr), **options)


class ToyData(pl.LightningDataModule):
    """`n` fixed random images (n, 1, side, side) in [-1, 1] through ganlab's resumable,
    one-item-per-iteration loader: batches of `batch_size`, k = `batches_per_iteration` per item.
    Labels: i % num_classes (0: all zero). With `same_images`, every batch holds the same images (a resumed run then sees the same data
    whatever the order). Also what the metrics callback reads: `real_images()` and `cache_key`."""

    def __init__(self, n: int = 64, side: int = 4, batch_size: int = 8, batches_per_iteration: int = 1,
                 seed: int = 0, same_images: bool = False, blobs: bool = False, num_classes: int = 0):
        super().__init__()
        g = torch.Generator().manual_seed(seed + 1)
        if same_images:
            images = (torch.rand(batch_size, 1, side, side, generator=g) * 2 - 1).repeat(n // batch_size, 1, 1, 1)
        elif blobs:
            images = (torch.rand(n, 1, side, side, generator=g) > 0.7).float() * 2 - 1
        else:
            images = torch.rand(n, 1, side, side, generator=g) * 2 - 1
        labels = torch.arange(len(images)) % num_classes if num_classes else torch.zeros(len(images), dtype=torch.long)
        self.images, self.labels = images, labels
        self.batch_size, self.batches_per_iteration, self.seed = batch_size, batches_per_iteration, seed
        self.cache_key = f"toy_1x{side}x{side}"
        self.real_images_calls = 0
        self.num_classes = num_classes

    def train_dataloader(self) -> ResumableDataLoader:
        dataset = TensorDataset(self.images, self.labels)
        return ResumableDataLoader(dataset, batch_size=self.batch_size, sampler=EpochShuffleSampler(len(dataset), self.seed),
                                   batches_per_iteration=self.batches_per_iteration)

    def real_images(self, n: int, seed: int = 0) -> torch.Tensor:
        self.real_images_calls += 1
        size = len(self.images)
        index = torch.randperm(size, generator=torch.Generator().manual_seed(seed)).repeat(-(-n // size))[:n]
        return self.images[index]


def fit_module(module: GANModule, data: pl.LightningDataModule | None = None, callbacks: Sequence[pl.Callback] = (),
               logger=False, ckpt_path=None, seed: int | None = 0, **trainer_options) -> pl.Trainer:
    """Trains `module` to its budget on `data` (default: ToyData with the module's k) on the CPU."""
    if seed is not None:
        torch.manual_seed(seed)
    data = data or ToyData(batches_per_iteration=module.d_steps_per_g_step)
    options = dict(accelerator="cpu", devices=1, max_epochs=-1, logger=logger, enable_checkpointing=False,
                   enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0,
                   callbacks=list(callbacks))
    options.update(trainer_options)
    trainer = pl.Trainer(**options)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "few DataLoader workers", ...
        trainer.fit(module, datamodule=data, ckpt_path=ckpt_path)
    return trainer
