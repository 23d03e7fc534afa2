"""Data order that survives a restart, handed out one generator iteration at a time.

The order is a stream of batches: epoch 0's permutation cut into batches of b (the incomplete
last batch dropped), then epoch 1's, and so on (each permutation seeded by seed + epoch). A
generator iteration takes the next k = `batches_per_iteration` batches of that stream, whatever
the epoch boundaries (exactly the batches a loop doing k discriminator steps per generator step,
each on its own batch, would take). The DataLoader records how far into the stream it got, so a
resumed run sees exactly the batches an uninterrupted run would have seen.
"""
from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import torch
import torch.distributed as dist
from torch import Tensor
from torch.utils.data import DataLoader, Sampler, default_collate


class EpochShuffleSampler(Sampler[int]):
    """A new random permutation each epoch, drawn from its own generator seeded with seed + epoch.

    `order(epoch)` is this rank's share of epoch `epoch`'s permutation (iterating the sampler gives
    `order(self.epoch)`; `set_epoch` picks it). The default seed is the run's seed (`seed_everything`
    exports it as PL_GLOBAL_SEED).

    Data-parallel: every rank draws the same permutation and takes `order[rank::world_size]`,
    truncated to `num_items // world_size`, so the ranks' shares are disjoint and equally long.
    `rank` / `world_size` default to those of the initialised `torch.distributed` process group
    (a single process otherwise), looked up at each pass.
    """

    def __init__(self, num_items: int, seed: int | None = None, rank: int | None = None,
                 world_size: int | None = None):
        if num_items < 0:
            raise ValueError(f"num_items must be >= 0, got {num_items}")
        self.num_items = num_items
        self.seed = int(os.environ.get("PL_GLOBAL_SEED", "0")) if seed is None else seed
        self.rank = rank
        self.world_size = world_size
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def topology(self) -> tuple[int, int]:
        """(rank, world_size) this sampler shards for."""
        rank, world_size = self.rank, self.world_size
        if rank is None or world_size is None:
            initialised = dist.is_available() and dist.is_initialized()
            rank = (dist.get_rank() if initialised else 0) if rank is None else rank
            world_size = (dist.get_world_size() if initialised else 1) if world_size is None else world_size
        if world_size < 1 or not 0 <= rank < world_size:
            raise ValueError(f"invalid rank {rank} for world size {world_size}")
        return rank, world_size

    def order(self, epoch: int) -> list[int]:
        generator = torch.Generator().manual_seed(self.seed + epoch)
        order = torch.randperm(self.num_items, generator=generator).tolist()
        rank, world_size = self.topology()
        if world_size > 1:
            order = order[rank::world_size][: self.num_items // world_size]
        return order

    def __iter__(self) -> Iterator[int]:
        return iter(self.order(self.epoch))

    def __len__(self) -> int:
        return self.num_items // self.topology()[1]


class IterationSampler(Sampler[list[int]]):
    """A batch sampler: each item is the k * b indices of one generator iteration, the next k
    batches of b of the batch stream (see the module's docstring). A pass holds
    max(1, batches_per_epoch // k) iterations (about one epoch); the next `iter()` starts at
    `position`, the number of batches of the stream handed out before it, and yields `count`
    iterations (None: a whole pass)."""

    def __init__(self, order: EpochShuffleSampler, batch_size: int, batches_per_iteration: int = 1):
        if batch_size < 1 or batches_per_iteration < 1:
            raise ValueError(f"batch_size and batches_per_iteration must be >= 1, got {batch_size}, "
                             f"{batches_per_iteration}")
        self.order = order
        self.batch_size = batch_size
        self.batches_per_iteration = batches_per_iteration
        self.position = 0
        self.count: int | None = None

    @property
    def batches_per_epoch(self) -> int:
        return len(self.order) // self.batch_size

    def __len__(self) -> int:
        return max(1, self.batches_per_epoch // self.batches_per_iteration)

    def __iter__(self) -> Iterator[list[int]]:
        per_epoch, b, k = self.batches_per_epoch, self.batch_size, self.batches_per_iteration
        if per_epoch < 1:
            raise ValueError(f"batch size {b} is larger than the {len(self.order)} items: no complete batch")
        epoch, cached = -1, []
        position = self.position
        for _ in range(len(self) if self.count is None else self.count):
            indices: list[int] = []
            for batch in range(position, position + k):
                if batch // per_epoch != epoch:
                    epoch = batch // per_epoch
                    cached = self.order.order(epoch)
                start = (batch % per_epoch) * b
                indices += cached[start:start + b]
            position += k
            yield indices


class IterationCollate:
    """Collates the k * b samples of an iteration with `collate` and splits the result into
    (k, b, ...): real (k, b, c, h, w), labels (k, b)."""

    def __init__(self, batches_per_iteration: int, collate=default_collate):
        self.batches_per_iteration = batches_per_iteration
        self.collate = collate

    def __call__(self, samples: Any) -> tuple[Tensor, Tensor]:
        x, y = self.collate(samples)
        k = self.batches_per_iteration
        return x.unflatten(0, (k, -1)), y.unflatten(0, (k, -1))


class ResumableDataLoader(DataLoader):
    """The training DataLoader: one item per generator iteration, `(real, labels)` of shapes
    (k, b, c, h, w) and (k, b), drawn from an EpochShuffleSampler's batch stream; its position -
    the pass and how many iterations of it were handed out - goes into checkpoints and comes back
    on resume.

    The loader numbers its passes itself (0, 1, 2, ...: each `iter()` that is advanced starts the
    next one). Lightning's own epoch counter is not used for the data order: a run stopped
    mid-epoch (`trainer.should_stop`) is saved by Lightning as a finished epoch, so a resumed run
    would otherwise skip the rest of the interrupted pass. The position is counted where the items
    are handed out (after any worker prefetching) and saved at iteration boundaries.

    `state_dict` / `load_state_dict`: Lightning calls them itself when it resumes mid-epoch; the
    ganlab DataModules also save and restore them through their own `state_dict` (which Lightning
    always restores). Loading the same state twice is harmless.

    The loader gets its own random generator: a plain DataLoader draws its workers' base seed from
    the global torch RNG at every `iter()`, so a resumed run (which starts a pass at another point)
    would draw different noise than the uninterrupted run.
    """

    def __init__(self, dataset, batch_size: int, sampler: EpochShuffleSampler, batches_per_iteration: int = 1,
                 collate_fn=None, **kwargs: Any):
        if kwargs.get("generator") is None:
            kwargs["generator"] = torch.Generator().manual_seed(sampler.seed)
        self.order = sampler
        self.iterations = IterationSampler(sampler, batch_size, batches_per_iteration)
        super().__init__(dataset, batch_sampler=self.iterations,
                         collate_fn=IterationCollate(batches_per_iteration, collate_fn or default_collate), **kwargs)
        self._epoch = -1  # the pass being (or last) handed out; -1 before the first
        self._seen = 0  # iterations of that pass handed out
        self._resume: tuple[int, int] | None = None  # (pass, iterations seen) to continue from

    def __iter__(self):
        if self._resume is not None:
            (self._epoch, self._seen), self._resume = self._resume, None
        else:
            self._epoch, self._seen = self._epoch + 1, 0
        self.iterations.position = (self._epoch * len(self) + self._seen) * self.iterations.batches_per_iteration
        self.iterations.count = len(self) - self._seen
        for batch in (super().__iter__() if self.num_workers > 0 else self._fetched_here()):
            self._seen += 1
            yield batch

    def _fetched_here(self):
        """The items, fetched in the training process (num_workers=0) as DataLoader's single-process
        iterator fetches them (the sampler's indices, the dataset's `__getitems__` or one
        `__getitem__` per index, the collate function, pinned when asked), without its per-batch
        profiler scope and bookkeeping: ~50 us a batch on one CPU thread, 0.5% of a small step."""
        getitems = getattr(self.dataset, "__getitems__", None)
        pin = self.pin_memory and torch.cuda.is_available()
        for indices in self.batch_sampler:
            samples = getitems(indices) if getitems is not None else [self.dataset[i] for i in indices]
            batch = self.collate_fn(samples)
            yield tuple(t.pin_memory() for t in batch) if pin else batch

    def __len__(self) -> int:
        return len(self.iterations)

    def state_dict(self) -> dict[str, int]:
        if self._resume is not None:  # restored but not iterated yet
            return {"epoch": self._resume[0], "batches_seen": self._resume[1]}
        return {"epoch": max(self._epoch, 0), "batches_seen": self._seen}

    def load_state_dict(self, state: dict[str, int]) -> None:
        epoch, seen = int(state["epoch"]), int(state["batches_seen"])
        if seen >= len(self):  # that pass was finished: continue with the next one
            epoch, seen = epoch + 1, 0
        self._resume = (epoch, seen)
