"""Drawing images from a generator: reproducible noise, eval mode, [-1, 1] -> uint8."""
from __future__ import annotations

import torch
from torch import Tensor, nn


def seeded_noise(n: int, latent_dim: int, seed: int) -> Tensor:
    """(n, latent_dim) standard normal noise from its own generator: the same seed, the same z."""
    return torch.randn(n, latent_dim, generator=torch.Generator().manual_seed(seed))


@torch.no_grad()
def generate(generator: nn.Module, n: int, seed: int, device=None, labels: Tensor | None = None,
             batch_size: int = 256) -> Tensor:
    """n images (n, c, h, w) in [-1, 1] from seeded noise, with G in eval mode (BatchNorm uses its
    running statistics); G's previous mode is restored."""
    device = device or next(generator.parameters()).device
    z = seeded_noise(n, generator.latent_dim, seed)
    was_training = generator.training
    generator.eval()
    try:
        chunks = []
        for start in range(0, n, batch_size):
            y = None if labels is None else labels[start:start + batch_size].to(device)
            chunks.append(generator(z[start:start + batch_size].to(device), y).float().cpu())
    finally:
        generator.train(was_training)
    return torch.cat(chunks)


def to_uint8(images: Tensor) -> Tensor:
    """(n, c, h, w) in [-1, 1] -> (n, h, w, c) uint8."""
    return ((images.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1)
