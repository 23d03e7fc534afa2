"""The sample picture of a run on a 2-D mixture (data=ring / data=grid), drawn by SampleGrid in place
of an image grid: the generated points over the modes with D's score as a heat map behind them, beside
the histogram of high-quality samples over the modes (ganlab/mixture_plot.py)."""
from __future__ import annotations

import pytorch_lightning as pl
import torch
from torch import Tensor, nn

from ganlab.config_checks import ConfigError
from ganlab.mixture_plot import mixture_frame
from ganlab.sampling import generate


def mixture_of(trainer: pl.Trainer) -> tuple[Tensor, float]:
    """(means (K, 2), sigma) of the run's mixture DataModule; a clear error for any other data."""
    datamodule = trainer.datamodule
    if not (hasattr(datamodule, "means") and hasattr(datamodule, "sigma")):
        raise ConfigError("vector samples are measured and drawn against a mixture of Gaussians: use data=ring or "
                          f"data=grid (got {type(datamodule).__name__})")
    return datamodule.means, datamodule.sigma


@torch.no_grad()
def points_picture(trainer: pl.Trainer, generator: nn.Module, discriminator: nn.Module, num_samples: int,
                   seed: int, device, latent=None) -> Tensor:
    """uint8 (3, 256, 512): `num_samples` points from seeded noise (of `latent`; None: N(0, I)), on
    the run's mixture."""
    means, sigma = mixture_of(trainer)
    points = generate(generator, num_samples, seed=seed, device=device, latent=latent)  # (n, 2)
    return mixture_frame(points, means, sigma, discriminator, device)
