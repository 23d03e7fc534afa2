"""Data order that survives a restart: a shuffle seeded by (seed, epoch), and a DataLoader that
records which pass it is in and how far into it it got, so a resumed run sees exactly the batches
an uninterrupted run would have seen."""
from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import torch
import torch.distributed as dist
from torch.utils.data import DataLoader, Sampler


class EpochShuffleSampler(Sampler[int]):
    """A new random permutation each epoch, drawn from its own generator seeded with seed + epoch.

    `set_epoch` picks the permutation (a ResumableDataLoader calls it before each pass). The default
    seed is the run's seed (`seed_everything` exports it as PL_GLOBAL_SEED). `skip(n)` drops the
    first n indices of the next pass (used when resuming mid-epoch).

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
        self._skip = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def skip(self, n: int) -> None:
        self._skip = n

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

    def __iter__(self) -> Iterator[int]:
        generator = torch.Generator().manual_seed(self.seed + self.epoch)
        order = torch.randperm(self.num_items, generator=generator).tolist()
        rank, world_size = self.topology()
        if world_size > 1:
            order = order[rank::world_size][: self.num_items // world_size]
        start, self._skip = self._skip, 0
        return iter(order[start:])

    def __len__(self) -> int:
        return self.num_items // self.topology()[1]


class ResumableDataLoader(DataLoader):
    """A DataLoader over an EpochShuffleSampler whose position - the pass (epoch) and how many of
    its batches were handed out - goes into checkpoints and comes back on resume.

    The loader numbers its passes itself (0, 1, 2, ...: each `iter()` that is advanced starts the
    next one) and sets the sampler's epoch and skip before each pass. Lightning's own epoch counter
    is not used for the data order: a run stopped mid-epoch (`trainer.should_stop`) is saved by
    Lightning as a finished epoch, so a resumed run would otherwise start a new permutation and
    never see the rest of the interrupted one. Lightning's `set_epoch` calls are overridden.

    `state_dict` / `load_state_dict`: Lightning calls them itself when it resumes mid-epoch; the
    ganlab DataModules also save and restore them through their own `state_dict` (which Lightning
    always restores). Loading the same state twice is harmless.

    The loader gets its own random generator: a plain DataLoader draws its workers' base seed from
    the global torch RNG at every `iter()`, so a resumed run (which starts a pass at another point)
    would draw different noise than the uninterrupted run.
    """

    def __init__(self, *args: Any, **kwargs: Any):
        if kwargs.get("generator") is None:
            kwargs["generator"] = torch.Generator().manual_seed(getattr(kwargs.get("sampler"), "seed", 0))
        super().__init__(*args, **kwargs)
        self._epoch = -1  # the pass being (or last) handed out; -1 before the first
        self._batches_seen = 0  # batches of that pass handed out
        self._resume: tuple[int, int] | None = None  # (epoch, batches_seen) to continue from

    def __iter__(self):
        if self._resume is not None:
            (self._epoch, self._batches_seen), self._resume = self._resume, None
        else:
            self._epoch, self._batches_seen = self._epoch + 1, 0
        if isinstance(self.sampler, EpochShuffleSampler):
            self.sampler.set_epoch(self._epoch)
            self.sampler.skip(self._batches_seen * (self.batch_size or 1))
        for batch in super().__iter__():
            self._batches_seen += 1
            yield batch

    def state_dict(self) -> dict[str, int]:
        if self._resume is not None:  # restored but not iterated yet
            return {"epoch": self._resume[0], "batches_seen": self._resume[1]}
        return {"epoch": max(self._epoch, 0), "batches_seen": self._batches_seen}

    def load_state_dict(self, state: dict[str, int]) -> None:
        epoch, seen = int(state["epoch"]), int(state["batches_seen"])
        if seen >= len(self):  # that pass was finished: continue with the next one
            epoch, seen = epoch + 1, 0
        self._resume = (epoch, seen)
