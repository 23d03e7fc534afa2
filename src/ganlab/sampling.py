"""Drawing images from a generator: reproducible noise and labels, eval mode, spherical
interpolation between seeds, [-1, 1] -> uint8."""
from __future__ import annotations

from collections.abc import Iterator, Sequence

import torch
from torch import Tensor, nn

from ganlab.latents import GaussianLatent, Latent, LatentSample


def seeded_noise(n: int, latent_dim: int, seed: int) -> Tensor:
    """(n, latent_dim) standard normal noise from its own generator: the same seed, the same z."""
    return torch.randn(n, latent_dim, generator=torch.Generator().manual_seed(seed))


def seeded_latent(latent: Latent, n: int, seed: int, truncation: float | None = None) -> LatentSample:
    """n inputs for G from `latent`, drawn with their own generator (the same seed, the same z; for
    N(0, I) the values of `seeded_noise`), every noise value beyond `truncation` redrawn."""
    return latent.sample(n, generator=torch.Generator().manual_seed(seed), truncation=truncation)


def seeded_labels(n: int, num_classes: int, seed: int) -> Tensor:
    """(n,) int64 labels drawn uniformly from its own generator (for conditional generators)."""
    return torch.randint(num_classes, (n,), generator=torch.Generator().manual_seed(seed))


@torch.no_grad()
def image_batches(generator: nn.Module, z: Tensor, labels: Tensor | None = None, device=None,
                  batch_size: int = 256) -> Iterator[Tensor]:
    """Yields G(z, labels) in batches (b, c, h, w), in [-1, 1], on `device`, with G in eval mode
    (BatchNorm uses its running statistics); G's previous mode is restored afterwards."""
    device = device or next(generator.parameters()).device
    was_training = generator.training
    generator.eval()
    try:
        for start in range(0, z.shape[0], batch_size):
            y = None if labels is None else labels[start:start + batch_size].to(device)
            yield generator(z[start:start + batch_size].to(device), y)
    finally:
        generator.train(was_training)


def generate_from_noise(generator: nn.Module, z: Tensor, labels: Tensor | None = None, device=None,
                        batch_size: int = 256) -> Tensor:
    """G(z, labels) for all of `z` (n, latent_dim): images (n, c, h, w) in [-1, 1], float32, on the CPU."""
    return torch.cat([x.float().cpu() for x in image_batches(generator, z, labels, device, batch_size)])


def generate(generator: nn.Module, n: int, seed: int, device=None, labels: Tensor | None = None,
             batch_size: int = 256, latent: Latent | None = None, truncation: float | None = None) -> Tensor:
    """n images (n, c, h, w) in [-1, 1] from seeded noise (the same seed, the same images).
    `labels` (n,) int64 picks the classes of a conditional generator. `latent`: what G reads
    (None: N(0, I)); `truncation`: redraw every noise value beyond it."""
    z = seeded_latent(latent or GaussianLatent(generator.latent_dim), n, seed, truncation).z
    return generate_from_noise(generator, z, labels, device, batch_size)


def slerp(z0: Tensor, z1: Tensor, t: Tensor) -> Tensor:
    """Spherical interpolation (Shoemake 1985; for GAN latents, White 2016) between z0 and z1 (d,)
    at fractions t (s,): (s, d). Moves along the great circle through the two directions, so a
    Gaussian latent keeps a typical norm all the way (a straight line passes near the origin,
    where G has seen little). Nearly parallel ends fall back to a straight line."""
    t = t.to(z0.dtype).unsqueeze(1)  # (s, 1)
    cos = torch.dot(z0 / z0.norm(), z1 / z1.norm()).clamp(-1.0, 1.0)
    omega = torch.arccos(cos)
    if omega.abs() < 1e-4:  # sin(omega) ~ 0: the arc is a line
        return (1 - t) * z0 + t * z1
    return (torch.sin((1 - t) * omega) * z0 + torch.sin(t * omega) * z1) / torch.sin(omega)


def interpolation_noise(latent_dim: int, seeds: Sequence[int], steps: int, latent: Latent | None = None,
                        truncation: float | None = None) -> Tensor:
    """(len(seeds) - 1, steps, latent_dim): row i goes from seed i's z to seed i+1's z (both ends
    included), each seed's z being `seeded_noise(1, latent_dim, seed)`, or `latent`'s seeded draw
    (`seeded_latent(latent, 1, seed, truncation)`) when one is given."""
    if len(seeds) < 2:
        raise ValueError(f"interpolation needs at least 2 seeds, got {list(seeds)}")
    if steps < 2:
        raise ValueError(f"interpolation needs at least 2 steps (the two ends), got {steps}")
    latent = latent or GaussianLatent(latent_dim)
    ends = [seeded_latent(latent, 1, int(s), truncation).z[0] for s in seeds]  # each (latent_dim,)
    t = torch.linspace(0.0, 1.0, steps)
    return torch.stack([slerp(a, b, t) for a, b in zip(ends[:-1], ends[1:])])


def interpolate(generator: nn.Module, seeds: Sequence[int], steps: int, device=None,
                labels: Tensor | None = None, batch_size: int = 256, latent: Latent | None = None,
                truncation: float | None = None) -> Tensor:
    """Images along slerp paths between consecutive seeds: (len(seeds) - 1, steps, c, h, w) in
    [-1, 1]. `labels` (len(seeds) - 1,) holds one class per row for a conditional generator;
    `latent` (None: N(0, I)) and `truncation` draw the ends."""
    z = interpolation_noise(generator.latent_dim, seeds, steps, latent, truncation)  # (rows, steps, latent_dim)
    rows = z.shape[0]
    y = None if labels is None else labels.repeat_interleave(steps)  # (rows * steps,)
    images = generate_from_noise(generator, z.flatten(0, 1), y, device, batch_size)
    return images.unflatten(0, (rows, steps))


def to_uint8(images: Tensor) -> Tensor:
    """(n, c, h, w) in [-1, 1] -> (n, h, w, c) uint8."""
    return quantize(images).permute(0, 2, 3, 1)


def quantize(images: Tensor) -> Tensor:
    """(n, c, h, w) in [-1, 1] -> (n, c, h, w) uint8 in [0, 255], as if saved to a PNG file."""
    return ((images.float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
