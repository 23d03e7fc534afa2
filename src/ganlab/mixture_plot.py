"""Pictures of a generator on a 2-D mixture, drawn with matplotlib (the Agg canvas, no display):
the generated points over the real modes with the discriminator's score as a colour map behind them
(as GAN Lab draws it), beside the histogram of high-quality points over the modes; and the
time-lapse of a run's pictures as an animated GIF.

The numbers a picture states (modes, high-quality share, reverse KL) are those of the `ModeStats` it
is given, computed on the very points it shows (ganlab/metrics/modes.py). The view is a square around
the modes; a generated point outside it is drawn on the view's edge as a red triangle and counted in
the legend, so no point is left out silently.
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Circle
from PIL import Image
from torch import Tensor, nn

from ganlab.atomic import write_atomically
from ganlab.metrics.modes import ModeStats, mode_stats

SIZE = (9.6, 4.0)  # inches: the picture is SIZE * DPI pixels, 960 x 400
DPI = 100
SCORE_MAP = "PRGn"  # D's score, low purple to high green (a logit or critic value: green is "real"; an energy: "fake")
POINT_COLOUR = "#14288c"
OUTSIDE_COLOUR = "#d62728"
FRAME_NAME = re.compile(r"iter_(\d+)\.png")


def plot_extent(means: Tensor, sigma: float) -> float:
    """Half the side of the square shown: the modes' reach plus a quarter, so points that miss
    them stay in the picture."""
    return float(means.abs().max()) * 1.25 + 6 * sigma


@torch.no_grad()
def discriminator_scores(discriminator: nn.Module, extent: float, resolution: int = 64, device=None) -> Tensor:
    """D's score (its raw output: a logit, a critic value, an energy) on a resolution x resolution grid
    of points over [-extent, extent]^2, float32 (r, r): row i holds y = the i-th grid value from
    -extent up, column j x = the j-th from -extent (matplotlib's `origin="lower"`). D is put in eval mode
    for it and restored. A packing discriminator (`pack_size` m) judges packs of m copies of each point."""
    device = device or next(discriminator.parameters()).device
    axis = torch.linspace(-extent, extent, resolution)
    ys, xs = torch.meshgrid(axis, axis, indexing="ij")
    grid = torch.stack([xs, ys], dim=-1).reshape(-1, 2)  # (r * r, 2)
    grid = grid.repeat_interleave(getattr(discriminator, "pack_size", 1), dim=0)
    was_training = discriminator.training
    discriminator.eval()
    try:
        score = discriminator(grid.to(device)).score.float().cpu()  # (r * r,)
    finally:
        discriminator.train(was_training)
    return score.view(resolution, resolution)


def mixture_figure(points: Tensor, means: Tensor, sigma: float, stats: ModeStats, scores: Tensor | None = None,
                   threshold: float = 3.0, title: str = "") -> Figure:
    """The figure of `points` (n, 2) on the mixture (`means` (K, 2), `sigma`): left, the points over
    the modes (numbered; circles of `threshold` sigma, the high-quality zone) and D's `scores` (from
    `discriminator_scores` at `plot_extent`; None: no colour map) with a colour bar; right, the
    high-quality points of each mode (`stats`, measured on `points` with `threshold`) against the
    uniform share, and the three measures in its title."""
    extent = plot_extent(means, sigma)
    points, means = points.detach().double().cpu().numpy(), means.detach().double().cpu().numpy()
    figure = Figure(figsize=SIZE, dpi=DPI, layout="constrained")
    scatter, histogram = figure.subplots(1, 2, width_ratios=[1.15, 1])
    if scores is not None:
        image = scatter.imshow(scores.numpy(), extent=(-extent, extent, -extent, extent), origin="lower",
                               cmap=SCORE_MAP, interpolation="bilinear", aspect="equal")
        figure.colorbar(image, ax=scatter, shrink=0.85, label="D's score")
    inside = (np.abs(points) <= extent).all(axis=1)
    scatter.scatter(points[inside, 0], points[inside, 1], s=3, c=POINT_COLOUR, alpha=0.5, linewidths=0,
                    label=f"generated ({len(points):,})")
    outside = ~inside
    if outside.any():
        edge = np.clip(points[outside], -extent, extent)
        scatter.scatter(edge[:, 0], edge[:, 1], s=18, marker="^", c=OUTSIDE_COLOUR, linewidths=0,
                        label=f"{int(outside.sum()):,} outside the view (on its edge)")
    scatter.scatter(means[:, 0], means[:, 1], s=30, marker="x", c="black", linewidths=1,
                    label=f"modes ({threshold:g} sigma circles)")
    for index, (x, y) in enumerate(means):
        scatter.add_patch(Circle((x, y), threshold * sigma, fill=False, edgecolor="black", linewidth=0.6))
        scatter.annotate(str(index), (x, y), xytext=(4, 4), textcoords="offset points", fontsize=7)
    scatter.set(xlim=(-extent, extent), ylim=(-extent, extent), xlabel="$x_1$", ylabel="$x_2$", aspect="equal")
    scatter.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2, fontsize=7, frameon=False,
                   markerscale=2)

    counts = stats.counts.numpy()
    k = len(counts)
    histogram.bar(np.arange(k), counts, color=POINT_COLOUR)
    histogram.axhline(counts.sum() / k, color=OUTSIDE_COLOUR, linestyle="--", linewidth=1, label="uniform share")
    histogram.set(xlabel="mode", ylabel="high-quality points", xlim=(-0.7, k - 0.3))
    histogram.set_xticks(np.arange(0, k, 1 if k <= 12 else 2))
    histogram.legend(fontsize=7, loc="upper right")
    histogram.set_title(f"{stats.modes}/{k} modes, {100 * stats.high_quality:.1f}% high quality, "
                        f"reverse KL {stats.reverse_kl:.3f}\n(of {stats.num_samples:,} points; high quality: "
                        f"within {threshold:g} sigma)", fontsize=9)
    if title:
        figure.suptitle(title, fontsize=10)
    return figure


def render(figure: Figure) -> Tensor:
    """The figure's pixels, uint8 (3, h, w), drawn by the Agg canvas."""
    canvas = FigureCanvasAgg(figure)
    canvas.draw()
    rgb = np.asarray(canvas.buffer_rgba())[..., :3]
    return torch.from_numpy(rgb.copy()).permute(2, 0, 1)


def mixture_frame(points: Tensor, means: Tensor, sigma: float, stats: ModeStats | None = None,
                  discriminator: nn.Module | None = None, device=None, threshold: float = 3.0,
                  title: str = "") -> Tensor:
    """The picture of `points` (n, 2) on the mixture, uint8 (3, 400, 960): `mixture_figure` with D's
    score behind the points (none without a discriminator). `stats`: the measures of these points
    (None: measured here with `threshold`)."""
    stats = mode_stats(points, means, sigma, threshold) if stats is None else stats
    scores = None if discriminator is None else discriminator_scores(discriminator, plot_extent(means, sigma),
                                                                     device=device)
    return render(mixture_figure(points, means, sigma, stats, scores, threshold, title))


def frame_paths(directory: Path, last: int | None = None) -> list[Path]:
    """The pictures `iter_XXXXXXX.png` in `directory`, by iteration (up to `last` when given)."""
    frames = [(int(m.group(1)), p) for p in Path(directory).glob("iter_*.png") if (m := FRAME_NAME.fullmatch(p.name))]
    return [p for i, p in sorted(frames) if last is None or i <= last]


def write_gif(frames: Sequence[Path], out: Path, frame_ms: int = 400) -> Path:
    """The animated GIF of the pictures `frames` (in order; each resized to the first's size), looping,
    `frame_ms` milliseconds a frame, written atomically to `out`."""
    if not frames:
        raise ValueError(f"no frames for {out}")
    images = [Image.open(p).convert("RGB") for p in frames]
    size = images[0].size
    images = [im if im.size == size else im.resize(size) for im in images]

    def save(tmp: Path) -> None:
        images[0].save(tmp, format="GIF", save_all=True, append_images=images[1:], duration=frame_ms, loop=0)

    write_atomically(Path(out), save, durable=False)
    return Path(out)
