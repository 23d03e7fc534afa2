"""A network family: resize-convolution generator and pooling discriminator.

G upsamples with nearest-neighbour resizing followed by a 3x3 convolution instead of a transposed
convolution, which avoids checkerboard artefacts (Odena et al. 2016, "Deconvolution and Checkerboard
Artifacts", Distill). D is two strided convolutions and a global average pool, so both work for any
image size >= 4 (28x28 MNIST as well as 32x32 CIFAR-10).

ganlab's contracts (ganlab/networks/output.py): G(z, y=None) -> images (n, c, h, w) in [-1, 1], a
`Generator` subclass; D(x, y=None) -> DOut with the score (n,) and the features (n, f). ganlab passes
`image_shape`, `num_classes` and (G) `latent_dim`; every other argument comes from the YAML file.
"""
from __future__ import annotations

import math

from torch import Tensor, nn

from ganlab.networks.output import FEATURES, PER_SAMPLE, Discriminator, DOut, Generator


class ResizeConvGenerator(Generator):
    """z (n, latent_dim) -> Linear -> (4 width, h/4, w/4) -> 2 x [nearest x2, conv 3x3, BN, ReLU] -> conv 3x3 -> Tanh."""

    def __init__(
        self,
        image_shape: tuple[int, int, int],  # (c, h, w) of the data, from ganlab
        latent_dim: int = 64,  # size of z, from ganlab (model.latent_dim)
        num_classes: int = 0,  # classes of the data, from ganlab (unused: this family is unconditional)
        width: int = 32,  # channels of the last hidden layer (2x, 4x before it)
    ):
        super().__init__(latent_dim, num_classes)
        channels, height, width_px = image_shape
        self.image_shape = tuple(image_shape)
        self.start = (math.ceil(height / 4), math.ceil(width_px / 4))  # two x2 upsamplings reach >= (h, w)
        self.project = nn.Sequential(nn.Linear(latent_dim, 4 * width * self.start[0] * self.start[1]),
                                     nn.BatchNorm1d(4 * width * self.start[0] * self.start[1]), nn.ReLU())
        self.body = nn.Sequential(
            nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(4 * width, 2 * width, 3, padding=1),
            nn.BatchNorm2d(2 * width), nn.ReLU(),
            nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(2 * width, width, 3, padding=1),
            nn.BatchNorm2d(width), nn.ReLU(),
            nn.Conv2d(width, channels, 3, padding=1), nn.Tanh(),
        )

    def forward(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        x = self.project(z).view(len(z), -1, *self.start)  # (n, 4 width, h/4, w/4)
        x = self.body(x)  # (n, c, >= h, >= w)
        return x[:, :, :self.image_shape[1], :self.image_shape[2]]  # (n, c, h, w)


class PoolingDiscriminator(Discriminator):
    """x (n, c, h, w) -> 2 x [conv 4x4 stride 2, LeakyReLU 0.2] -> global average pool (features) -> Linear (score)."""

    provides = frozenset({FEATURES, PER_SAMPLE})  # what a loss may ask of it: features, one score per sample

    def __init__(
        self,
        image_shape: tuple[int, int, int],  # (c, h, w) of the data, from ganlab
        num_classes: int = 0,  # from ganlab (unused: unconditional)
        width: int = 32,  # channels of the first convolution (2x in the second)
    ):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(image_shape[0], width, 4, 2, 1), nn.LeakyReLU(0.2),
            nn.Conv2d(width, 2 * width, 4, 2, 1), nn.LeakyReLU(0.2),
        )
        self.head = nn.Linear(2 * width, 1)

    def forward(self, x: Tensor, y: Tensor | None = None) -> DOut:
        features = self.body(x).mean(dim=(2, 3))  # (n, 2 width)
        return DOut(score=self.head(features).squeeze(1), features=features)  # score (n,)
