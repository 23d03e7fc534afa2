"""MNIST: 60,000 28x28 grayscale handwritten digits, 10 classes, held in memory.

Layout (torchvision's): <root>/MNIST/raw/train-images-idx3-ubyte and train-labels-idx1-ubyte,
optionally gzipped (.gz). The idx files are parsed here: a big-endian header (two zero bytes, a
type code 0x08 for unsigned bytes, the number of dimensions, then each dimension as uint32).
"""
from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from ganlab.data.base import InMemoryDataModule
from ganlab.data.datasets import DatasetError
from ganlab.data.transforms import resize_uint8

IMAGES, LABELS = "train-images-idx3-ubyte", "train-labels-idx1-ubyte"
TEST_IMAGES, TEST_LABELS = "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"


def read_idx(path: Path) -> np.ndarray:
    """An idx file of unsigned bytes (optionally gzipped) -> uint8 array of its shape."""
    with (gzip.open if path.suffix == ".gz" else open)(path, "rb") as f:
        data = f.read()
    if len(data) < 4 or data[:2] != b"\0\0" or data[2] != 0x08:
        raise DatasetError(f"{path} is not an idx file of unsigned bytes (bad header); delete it and "
                           "download it again")
    ndim = data[3]
    dims = struct.unpack(f">{ndim}I", data[4:4 + 4 * ndim])
    array = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    if array.size != int(np.prod(dims)):
        raise DatasetError(f"{path} is truncated: the header promises {dims} values, the file has "
                           f"{array.size}; delete it and download it again")
    return array.reshape(dims)


class MNISTDataModule(InMemoryDataModule):
    """`data=mnist`: the MNIST training set, (1, 28, 28), 10 classes."""

    dataset_name = "mnist"
    title = "MNIST"
    can_download = True

    native_shape = (1, 28, 28)

    @property
    def num_classes(self) -> int:
        return 10

    @property
    def raw_dir(self) -> Path:
        return self.root / "MNIST" / "raw"

    def _find(self, name: str) -> Path | None:
        for path in (self.raw_dir / name, self.raw_dir / f"{name}.gz"):
            if path.is_file():
                return path
        return None

    def _download(self) -> None:
        if self._find(IMAGES) and self._find(LABELS):
            return
        from torchvision.datasets import MNIST

        try:
            MNIST(str(self.root), train=True, download=True)
        except Exception as error:
            raise DatasetError(f"downloading MNIST into {self.raw_dir.resolve()} failed ({error}). Put "
                               f"{IMAGES} and {LABELS} there by hand, or retry when online.") from error

    def _load(self) -> tuple[Tensor, Tensor]:
        if self.download:
            self._download()
        images, labels = self._find(IMAGES), self._find(LABELS)
        if images is None or labels is None:
            raise self._missing("MNIST/raw", [self.raw_dir / IMAGES, self.raw_dir / LABELS],
                                hint=self._hint() + "(each file may also be gzipped, ending in .gz)\n")
        x, y = read_idx(images), read_idx(labels)
        if x.ndim != 3 or x.shape[1:] != (28, 28) or y.shape != x.shape[:1] or y.max(initial=0) > 9:
            raise DatasetError(f"{images} / {labels}: not MNIST training images and labels "
                               f"(shapes {x.shape} and {y.shape})")
        return torch.from_numpy(x.copy()).unsqueeze(1), torch.from_numpy(y.astype(np.int64))

    def test_split(self) -> tuple[Tensor, Tensor] | None:
        """MNIST's 10k test images, uint8 (n, *image_shape) (resized like the training set), and
        their labels, when t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte (or .gz) are in raw/;
        None otherwise. Never used for training (held-out images for evaluation metrics)."""
        images, labels = self._find(TEST_IMAGES), self._find(TEST_LABELS)
        if images is None or labels is None:
            return None
        x, y = read_idx(images), read_idx(labels)
        if x.ndim != 3 or x.shape[1:] != (28, 28) or y.shape != x.shape[:1] or y.max(initial=0) > 9:
            raise DatasetError(f"{images} / {labels}: not MNIST test images and labels (shapes {x.shape} and {y.shape})")
        x = torch.from_numpy(x.copy()).unsqueeze(1)
        if tuple(x.shape[1:]) != tuple(self.image_shape):
            x = resize_uint8(x, self.image_shape[1:])
        return x, torch.from_numpy(y.astype(np.int64))

    def _hint(self) -> str:
        """Where the files are, when data.root points one or two levels too deep."""
        for found, root in ((self.root / "raw" / IMAGES, self.root.parent),
                            (self.root / IMAGES, self.root.parent.parent)):
            if found.is_file() or found.with_name(IMAGES + ".gz").is_file():
                return f"(found {found.resolve()}: use data.root={root.resolve()})\n"
        return ""
