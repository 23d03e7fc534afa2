"""A DataModule: procedurally drawn shapes, two classes (0: filled squares, 1: filled discs) of random
size and position on a dark background, drawn from a seed: no files, no download.

ganlab's `InMemoryDataModule` (ganlab/data/base.py) does the rest: the resumable, rank-aware loader
with one item per generator iteration, resizing to `data.image_size`, real images for the metrics and
their cache key. A subclass names the dataset, gives the stored shape and the number of classes, and
loads uint8 images (n, c, h, w) with int64 labels (n,).
"""
from __future__ import annotations

import torch
from torch import Tensor

from ganlab.data.base import InMemoryDataModule


class ShapesDataModule(InMemoryDataModule):
    """`data=shapes`: (1, 16, 16) by default (`data.image_size` resizes), 2 classes."""

    dataset_name = "shapes"  # names the real-feature cache: shapes_1x16x16__...
    title = "shapes"
    native_shape = (1, 16, 16)

    def __init__(self, *args, num_images: int = 2048, shapes_seed: int = 0, **kwargs):
        super().__init__(*args, **kwargs)
        if isinstance(num_images, bool) or not isinstance(num_images, int) or num_images < 2:
            raise ValueError(f"num_images must be an integer >= 2, got {num_images!r}")
        self.num_images, self.shapes_seed = num_images, shapes_seed

    @property
    def num_classes(self) -> int:
        return 2

    @property
    def cache_key(self) -> str:  # other images, other real features
        return f"{self.name}_{self.num_images}_drawn_from_seed{self.shapes_seed}"

    def _load(self) -> tuple[Tensor, Tensor]:
        g = torch.Generator().manual_seed(self.shapes_seed)
        n, (_, h, w) = self.num_images, self.native_shape
        labels = torch.arange(n) % 2  # (n,) balanced
        radius = torch.randint(3, 7, (n, 1, 1), generator=g).float()  # half-size, pixels
        cy = torch.randint(0, h, (n, 1, 1), generator=g).float()
        cx = torch.randint(0, w, (n, 1, 1), generator=g).float()
        ys, xs = torch.arange(h).view(1, h, 1).float(), torch.arange(w).view(1, 1, w).float()
        dy, dx = ys - cy, xs - cx  # (n, h, w)
        square = (dy.abs() <= radius) & (dx.abs() <= radius)
        disc = dy.pow(2) + dx.pow(2) <= radius.pow(2)
        inside = torch.where(labels.view(n, 1, 1) == 1, disc, square)  # (n, h, w)
        images = (inside.to(torch.uint8) * 255).unsqueeze(1)  # (n, 1, h, w): 0 background, 255 shape
        return images, labels.long()
