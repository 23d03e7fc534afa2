"""A fixed-noise sample grid every N generator iterations and at the end of training."""
from __future__ import annotations

from pathlib import Path

import pytorch_lightning as pl
import torch
from torchvision.utils import make_grid, save_image

from ganlab import checks
from ganlab.callbacks.mixture_picture import points_picture, write_timelapse
from ganlab.latents import check_truncation
from ganlab.sampling import generate, generate_from_noise, interpolate, seeded_latent


class SampleGrid(pl.Callback):
    """Writes `samples/iter_XXXXXXX.png` and a TensorBoard image from the same fixed noise each time,
    so grids from different iterations are comparable. TensorBoard also gets `interpolation`:
    `interpolation_rows` rows of `interpolation_steps` images along spherical paths between fixed
    seeds (0 rows: none). Both show the module's `evaluation_generator` (the EMA of G when the run
    keeps one). Written at the end of every `every_n`-th generator iteration (one Lightning batch)
    and at the end of training, unless that iteration already got its grid. A grid is never written
    over an existing file: a run resumed after its process was killed past its checkpoint writes its
    grids of those iterations as `iter_XXXXXXX_2.png` (the killed process's stay as they were).

    A class-conditional generator gets a class grid instead: one row per class (at most
    `max_class_rows`), the same noise down each column, `num_samples // rows` columns (at least 4).

    The noise comes from the module's latent (conf/latent/); `truncation` (e.g. 0.5) redraws every
    noise value beyond it (the truncation trick), None: off. A latent with codes (latent=infogan)
    also gets one TensorBoard image per code, `traversal/<code>` (the latest also in
    `samples/traversal_<code>.png`): its rows are the code's values (each category;
    `traversal_steps` values from -2 to 2 for a continuous code), its `traversal_columns` columns
    hold the noise and the other codes fixed.

    Vector samples (data=ring / data=grid) get the mixture picture instead (callbacks/mixture_picture.py:
    the points over the modes and D's score, the histogram of high-quality points per mode, with the
    mode metric's own points when callbacks/metrics=modes is on), and at the end of training
    `samples/timelapse_XXXXXXX.gif`, the run's pictures so far as one animated GIF. TensorBoard's
    `samples` shows the same pictures frame by frame (its step slider; `tensorboard
    --samples_per_plugin images=0` keeps every frame, not a sample of 10).
    """

    max_class_rows = 16

    def __init__(self, dirpath: str, every_n: int = 500, num_samples: int = 64, seed: int = 1234,
                 interpolation_rows: int = 4, interpolation_steps: int = 8, truncation: float | None = None,
                 traversal_columns: int = 8, traversal_steps: int = 7):
        self.dirpath = Path(dirpath)
        self.every_n = checks.positive_int(every_n, "every_n")
        self.num_samples = checks.positive_int(num_samples, "num_samples")
        self.seed = seed
        self.interpolation_rows = checks.count(interpolation_rows, "interpolation_rows")
        self.interpolation_steps = checks.integer(interpolation_steps, "interpolation_steps", low=2)
        self.truncation = check_truncation(truncation, "truncation")
        self.traversal_columns = checks.positive_int(traversal_columns, "traversal_columns")
        self.traversal_steps = checks.positive_int(traversal_steps, "traversal_steps")

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if pl_module.g_iter % self.every_n == 0:
            self.write(trainer, pl_module)

    def on_train_end(self, trainer, pl_module) -> None:
        if pl_module.g_iter % self.every_n != 0 or pl_module.g_iter == 0:  # else written at its batch end
            self.write(trainer, pl_module)
        if trainer.is_global_zero and len(pl_module.evaluation_generator.image_shape) == 1:
            write_timelapse(self.dirpath, pl_module.g_iter)

    @torch.no_grad()
    def write(self, trainer: pl.Trainer, pl_module) -> None:
        check_divergence = getattr(pl_module, "check_divergence", None)
        if check_divergence is not None:  # a diverged state is never drawn (nor saved): raises DivergenceError
            check_divergence()
        if not trainer.is_global_zero:
            return
        generator = pl_module.evaluation_generator
        if len(generator.image_shape) == 1:  # vector samples (data=ring/grid): points on the mixture
            self._write_picture(trainer, pl_module, points_picture(trainer, pl_module, self.num_samples, self.seed))
            return
        latent = pl_module.latent
        row_labels = None
        if generator.conditional:
            rows = min(generator.num_classes, self.max_class_rows)
            columns = max(4, self.num_samples // rows)
            z = seeded_latent(latent, columns, self.seed, self.truncation).z.repeat(rows, 1)  # (rows * columns, d)
            labels = torch.arange(rows).repeat_interleave(columns)  # row r: class r
            images = generate_from_noise(generator, z, labels, device=pl_module.device)
            row_labels = torch.arange(self.interpolation_rows) % generator.num_classes
        else:
            columns = int(self.num_samples**0.5)
            images = generate(generator, self.num_samples, seed=self.seed, device=pl_module.device, latent=latent,
                              truncation=self.truncation)
        grid = make_grid(images, nrow=columns, normalize=True, value_range=(-1, 1))
        self.dirpath.mkdir(parents=True, exist_ok=True)
        save_image(grid, unused_path(self.dirpath / f"iter_{pl_module.g_iter:07d}.png"))
        traversals = {f"traversal/{name}": self.traversal(generator, latent, index, pl_module.device)
                      for index, name in enumerate(latent.code_names)}  # none without codes
        for tag, image in traversals.items():  # the latest, also as samples/traversal_<code>.png
            save_image(image, self.dirpath / f"{tag.replace('/', '_')}.png")
        for logger in trainer.loggers:
            experiment = getattr(logger, "experiment", None)
            if hasattr(experiment, "add_image"):
                experiment.add_image("samples", grid, global_step=pl_module.g_iter)
                for tag, image in traversals.items():
                    experiment.add_image(tag, image, global_step=pl_module.g_iter)
                if self.interpolation_rows > 0:
                    seeds = range(self.seed, self.seed + self.interpolation_rows + 1)
                    strip = interpolate(generator, seeds, self.interpolation_steps, device=pl_module.device,
                                        labels=row_labels, latent=latent, truncation=self.truncation)
                    experiment.add_image("interpolation", make_grid(strip.flatten(0, 1), nrow=self.interpolation_steps,
                                                                    normalize=True, value_range=(-1, 1)),
                                         global_step=pl_module.g_iter)

    def traversal(self, generator, latent, code: int, device) -> torch.Tensor:
        """The traversal grid of code number `code` (rows: its values; columns: fixed noise), as an
        image (3, H, W). A conditional generator gets class c mod K in column c."""
        sample = latent.traversal(code, self.traversal_columns, steps=self.traversal_steps,
                                  generator=torch.Generator().manual_seed(self.seed), truncation=self.truncation)
        labels = None
        if generator.conditional:
            rows = sample.z.shape[0] // self.traversal_columns
            labels = (torch.arange(self.traversal_columns) % generator.num_classes).repeat(rows)
        images = generate_from_noise(generator, sample.z, labels, device=device)
        return make_grid(images, nrow=self.traversal_columns, normalize=True, value_range=(-1, 1))

    def _write_picture(self, trainer: pl.Trainer, pl_module, picture: torch.Tensor) -> None:
        """A uint8 (3, h, w) picture to samples/iter_XXXXXXX.png and TensorBoard's `samples`."""
        self.dirpath.mkdir(parents=True, exist_ok=True)
        save_image(picture.float() / 255, unused_path(self.dirpath / f"iter_{pl_module.g_iter:07d}.png"))
        for logger in trainer.loggers:
            experiment = getattr(logger, "experiment", None)
            if hasattr(experiment, "add_image"):
                experiment.add_image("samples", picture, global_step=pl_module.g_iter)


def unused_path(path: Path) -> Path:
    """`path`, or `<stem>_2<suffix>`, `_3`, ... : the first name no file has (files already there are
    not changed)."""
    candidate, number = path, 1
    while candidate.exists():
        number += 1
        candidate = path.with_name(f"{path.stem}_{number}{path.suffix}")
    return candidate
