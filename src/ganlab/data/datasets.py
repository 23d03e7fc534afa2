"""The two kinds of training set behind every DataModule: uint8 tensors held in memory (fetched a
whole batch at a time) and image files decoded one at a time (with corrupt files skipped)."""
from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset, get_worker_info

from ganlab.config_checks import ConfigError
from ganlab.data.transforms import to_unit_range

log = logging.getLogger(__name__)


class DatasetError(ConfigError):
    """Data that cannot be used as it is (a corrupt file, a bad attribute name, a failed download).
    The message names the file or the `data.*` key and says what to do."""


class TensorImages(Dataset):
    """uint8 images (n, c, h, w) and int64 labels (n,) in memory. `__getitems__` returns a whole
    batch `(x, y)` with one indexing operation (use it with an identity `collate_fn`)."""

    def __init__(self, images: Tensor, labels: Tensor):
        if images.dtype != torch.uint8 or images.ndim != 4:
            raise ValueError(f"images must be uint8 (n, c, h, w), got {images.dtype} {tuple(images.shape)}")
        if labels.shape != images.shape[:1]:
            raise ValueError(f"labels must have shape ({images.shape[0]},), got {tuple(labels.shape)}")
        self.images = images.contiguous()
        self.labels = labels.long()

    def __len__(self) -> int:
        return self.images.shape[0]

    def to(self, device: torch.device | str) -> TensorImages:
        self.images, self.labels = self.images.to(device), self.labels.to(device)
        return self

    def __getitem__(self, index: int) -> tuple[Tensor, Tensor]:
        return to_unit_range(self.images[index]), self.labels[index]

    def __getitems__(self, indices: Sequence[int]) -> tuple[Tensor, Tensor]:
        index = torch.as_tensor(indices, dtype=torch.long)
        if self.images.device.type == "cuda":  # on_device: a pinned, asynchronous copy; a plain
            # `as_tensor(..., device=cuda)` would wait for the GPU to finish all queued work, every batch.
            # GPU-only path: tests/unit/test_fast_paths.py checks it on CUDA (skipped without a GPU).
            index = index.pin_memory().to(self.images.device, non_blocking=True)
        else:
            index = index.to(self.images.device)
        return to_unit_range(self.images[index]), self.labels[index]  # (b, c, h, w), (b,)


def identity_collate(batch):
    """The collate function for datasets whose `__getitems__` already returns a batch."""
    return batch


class ImageFiles(Dataset):
    """Image files decoded one at a time by `decode(path) -> uint8 (c, h, w)`, with int64 labels.

    A file that fails to decode is marked in a shared-memory table (so DataLoader workers and the
    main process see the same marks, and the file is not tried again) and replaced by the next
    readable file, which keeps the data order deterministic. The main process reports the marks
    in `check()` (the DataLoader calls it after every batch): with `skip_corrupt` one warning
    counting them; without it, an error naming the first file.
    """

    def __init__(self, files: Sequence[str], labels: Sequence[int] | Tensor,
                 decode: Callable[[str], Tensor], skip_corrupt: bool = True, description: str = "dataset"):
        if len(files) != len(labels):
            raise ValueError(f"{len(files)} files but {len(labels)} labels")
        # one bytes array rather than n Python strings: workers share it without copying pages
        self._paths = np.array([os.fsencode(str(f)) for f in files], dtype=np.bytes_)
        self.labels = torch.as_tensor(labels, dtype=torch.long)
        self.decode = decode
        self.skip_corrupt = skip_corrupt
        self.description = description
        self.bad = torch.zeros(len(self._paths), dtype=torch.bool).share_memory_()
        self._reported = 0  # main process: marks already reported
        self._warned_at: int | None = None  # main process: count in the last warning

    def __len__(self) -> int:
        return len(self._paths)

    def path(self, index: int) -> str:
        return os.fsdecode(self._paths[index])

    def __getitem__(self, index: int) -> tuple[Tensor, Tensor]:
        n = len(self._paths)
        for step in range(n):
            i = (index + step) % n
            if self.bad[i]:
                continue
            try:
                image = self.decode(self.path(i))  # (c, h, w) uint8
            except Exception as error:  # PIL raises OSError, SyntaxError, ValueError, ...
                if not self.skip_corrupt and get_worker_info() is None:
                    raise DatasetError(self._corrupt_message(i, error)) from error
                self.bad[i] = True  # a worker: the main process raises or warns in check()
                continue
            return to_unit_range(image), self.labels[i]
        raise DatasetError(f"no readable image in {self.description}: all {n} files failed to decode "
                           f"(first: {self.path(0)})")

    def _reason(self, i: int) -> str:
        try:
            self.decode(self.path(i))
        except Exception as error:  # noqa: BLE001 - any decoding failure is reported
            return f"{type(error).__name__}: {error}"
        return "failed to decode in a DataLoader worker"

    def _corrupt_message(self, i: int, error: Exception | None = None) -> str:
        reason = self._reason(i) if error is None else f"{type(error).__name__}: {error}"
        return (f"corrupt or unreadable image {self.path(i)} ({reason}). Remove or replace it, or set "
                "data.skip_corrupt=true to skip such files with a warning.")

    def check(self, end_of_pass: bool = False) -> None:
        """Main process: reports files newly found corrupt (raises without `skip_corrupt`)."""
        count = int(self.bad.sum())
        if count > self._reported:
            bad = self.bad.nonzero().flatten().tolist()
            if not self.skip_corrupt:
                raise DatasetError(self._corrupt_message(bad[self._reported]))
            if self._warned_at is None:
                shown = ", ".join(self.path(i) for i in bad[1:4]) + (", ..." if count > 4 else "")
                warnings.warn(
                    f"{count} corrupt or unreadable image(s) in {self.description} skipped, each replaced by "
                    f"the next readable image: {self.path(bad[0])} ({self._reason(bad[0])})"
                    f"{', ' + shown if shown else ''}. Remove them to silence this warning "
                    "(data.skip_corrupt=false stops at the first one instead).", UserWarning, stacklevel=2)
                self._warned_at = count
            self._reported = count
        if end_of_pass and self._warned_at is not None and self._reported > self._warned_at:
            log.warning("%d corrupt or unreadable images in %s skipped in total", self._reported, self.description)
            self._warned_at = self._reported
