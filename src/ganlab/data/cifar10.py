"""CIFAR-10: 50,000 32x32 colour images, 10 classes, held in memory.

Layout (the "python version" release): <root>/cifar-10-batches-py/data_batch_1 ... data_batch_5
and batches.meta, pickled dicts with b"data" (10000, 3072) uint8 rows (1024 red, 1024 green, 1024
blue values, row-major) and b"labels" (10000 ints); batches.meta has b"label_names".
Note: pickle runs code from the file; load only the official release.
"""
from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from ganlab.data.base import InMemoryDataModule
from ganlab.data.datasets import DatasetError
from ganlab.data.transforms import resize_uint8

FOLDER = "cifar-10-batches-py"
BATCHES = [f"data_batch_{i}" for i in range(1, 6)]
TEST_BATCH = "test_batch"
CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def read_batch(path: Path) -> dict[str, Any]:
    """A CIFAR pickle -> dict with str keys."""
    with open(path, "rb") as f:
        try:
            batch = pickle.load(f, encoding="bytes")
        except Exception as error:
            raise DatasetError(f"{path} is not a readable CIFAR-10 batch ({error}); delete it and "
                               "download it again") from error
    return {k.decode() if isinstance(k, bytes) else k: v for k, v in batch.items()}


class CIFAR10DataModule(InMemoryDataModule):
    """`data=cifar10`: the CIFAR-10 training set, (3, 32, 32), 10 classes."""

    dataset_name = "cifar10"
    title = "CIFAR-10"
    can_download = True

    native_shape = (3, 32, 32)

    @property
    def num_classes(self) -> int:
        return 10

    @property
    def class_names(self) -> list[str]:
        return list(CLASSES)

    @property
    def folder(self) -> Path:
        return self.root / FOLDER

    def _complete(self) -> bool:
        return all((self.folder / name).is_file() for name in BATCHES)

    def _download(self) -> None:
        if self._complete():
            return
        from torchvision.datasets import CIFAR10

        try:
            CIFAR10(str(self.root), train=True, download=True)
        except Exception as error:
            raise DatasetError(f"downloading CIFAR-10 into {self.folder.resolve()} failed ({error}). "
                               "Unpack cifar-10-python.tar.gz there by hand, or retry when online.") from error

    def _load(self) -> tuple[Tensor, Tensor]:
        if self.download:
            self._download()
        if not self._complete():
            hint = ""
            if (self.root / BATCHES[0]).is_file():
                hint = f"(found {(self.root / BATCHES[0]).resolve()}: use data.root={self.root.parent.resolve()})\n"
            raise self._missing(FOLDER, [self.folder / name for name in BATCHES], hint=hint)
        return self._read(BATCHES)

    def _read(self, names: list[str]) -> tuple[Tensor, Tensor]:
        """The batches `names` of the folder -> uint8 (n, 3, 32, 32), int64 labels (n,)."""
        images, labels = [], []
        for name in names:
            batch = read_batch(self.folder / name)
            data, batch_labels = np.asarray(batch.get("data")), np.asarray(batch.get("labels"))
            if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072 or len(batch_labels) != len(data):
                raise DatasetError(f"{self.folder / name}: not a CIFAR-10 batch (data {data.shape} {data.dtype}, "
                                   f"{len(batch_labels)} labels)")
            images.append(data.reshape(-1, 3, 32, 32))
            labels.append(batch_labels.astype(np.int64))
        y = np.concatenate(labels)
        if y.min(initial=0) < 0 or y.max(initial=0) > 9:
            raise DatasetError(f"{self.folder}: labels outside 0..9")
        return torch.from_numpy(np.concatenate(images)), torch.from_numpy(y)

    def test_split(self) -> tuple[Tensor, Tensor] | None:
        """CIFAR-10's 10k test images, uint8 (n, *image_shape) (resized like the training set), and
        their labels, when cifar-10-batches-py/test_batch is present; None otherwise. Never used for
        training (held-out images for evaluation metrics)."""
        if not (self.folder / TEST_BATCH).is_file():
            return None
        x, y = self._read([TEST_BATCH])
        if tuple(x.shape[1:]) != tuple(self.image_shape):
            x = resize_uint8(x, self.image_shape[1:])
        return x, y
