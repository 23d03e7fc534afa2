"""The benchmark's GANs and data, built from ganlab's own classes with the settings conf/ gives them.

`dcgan`:   DCGAN (conf/model/dcgan.yaml), non-saturating loss, Adam 2e-4 (0.5, 0.999), one D step
           per G step (conf/loss/gan.yaml).
`wgan_gp`: the same generator, a layer-norm critic (conf/model/dcgan.yaml, variants.critic), the
           Wasserstein loss with a gradient penalty (lambda 10) and 5 critic steps per G step,
           Adam 1e-4 (0, 0.9) (conf/loss/wgan_gp.yaml).
`pacgan`:  PacGAN's 2-D networks (conf/model/pacgan.yaml: G 4 x [Linear 400 + BatchNorm + ReLU],
           D 3 maxout layers of 200 units x 5 pieces, z of size 2) on the ring of 8 Gaussians
           (conf/data/ring.yaml, 100,000 points), non-saturating loss, Adam 1e-4 (0.8, 0.999),
           batches of 100, one D step per G step: `experiment=pacgan_ring`'s row "GAN".

The image cases train on random uint8 images of CIFAR-10's size and count (3x32x32, 50,000) held by
a real ganlab `InMemoryDataModule`: the arithmetic of a step does not depend on the pixel values,
and nothing has to be downloaded. The PacGAN case trains on ganlab's own ring data module.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import torch
from torch import Tensor, nn

from ganlab.data import InMemoryDataModule
from ganlab.data.mixture import RingDataModule
from ganlab.losses import AdversarialLoss, NonSaturatingLoss, WassersteinLoss
from ganlab.networks import DCGANDiscriminator, DCGANGenerator, layer_norm
from ganlab.networks.output import Generator
from ganlab.networks.pacgan import PacGANDiscriminator, PacGANGenerator
from ganlab.regularizers import GradientPenalty, Regularizer

Networks = Callable[[tuple[int, ...], int, int], tuple[Generator, nn.Module]]  # (shape, width, latent_dim) -> G, D


def dcgan_networks(critic_norm: Callable[[int], nn.Module], image_shape: tuple[int, ...], width: int,
                   latent_dim: int) -> tuple[Generator, nn.Module]:
    """DCGAN's G (BatchNorm) and D with `critic_norm` at `width` (conf/model/dcgan.yaml: 64)."""
    generator = DCGANGenerator(image_shape, latent_dim=latent_dim, width=width, norm=nn.BatchNorm2d)
    return generator, DCGANDiscriminator(image_shape, width=width, norm=critic_norm)


def pacgan_networks(image_shape: tuple[int, ...], width: int, latent_dim: int) -> tuple[Generator, nn.Module]:
    """PacGAN's G and D as conf/model/pacgan.yaml builds them (`width` does not apply: their own sizes)."""
    generator = PacGANGenerator(image_shape, latent_dim=latent_dim, hidden=(400, 400, 400, 400),
                                norm=partial(nn.BatchNorm1d, momentum=0.05), init_std=0.02)
    return generator, PacGANDiscriminator(image_shape, hidden=(200, 200, 200), pieces=5, init_std=0.02)


@dataclass(frozen=True)
class Case:
    """One GAN recipe: what both sides of the benchmark train."""

    name: str
    loss: Callable[[], AdversarialLoss]
    networks: Networks
    d_steps_per_g_step: int
    lr: float
    betas: tuple[float, float]
    gradient_penalty: float = 0.0  # lambda; 0: none
    latent_dim: int = 100
    batch_size: int | None = None  # the recipe's own batch size; None: bench.py's --batch-sizes
    points: bool = False  # trains on the 2-D ring (True) or on synthetic images

    def regularizers(self) -> dict[str, Regularizer]:
        return {"gradient_penalty": GradientPenalty(weight=self.gradient_penalty)} if self.gradient_penalty else {}


CASES = {
    "dcgan": Case("dcgan", NonSaturatingLoss, partial(dcgan_networks, nn.BatchNorm2d), d_steps_per_g_step=1,
                  lr=2e-4, betas=(0.5, 0.999)),
    "wgan_gp": Case("wgan_gp", WassersteinLoss, partial(dcgan_networks, layer_norm), d_steps_per_g_step=5, lr=1e-4,
                    betas=(0.0, 0.9), gradient_penalty=10.0),
    "pacgan": Case("pacgan", NonSaturatingLoss, pacgan_networks, d_steps_per_g_step=1, lr=1e-4, betas=(0.8, 0.999),
                   latent_dim=2, batch_size=100, points=True),
}


def build_networks(case: Case, image_shape: tuple[int, ...], width: int = 64, latent_dim: int | None = None,
                   seed: int = 0) -> tuple[Generator, nn.Module]:
    """G and D with weights drawn from `seed`: the same networks every call. `latent_dim`: the case's
    own (DCGAN 100, PacGAN 2) unless given."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return case.networks(image_shape, width, case.latent_dim if latent_dim is None else latent_dim)


def build_datamodule(case: Case, batch_size: int, seed: int = 0, on_device: bool = False, num_images: int = 50_000,
                     image_size: int = 32, channels: int = 3) -> InMemoryDataModule:
    """The case's training data in a real ganlab DataModule (in memory, no workers): the ring's
    100,000 points for PacGAN, else `num_images` random images of (channels, image_size, image_size)."""
    common: dict[str, Any] = dict(batch_size=batch_size, batches_per_iteration=case.d_steps_per_g_step, num_workers=0,
                                  pin_memory=True, seed=seed, on_device=on_device)
    if case.points:
        return RingDataModule(**common, dataset_seed=seed)
    return SyntheticImages(**common, num_images=num_images, image_size=image_size, channels=channels)


class SyntheticImages(InMemoryDataModule):
    """Random uint8 images (`num_images`, channels, size, size), unlabelled, through ganlab's
    in-memory data path (TensorImages, EpochShuffleSampler, GANDataLoader; `on_device`)."""

    dataset_name = "synthetic"

    def __init__(self, *args: Any, num_images: int = 50_000, image_size: int = 32, channels: int = 3,
                 data_seed: int = 0, **kwargs: Any):
        self.native_shape = (channels, image_size, image_size)  # generated at this size: no resizing
        super().__init__(*args, **kwargs)
        self.num_images = num_images
        self.data_seed = data_seed

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return self.native_shape

    @property
    def num_classes(self) -> int:
        return 0

    def _load(self) -> tuple[Tensor, Tensor]:
        generator = torch.Generator().manual_seed(self.data_seed)
        images = torch.randint(0, 256, (self.num_images, *self.image_shape), dtype=torch.uint8, generator=generator)
        return images, torch.zeros(self.num_images, dtype=torch.long)
