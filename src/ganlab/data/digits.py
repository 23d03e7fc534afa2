"""scikit-learn's bundled handwritten digits: 1,797 8x8 grayscale images (values 0..16), 10
classes, upscaled (bilinear) to `image_size` (default 32). They ship inside scikit-learn: no
download, so this is the offline quick start."""
from __future__ import annotations

import torch
from torch import Tensor

from ganlab.data.base import InMemoryDataModule


class DigitsDataModule(InMemoryDataModule):
    """`data=digits`: (1, image_size, image_size), 10 classes. `root` and `download` are unused."""

    dataset_name = "digits"
    title = "scikit-learn digits"
    native_shape = (1, 8, 8)
    default_image_size = 32

    @property
    def num_classes(self) -> int:
        return 10

    def _load(self) -> tuple[Tensor, Tensor]:
        from sklearn.datasets import load_digits

        digits = load_digits()
        x = torch.from_numpy(digits.images).float().unsqueeze(1)  # (n, 1, 8, 8) in 0..16
        images = (x * (255 / 16)).round_().to(torch.uint8)
        return images, torch.from_numpy(digits.target).long()
