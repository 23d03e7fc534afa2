"""InfoGAN's MNIST networks (Chen et al. 2016, appendix C, Table 1; the authors' openai/InfoGAN,
`infogan/models/regularized_gan.py`), for 28x28 (or any side divisible by 4) images.

G: z -> FC 1024 - BN - ReLU -> FC 128 x (s/4) x (s/4) - BN - ReLU -> 4x4 up-convolution to 64
   channels, stride 2 - BN - ReLU -> 4x4 up-convolution to the image channels, stride 2 -> Tanh.
D: 4x4 convolution to 64 channels, stride 2 - LeakyReLU -> 4x4 convolution to 128, stride 2 - BN -
   LeakyReLU -> FC 1024 - BN - LeakyReLU (the features, DOut.features) -> FC 1 (the score).
InfoGAN's Q (FC 128 - BN - LeakyReLU - FC to the code parameters) is `networks/infogan.py`'s QHead
on these 1024 features, added by `latent=infogan`.

The paper's LeakyReLU slope is 0.1 (`leak`); weights ~ N(0, 0.02).
"""
from __future__ import annotations

from torch import Tensor, nn

from ganlab.networks.layers import dcgan_init
from ganlab.networks.output import FEATURES, PER_SAMPLE, Discriminator, DOut, Generator


def _side(image_shape: tuple[int, int, int]) -> int:
    channels, height, width = image_shape
    if height != width or height % 4:
        raise ValueError(f"model=infogan_mnist builds square images whose side is divisible by 4 (28 for MNIST), "
                         f"got {height}x{width}: set data.image_size")
    return height


class InfoGANMNISTGenerator(Generator):
    def __init__(
        self,
        image_shape: tuple[int, int, int],  # (c, h, w) of the data
        latent_dim: int = 74,  # size of G's input (InfoGAN: 62 noise + 10 categorical + 2 continuous)
        fc_width: int = 1024,  # the first fully connected layer
        channels: int = 128,  # channels of the (s/4, s/4) map; the next map has half as many
        num_classes: int = 0,  # unconditional: labels are never read
    ):
        super().__init__(latent_dim, num_classes, conditional=False)
        out_channels, _, _ = image_shape
        self.image_shape = tuple(image_shape)
        self.quarter = _side(image_shape) // 4
        self.channels = channels
        self.fc = nn.Sequential(
            nn.Linear(latent_dim, fc_width, bias=False), nn.BatchNorm1d(fc_width), nn.ReLU(inplace=True),
            nn.Linear(fc_width, channels * self.quarter ** 2, bias=False), nn.BatchNorm1d(channels * self.quarter ** 2),
            nn.ReLU(inplace=True))
        self.up = nn.Sequential(
            nn.ConvTranspose2d(channels, channels // 2, 4, 2, 1, bias=False), nn.BatchNorm2d(channels // 2),
            nn.ReLU(inplace=True),  # (n, c/2, s/2, s/2)
            nn.ConvTranspose2d(channels // 2, out_channels, 4, 2, 1), nn.Tanh())  # (n, out, s, s)
        dcgan_init(self)

    def forward(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        x = self.fc(z)  # (n, c * q * q)
        return self.up(x.view(-1, self.channels, self.quarter, self.quarter))


class InfoGANMNISTDiscriminator(Discriminator):
    provides = frozenset({FEATURES, PER_SAMPLE})  # the FC layer's activations; one score per sample

    def __init__(
        self,
        image_shape: tuple[int, int, int],  # (c, h, w) of the data
        width: int = 64,  # channels of the first convolution; the second has twice as many
        fc_width: int = 1024,  # the fully connected layer whose output is DOut.features
        leak: float = 0.1,  # LeakyReLU slope (the paper's)
        batch_norm: bool = True,  # after the second convolution and the FC layer (the paper's); false: none
        num_classes: int = 0,  # unconditional: labels are never read
    ):
        super().__init__()
        in_channels, _, _ = image_shape
        quarter = _side(image_shape) // 4
        self.body = nn.Sequential(
            nn.Conv2d(in_channels, width, 4, 2, 1), nn.LeakyReLU(leak, inplace=True),  # (n, w, s/2, s/2)
            nn.Conv2d(width, 2 * width, 4, 2, 1, bias=not batch_norm),
            nn.BatchNorm2d(2 * width) if batch_norm else nn.Identity(),
            nn.LeakyReLU(leak, inplace=True), nn.Flatten(),  # (n, 2w * q * q)
            nn.Linear(2 * width * quarter ** 2, fc_width, bias=not batch_norm),
            nn.BatchNorm1d(fc_width) if batch_norm else nn.Identity(),
            nn.LeakyReLU(leak, inplace=True))  # (n, fc_width)
        self.score = nn.Linear(fc_width, 1)
        dcgan_init(self)

    def forward(self, x: Tensor, y: Tensor | None = None) -> DOut:
        features = self.body(x)  # (n, fc_width)
        return DOut(score=self.score(features).squeeze(1), features=features)
