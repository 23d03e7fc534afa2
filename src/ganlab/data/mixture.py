"""2-D mixtures of Gaussians, the standard CPU-cheap measure of mode collapse (PacGAN, Lin et al.
2018; VEEGAN; Unrolled GAN; GAN Lab): `data=ring` (8 modes on a circle of radius 1, sigma 0.01)
and `data=grid` (25 modes on {-4, -2, 0, 2, 4}^2, sigma 0.05).

A fixed training set of `size` points, drawn once from `dataset_seed` with equal weights (mode of
point i: i mod K, so every mode holds size // K or size // K + 1 points), is held in memory and
handed out like an in-memory image set: `(x, y)` with x float32 (b, 2) and y all zeros. The
sample shape is `image_shape = (2,)`: ganlab calls the shape of one sample `image_shape` whatever
the data (networks and checkpoints read it under that name).
"""
from __future__ import annotations

import math
import os
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor

from ganlab import checks
from ganlab.config_checks import ConfigError
from ganlab.data.base import InMemoryDataModule
from ganlab.data.datasets import TensorImages


class TensorPoints(TensorImages):
    """float32 points (n, d) and int64 labels (n,) in memory, handed out as they are (no uint8
    normalisation). The points live in `images` so the in-memory DataModule base can move them."""

    def __init__(self, points: Tensor, labels: Tensor):  # noqa: D107 - replaces the uint8 checks
        if not points.is_floating_point() or points.ndim != 2:
            raise ValueError(f"points must be float (n, d), got {points.dtype} {tuple(points.shape)}")
        if labels.shape != points.shape[:1]:
            raise ValueError(f"labels must have shape ({points.shape[0]},), got {tuple(labels.shape)}")
        self.images = points.float().contiguous()
        self.labels = labels.long()

    def __getitem__(self, index: int) -> tuple[Tensor, Tensor]:
        return self.images[index], self.labels[index]

    def __getitems__(self, indices: Sequence[int]) -> tuple[Tensor, Tensor]:
        index = torch.as_tensor(indices, dtype=torch.long).to(self.images.device)
        return self.images[index], self.labels[index]  # (b, d), (b,)


def ring_means(modes: int, radius: float) -> Tensor:
    """(modes, 2): equally spaced on the circle of `radius`, the first at (radius, 0)."""
    angle = torch.arange(modes, dtype=torch.float64) * (2 * math.pi / modes)
    return torch.stack([radius * torch.cos(angle), radius * torch.sin(angle)], dim=1)


def grid_means(modes: int, radius: float) -> Tensor:
    """(modes, 2): a square grid of sqrt(modes) x sqrt(modes) points spanning [-radius, radius]^2."""
    side = math.isqrt(modes)
    if side * side != modes or side < 2:
        raise ConfigError(f"data.modes={modes}: a grid needs a square number of modes >= 4 (e.g. 25 = 5 x 5)")
    axis = torch.linspace(-radius, radius, side, dtype=torch.float64)
    return torch.cartesian_prod(axis, axis)


def mixture_points(means: Tensor, sigma: float, size: int, seed: int) -> Tensor:
    """(size, 2) float32: point i from mode i mod K plus isotropic N(0, sigma^2) noise."""
    generator = torch.Generator().manual_seed(seed)
    which = torch.arange(size) % means.shape[0]
    noise = torch.randn(size, means.shape[1], generator=generator, dtype=torch.float64)
    return (means[which] + sigma * noise).float()


class GaussianMixtureDataModule(InMemoryDataModule):
    """Base of `data=ring` and `data=grid`: subclasses place the means (`_means`).

    `means` (K, 2) and `sigma` are read by the mode metrics and the pictures."""

    dataset_name = "mixture"
    title = "Gaussian mixture"
    native_shape = (2,)  # type: ignore[assignment] - a vector, not (c, h, w)
    default_modes, default_radius, default_sigma = 8, 1.0, 0.01

    def __init__(
        self,
        *args: Any,
        modes: int | None = None,  # number of Gaussians, equal weights (None: the layout's default)
        radius: float | None = None,  # ring: the circle's radius; grid: the grid spans [-radius, radius]^2
        sigma: float | None = None,  # standard deviation of every Gaussian (isotropic)
        size: int = 100_000,  # points in the fixed training set
        dataset_seed: int | None = None,  # draws the training set; None: the run's seed (PL_GLOBAL_SEED)
        **kwargs: Any,
    ):
        super().__init__(*args, **kwargs)
        modes = self.default_modes if modes is None else modes
        radius = self.default_radius if radius is None else radius
        sigma = self.default_sigma if sigma is None else sigma
        checks.positive_int(modes, "modes")
        checks.positive_int(size, "size")
        checks.positive(radius, "radius")
        checks.positive(sigma, "sigma")
        self.modes, self.radius, self.sigma, self.size = modes, float(radius), float(sigma), size
        self.dataset_seed = dataset_seed
        self.means = self._means().float()  # (K, 2)

    @property
    def image_shape(self) -> tuple[int, ...]:  # type: ignore[override]
        return (2,)

    @property
    def num_classes(self) -> int:
        return 0

    @property
    def name(self) -> str:
        """e.g. `ring_8x1_sigma0.01`: layout, modes, radius and sigma."""
        return f"{self.dataset_name}_{self.modes}x{self.radius:g}_sigma{self.sigma:g}"

    def _means(self) -> Tensor:
        raise NotImplementedError

    def _build_dataset(self) -> TensorPoints:
        seed = int(os.environ.get("PL_GLOBAL_SEED", "0")) if self.dataset_seed is None else self.dataset_seed
        points = mixture_points(self.means.double(), self.sigma, self.size, seed)
        return TensorPoints(points, torch.zeros(self.size, dtype=torch.long))


class RingDataModule(GaussianMixtureDataModule):
    """`data=ring`: `modes` Gaussians equally spaced on a circle of `radius` (PacGAN: 8, 1, 0.01)."""

    dataset_name = "ring"
    title = "ring of Gaussians"

    def _means(self) -> Tensor:
        return ring_means(self.modes, self.radius)


class GridDataModule(GaussianMixtureDataModule):
    """`data=grid`: `modes` Gaussians on a square grid over [-radius, radius]^2 (PacGAN: 25, 4, 0.05)."""

    dataset_name = "grid"
    title = "grid of Gaussians"
    default_modes, default_radius, default_sigma = 25, 4.0, 0.05

    def _means(self) -> Tensor:
        return grid_means(self.modes, self.radius)
