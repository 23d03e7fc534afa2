"""Pictures of a generator on a 2-D mixture, drawn with PIL (no plotting library needed): the
generated points over the real modes with the discriminator's score as a heat map behind them (as
GAN Lab draws it), and the histogram of high-quality samples over the modes.

Colours: the heat map runs from purple (D's lowest score on the picture: "fake") to green (its
highest: "real"), scaled to the range of D's score over the picture so any loss (a logit, a critic
value, an energy) is shown; the modes are black circles of radius 3 sigma (the high-quality zone);
generated points are dark blue dots.
"""
from __future__ import annotations

import numpy as np
import torch
from PIL import Image, ImageDraw
from torch import Tensor, nn

from ganlab.metrics.modes import ModeStats, mode_stats

FAKE_COLOUR = torch.tensor([196.0, 168.0, 222.0])  # light purple
REAL_COLOUR = torch.tensor([168.0, 222.0, 176.0])  # light green
POINT_COLOUR = (20, 40, 140)
MODE_COLOUR = (0, 0, 0)


def plot_extent(means: Tensor, sigma: float) -> float:
    """Half the side of the square shown: the modes' reach plus a quarter, so points that miss
    them stay in the picture."""
    return float(means.abs().max()) * 1.25 + 6 * sigma


@torch.no_grad()
def discriminator_heat(discriminator: nn.Module, extent: float, resolution: int = 64, device=None) -> Tensor:
    """D's score on a resolution x resolution grid over [-extent, extent]^2, scaled to [0, 1]
    (row 0 is the top, y = +extent). A packing discriminator (`pack_size` m) judges packs of m
    copies of each grid point."""
    device = device or next(discriminator.parameters()).device
    axis = torch.linspace(-extent, extent, resolution)
    ys, xs = torch.meshgrid(axis.flip(0), axis, indexing="ij")
    grid = torch.stack([xs, ys], dim=-1).reshape(-1, 2)  # (r * r, 2)
    grid = grid.repeat_interleave(getattr(discriminator, "pack_size", 1), dim=0)
    was_training = discriminator.training
    discriminator.eval()
    try:
        score = discriminator(grid.to(device)).score.float().cpu()  # (r * r,)
    finally:
        discriminator.train(was_training)
    low, high = score.min(), score.max()
    heat = (score - low) / (high - low) if high > low else torch.full_like(score, 0.5)
    return heat.view(resolution, resolution)


def draw_points(points: Tensor, means: Tensor, sigma: float, heat: Tensor | None = None,
                size: int = 256) -> Image.Image:
    """The generated `points` (n, 2) over the modes `means` (K, 2), with `heat` ((r, r) in [0, 1],
    from `discriminator_heat` at the same extent) behind them."""
    extent = plot_extent(means, sigma)
    if heat is None:
        image = Image.new("RGB", (size, size), (255, 255, 255))
    else:
        rgb = FAKE_COLOUR + heat[..., None] * (REAL_COLOUR - FAKE_COLOUR)  # (r, r, 3)
        image = Image.fromarray(rgb.round().to(torch.uint8).numpy(), "RGB").resize((size, size), Image.BILINEAR)
    draw = ImageDraw.Draw(image)

    def pixel(xy: Tensor) -> tuple[float, float]:
        return (float(xy[0]) + extent) / (2 * extent) * size, (extent - float(xy[1])) / (2 * extent) * size

    radius = max(3 * sigma / (2 * extent) * size, 2.0)
    for mean in means:
        x, y = pixel(mean)
        draw.ellipse([x - radius, y - radius, x + radius, y + radius], outline=MODE_COLOUR)
    for point in points:
        x, y = pixel(point)
        if 0 <= x < size and 0 <= y < size:
            draw.rectangle([x - 0.5, y - 0.5, x + 0.5, y + 0.5], fill=POINT_COLOUR)
    return image


def draw_histogram(stats: ModeStats, width: int = 256, height: int = 256) -> Image.Image:
    """One bar per mode (its high-quality samples), a line at the uniform share, and the three
    measures written above."""
    image = Image.new("RGB", (width, height), (255, 255, 255))
    draw = ImageDraw.Draw(image)
    counts = stats.counts.double()
    k = counts.numel()
    top, bottom, left = 40, height - 10, 10
    peak = max(float(counts.max()), float(counts.sum()) / k, 1.0)
    bar = (width - 2 * left) / k
    for i, count in enumerate(counts.tolist()):
        h = (bottom - top) * count / peak
        draw.rectangle([left + i * bar + 1, bottom - h, left + (i + 1) * bar - 1, bottom], fill=POINT_COLOUR)
    uniform = bottom - (bottom - top) * float(counts.sum()) / k / peak
    draw.line([left, uniform, width - left, uniform], fill=(200, 0, 0))
    draw.text((left, 4), f"modes {stats.modes}/{k}  high quality {100 * stats.high_quality:.1f}%", fill=(0, 0, 0))
    draw.text((left, 18), f"reverse KL {stats.reverse_kl:.3f}  (red: uniform)", fill=(0, 0, 0))
    return image


def mixture_picture(points: Tensor, means: Tensor, sigma: float, stats: ModeStats,
                    heat: Tensor | None = None, size: int = 256) -> Tensor:
    """The scatter picture and the histogram side by side: uint8 (3, size, 2 * size)."""
    canvas = Image.new("RGB", (2 * size, size), (255, 255, 255))
    canvas.paste(draw_points(points, means, sigma, heat, size), (0, 0))
    canvas.paste(draw_histogram(stats, size, size), (size, 0))
    return torch.from_numpy(np.asarray(canvas).copy()).permute(2, 0, 1)


def mixture_frame(points: Tensor, means: Tensor, sigma: float, discriminator: nn.Module | None = None,
                  device=None) -> Tensor:
    """The picture of `points` (n, 2) on the mixture (`means`, `sigma`): the scatter over D's heat map
    (none without a discriminator) beside the mode histogram, uint8 (3, 256, 512)."""
    heat = None if discriminator is None else discriminator_heat(discriminator, plot_extent(means, sigma),
                                                                 device=device)
    return mixture_picture(points, means, sigma, mode_stats(points, means, sigma), heat)
