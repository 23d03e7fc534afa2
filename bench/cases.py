"""The benchmark's GANs and data, built from ganlab's own classes with the settings conf/ gives them.

`dcgan`:   DCGAN (conf/model/dcgan.yaml), non-saturating loss, Adam 2e-4 (0.5, 0.999), one D step
           per G step (conf/loss/gan.yaml).
`wgan_gp`: the same generator, a layer-norm critic (conf/model/dcgan.yaml, variants.critic), the
           Wasserstein loss with a gradient penalty (lambda 10) and 5 critic steps per G step,
           Adam 1e-4 (0, 0.9) (conf/loss/wgan_gp.yaml).

The data are random uint8 images of CIFAR-10's size and count (3x32x32, 50,000) held by a real
ganlab `InMemoryDataModule`: the arithmetic of a step does not depend on the pixel values, and
nothing has to be downloaded.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from ganlab.data import InMemoryDataModule
from ganlab.losses import AdversarialLoss, NonSaturatingLoss, WassersteinLoss
from ganlab.networks import DCGANDiscriminator, DCGANGenerator, layer_norm
from ganlab.regularizers import GradientPenalty, Regularizer


@dataclass(frozen=True)
class Case:
    """One GAN recipe: what both sides of the benchmark train."""

    name: str
    loss: Callable[[], AdversarialLoss]
    critic_norm: Callable[[int], nn.Module]  # the discriminator's norm layer
    d_steps_per_g_step: int
    lr: float
    betas: tuple[float, float]
    gradient_penalty: float = 0.0  # lambda; 0: none

    def regularizers(self) -> dict[str, Regularizer]:
        return {"gradient_penalty": GradientPenalty(weight=self.gradient_penalty)} if self.gradient_penalty else {}


CASES = {
    "dcgan": Case("dcgan", NonSaturatingLoss, nn.BatchNorm2d, d_steps_per_g_step=1, lr=2e-4, betas=(0.5, 0.999)),
    "wgan_gp": Case("wgan_gp", WassersteinLoss, layer_norm, d_steps_per_g_step=5, lr=1e-4, betas=(0.0, 0.9),
                    gradient_penalty=10.0),
}


def build_networks(case: Case, image_shape: tuple[int, int, int], width: int = 64, latent_dim: int = 100,
                   seed: int = 0) -> tuple[DCGANGenerator, DCGANDiscriminator]:
    """G and D with weights drawn from `seed`: the same networks every call."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        generator = DCGANGenerator(image_shape, latent_dim=latent_dim, width=width, norm=nn.BatchNorm2d)
        discriminator = DCGANDiscriminator(image_shape, width=width, norm=case.critic_norm)
    return generator, discriminator


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
