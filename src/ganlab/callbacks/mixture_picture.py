"""The sample picture of a run on a 2-D mixture (data=ring / data=grid), drawn by SampleGrid in place
of an image grid: the generated points over the modes with D's score as a colour map behind them,
beside the histogram of high-quality points over the modes (ganlab/mixture_plot.py); and the run's
time-lapse, the animated GIF of these pictures.

With the mode metrics on (callbacks/metrics=modes) the picture shows the metric's own points (its
noise seed, its number of samples, its threshold), so the numbers it states are the ones logged at
that iteration; without, the same measurement is made on the picture's own noise."""
from __future__ import annotations

import logging
from pathlib import Path

import pytorch_lightning as pl
import torch
from torch import Tensor

from ganlab.callbacks.mode_metrics import ModeMetrics, mixture_of
from matplotlib.figure import Figure

from ganlab.mixture_plot import discriminator_scores, frame_paths, mixture_figure, plot_extent, render, write_gif

log = logging.getLogger(__name__)


@torch.no_grad()
def picture_figure(trainer: pl.Trainer, pl_module, num_samples: int, seed: int) -> Figure:
    """The figure of the run's generator now (`mixture_figure`, D's score behind the points). Its points
    and their measures come from the run's ModeMetrics callback when it has one, else from
    `num_samples` points of noise `seed`."""
    metrics = next((c for c in trainer.callbacks if isinstance(c, ModeMetrics)), None)
    metrics = metrics or ModeMetrics(num_samples=num_samples, seed=seed)
    points, stats = metrics.measure(trainer, pl_module)
    means, sigma = mixture_of(trainer)
    scores = discriminator_scores(pl_module.discriminator, plot_extent(means, sigma), device=pl_module.device)
    return mixture_figure(points, means, sigma, stats, scores, metrics.threshold,
                          title=f"generator iteration {pl_module.g_iter:,} (noise seed {metrics.seed})")


def points_picture(trainer: pl.Trainer, pl_module, num_samples: int, seed: int) -> Tensor:
    """uint8 (3, 400, 960): `picture_figure`'s pixels."""
    return render(picture_figure(trainer, pl_module, num_samples, seed))


def write_timelapse(directory: Path, g_iter: int) -> Path | None:
    """`directory`/timelapse_XXXXXXX.gif (XXXXXXX: `g_iter`): the pictures iter_*.png of the run up to
    `g_iter`, one frame each, in order (frames written before a resume included). A GIF already there
    for this iteration is left as it is; None when there is no picture."""
    out = Path(directory) / f"timelapse_{g_iter:07d}.gif"
    frames = frame_paths(directory, last=g_iter)
    if out.exists() or not frames:
        return None
    write_gif(frames, out)
    log.info("time-lapse of %d pictures: %s", len(frames), out)
    return out
