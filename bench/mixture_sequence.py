"""The picture sequence of 2-D runs side by side: one row per run directory, one column per periodic
checkpoint (checkpoints/iter_XXXXXXX.ckpt), each panel the generated points over the modes with the
run's mode measures, on the same points as the mode metric (2,500 points of noise seed 0, G in eval
mode). Written with matplotlib to one PNG.

    python bench/mixture_sequence.py outputs/reproduce_2d/unrolled_ring/ring_gan_seed0_2000 \
        outputs/reproduce_2d/unrolled_ring/ring_unrolled_seed0_2000 --out unrolled_ring_sequence.png
"""
from __future__ import annotations

import argparse
import re
from pathlib import Path

from hydra.utils import instantiate
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from omegaconf import OmegaConf

from ganlab.checkpoints import RUN_KEY, load_checkpoint
from ganlab.metrics.modes import mode_stats
from ganlab.mixture_plot import plot_extent
from ganlab.sample import load_generator, load_latent
from ganlab.sampling import generate_from_noise, seeded_latent

CHECKPOINT = re.compile(r"iter_(\d+)\.ckpt")


def checkpoints(run: Path, every: int = 1) -> list[tuple[int, Path]]:
    found = sorted((int(m.group(1)), p) for p in (run / "checkpoints").glob("iter_*.ckpt")
                   if (m := CHECKPOINT.fullmatch(p.name)))
    return found[every - 1::every]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", type=Path, help="run directories with checkpoints/iter_*.ckpt")
    parser.add_argument("--labels", nargs="*", help="a row label per run (default: the directory's name)")
    parser.add_argument("--every", type=int, default=1, help="every N-th checkpoint")
    parser.add_argument("--num-samples", type=int, default=2500)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    rows = [checkpoints(run, args.every) for run in args.runs]
    if not all(rows):
        parser.error(f"no checkpoints/iter_*.ckpt in {[str(r) for r, c in zip(args.runs, rows) if not c]}")
    labels = args.labels or [run.name for run in args.runs]
    columns = max(map(len, rows))
    figure = Figure(figsize=(2.0 * columns, 2.25 * len(rows)), dpi=100, layout="constrained")
    axes = figure.subplots(len(rows), columns, squeeze=False)
    for r, (label, row) in enumerate(zip(labels, rows)):
        data = instantiate(OmegaConf.create(load_checkpoint(row[0][1])[RUN_KEY]["config"]).data)
        means, sigma = data.means, data.sigma
        extent = plot_extent(means, sigma)
        for c, (iteration, path) in enumerate(row):
            generator = load_generator(str(path))  # the EMA of G when the run kept one, as the metric
            z = seeded_latent(load_latent(str(path)), args.num_samples, args.seed).z
            points = generate_from_noise(generator, z)
            stats = mode_stats(points, means, sigma)
            ax = axes[r, c]
            clipped = points.clamp(-extent, extent)  # a point outside the view: on its edge, counted below
            outside = int((points.abs() > extent).any(dim=1).sum())
            ax.scatter(clipped[:, 0], clipped[:, 1], s=1, c="#14288c", alpha=0.4, linewidths=0)
            ax.scatter(means[:, 0], means[:, 1], s=12, marker="x", c="black", linewidths=0.8)
            ax.set(xlim=(-extent, extent), ylim=(-extent, extent), aspect="equal", xticks=[], yticks=[])
            ax.set_title(f"{iteration:,}: {stats.modes}/{len(means)} modes\n{100 * stats.high_quality:.1f}% HQ, "
                         f"rKL {stats.reverse_kl:.2f}" + (f", {outside} out" if outside else ""), fontsize=8)
            if c == 0:
                ax.set_ylabel(label, fontsize=9)
        for c in range(len(row), columns):
            axes[r, c].set_axis_off()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    FigureCanvasAgg(figure).print_png(str(args.out))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
