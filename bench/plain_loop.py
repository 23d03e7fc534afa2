"""(a): the hand-written PyTorch training loop ganlab's training path is measured against.

It does what `GANModule.training_step` does, without a framework: per generator iteration,
`d_steps_per_g_step` discriminator steps, each on its own real batch and a fresh fake
(G(z) with gradients only on the last one), then one generator step that reuses the last fake
with D's weights frozen. Same networks, loss, regularisers and Adam settings, same order of random
draws (z, then the penalty's interpolation weights), so for the same seed and batches it reaches
the same weights (tests/unit/test_fast_paths.py checks this).

bf16-mixed follows PyTorch's recipe: forward passes and losses under `torch.autocast`, backward and
optimiser steps outside it.
"""
from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader, RandomSampler

from ganlab.data import TensorImages
from ganlab.data.datasets import identity_collate
from ganlab.data.mixture import TensorPoints
from ganlab.data.transforms import to_unit_range

from cases import Case


class PlainLoop:
    def __init__(self, generator: nn.Module, discriminator: nn.Module, case: Case, batches: Iterator[Tensor],
                 precision: str = "32-true", optimizer_options: dict[str, Any] | None = None):
        if precision not in ("32-true", "bf16-mixed"):
            raise ValueError(f"precision must be 32-true or bf16-mixed, got {precision!r}")
        options = dict(optimizer_options or {})
        self.generator = generator
        self.discriminator = discriminator
        self.case = case
        self.loss = case.loss()
        self.regularizers = case.regularizers()
        self.batches = batches
        self.bf16 = precision == "bf16-mixed"
        self.g_opt = torch.optim.Adam(generator.parameters(), lr=case.lr, betas=case.betas, **options)
        self.d_opt = torch.optim.Adam(discriminator.parameters(), lr=case.lr, betas=case.betas, **options)
        self.d_steps = 0  # discriminator steps so far (the regularisers' lazy schedule)

    def _autocast(self, device: torch.device):
        if not self.bf16:
            return contextlib.nullcontext()
        return torch.autocast(device.type, dtype=torch.bfloat16)

    def run(self, iterations: int) -> None:
        """`iterations` generator iterations."""
        for _ in range(iterations):
            reals = [next(self.batches) for _ in range(self.case.d_steps_per_g_step)]  # (b, c, h, w) each
            self.iteration(reals, self.d_opt, self.g_opt)

    def iteration(self, reals: list[Tensor], d_opt, g_opt, backward: Callable[[Tensor], None] = Tensor.backward,
                  autocast: bool = True) -> None:
        """One generator iteration on the real batches `reals` (one per D step, in [-1, 1], on the
        device). `backward`, the optimisers and `autocast` are what LightningPlainLoop (bench/ganlab_run.py)
        swaps for Lightning's."""
        generator, discriminator = self.generator, self.discriminator
        context = self._autocast if autocast else (lambda device: contextlib.nullcontext())
        for k, real in enumerate(reals):
            generator_turn = k == len(reals) - 1
            with context(real.device):
                z = torch.randn(real.shape[0], generator.latent_dim, device=real.device)
                with torch.set_grad_enabled(generator_turn):
                    fake = generator(z)  # (b, c, h, w)
                d_loss = self.loss.discriminator_loss(discriminator(real), discriminator(fake.detach()))
                total = d_loss
                for reg in self.regularizers.values():
                    if self.d_steps % reg.every_n == 0:
                        total = total + reg.weight * reg.every_n * reg(discriminator, real, fake.detach(), None)
            d_opt.zero_grad(set_to_none=True)
            backward(total)
            d_opt.step()
            self.d_steps += 1

        discriminator.requires_grad_(False)
        with context(real.device):
            g_loss = self.loss.generator_loss(discriminator(fake))
        g_opt.zero_grad(set_to_none=True)
        backward(g_loss)
        g_opt.step()
        discriminator.requires_grad_(True)


def resident_batches(images: Tensor, batch_size: int, seed: int = 0) -> Iterator[Tensor]:
    """Batches cut from uint8 images (n, c, h, w) or float points (n, d) already on the device, in
    the order ganlab's EpochShuffleSampler gives (a permutation seeded with seed + epoch),
    incomplete batch dropped. Images are mapped to [-1, 1]; points are handed out as they are."""
    normalise = (lambda x: x) if images.is_floating_point() else to_unit_range
    epoch = 0
    while True:
        order = torch.randperm(images.shape[0], generator=torch.Generator().manual_seed(seed + epoch))
        order = order.to(images.device)
        for start in range(0, images.shape[0] - batch_size + 1, batch_size):
            yield normalise(images[order[start:start + batch_size]])  # (b, c, h, w) or (b, d)
        epoch += 1


def loader_batches(images: Tensor, batch_size: int, device: torch.device, seed: int = 0) -> Iterator[Tensor]:
    """Batches from a standard shuffling DataLoader in the training process over the same in-memory
    dataset class ganlab uses (TensorImages or, for float points, TensorPoints: whole batches by one
    indexing operation), copied to the device."""
    pin = device.type == "cuda"
    dataset = (TensorPoints if images.is_floating_point() else TensorImages)(images, torch.zeros(images.shape[0],
                                                                                                 dtype=torch.long))
    sampler = RandomSampler(dataset, generator=torch.Generator().manual_seed(seed))  # epoch 0: ganlab's order
    loader = DataLoader(dataset, batch_size=batch_size, sampler=sampler, drop_last=True, num_workers=0,
                        pin_memory=pin, collate_fn=identity_collate)
    while True:
        for x, _ in loader:
            yield x.to(device, non_blocking=pin)  # (b, c, h, w) or (b, d)
