"""Data order that survives a restart: a shuffle seeded by (seed, epoch), and a DataLoader that
records how far into the epoch it got, so a resumed run sees exactly the batches an uninterrupted
run would have seen."""
from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import torch
from torch.utils.data import DataLoader, Sampler


class EpochShuffleSampler(Sampler[int]):
    """A new random permutation each epoch, drawn from its own generator seeded with seed + epoch.

    Lightning calls `set_epoch` at the start of every epoch. The default seed is the run's seed
    (`seed_everything` exports it as PL_GLOBAL_SEED). `skip(n)` drops the first n indices of the
    next pass (used when resuming mid-epoch).
    """

    def __init__(self, num_items: int, seed: int | None = None):
        self.num_items = num_items
        self.seed = int(os.environ.get("PL_GLOBAL_SEED", 0)) if seed is None else seed
        self.epoch = 0
        self._skip = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def skip(self, n: int) -> None:
        self._skip = n

    def __iter__(self) -> Iterator[int]:
        generator = torch.Generator().manual_seed(self.seed + self.epoch)
        order = torch.randperm(self.num_items, generator=generator).tolist()
        start, self._skip = self._skip, 0
        return iter(order[start:])

    def __len__(self) -> int:
        return self.num_items


class ResumableDataLoader(DataLoader):
    """A DataLoader over an EpochShuffleSampler that Lightning saves in checkpoints (it has
    state_dict/load_state_dict): the epoch and how many batches of it were consumed."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._batches_seen = 0

    def __iter__(self):
        self._batches_seen = 0 if not getattr(self, "_resuming", False) else self._batches_seen
        self._resuming = False
        for batch in super().__iter__():
            self._batches_seen += 1
            yield batch

    def state_dict(self) -> dict[str, int]:
        epoch = getattr(self.sampler, "epoch", 0)
        return {"epoch": epoch, "batches_seen": self._batches_seen}

    def load_state_dict(self, state: dict[str, int]) -> None:
        if isinstance(self.sampler, EpochShuffleSampler) and self.batch_size:
            self.sampler.set_epoch(state["epoch"])
            self.sampler.skip(state["batches_seen"] * self.batch_size)
            self._batches_seen = state["batches_seen"]
            self._resuming = True
