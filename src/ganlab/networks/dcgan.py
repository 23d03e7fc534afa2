"""DCGAN (Radford et al. 2016), built for any square image size from one definition.

G: z -> a (width * 2^(k-1), s, s) map by a transposed convolution, then k-1 stride-2 transposed
convolutions halving the channels, each followed by BatchNorm and ReLU, then a last stride-2
transposed convolution to the image channels and Tanh. D mirrors it: stride-2 convolutions with
LeakyReLU(0.2) (no norm on the first), then a linear score on the flattened (c, s, s) map.
k and s come from the image size: 28 -> 2 stages from 7x7, 32 -> 3 from 4x4, 64 -> 4 from 4x4.
Weights ~ N(0, 0.02).
"""
from __future__ import annotations

import math

from torch import Tensor, nn

from ganlab import checks
from ganlab.networks.autoencoder import AutoencoderDiscriminator
from ganlab.networks.layers import (
    ConditionalBatchNorm2d,
    LabelledSequential,
    LabelMaps,
    LabelVector,
    MinibatchStdDev,
    NormFactory,
    ScoreHead,
    apply_spectral_norm,
    checked_labels,
    dcgan_init,
    make_norm,
    pyramid,
)
from ganlab.networks.output import Discriminator, DOut, Generator


class DCGANGenerator(Generator):
    def __init__(
        self,
        image_shape: tuple[int, int, int],  # (c, h, w) of the data
        latent_dim: int = 100,  # size of z
        width: int = 64,  # channels of the last hidden map; doubled at each coarser stage
        norm: NormFactory | None = nn.BatchNorm2d,  # after every hidden transposed convolution
        num_classes: int = 0,  # classes of the data (used only when conditioned)
        label_dim: int = 0,  # concat conditioning: a label embedding of this size joins z (0: off)
        conditional_norm: bool = False,  # class-conditional BatchNorm instead of `norm`
    ):
        super().__init__(latent_dim, num_classes, conditional=label_dim > 0 or conditional_norm)
        channels, _, _ = image_shape
        stages, side = pyramid(image_shape)
        self.image_shape = tuple(image_shape)
        self.label = LabelVector(num_classes, label_dim) if label_dim > 0 else None

        def norm_layer(c: int) -> nn.Module:
            return ConditionalBatchNorm2d(c, num_classes) if conditional_norm else make_norm(norm, c)

        bias = norm is None and not conditional_norm
        c = width * 2 ** (stages - 1)
        layers: list[nn.Module] = [nn.ConvTranspose2d(latent_dim + label_dim, c, side, 1, 0, bias=bias),
                                   norm_layer(c), nn.ReLU(inplace=True)]  # (n, c, s, s)
        for _ in range(stages - 1):
            layers += [nn.ConvTranspose2d(c, c // 2, 4, 2, 1, bias=bias), norm_layer(c // 2), nn.ReLU(inplace=True)]
            c //= 2
        layers += [nn.ConvTranspose2d(c, channels, 4, 2, 1), nn.Tanh()]  # (n, channels, h, w)
        self.net = LabelledSequential(*layers)
        dcgan_init(self)

    def forward(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        if self.conditional:
            y = checked_labels(y, "generator")
        if self.label is not None:
            z = self.label(z, y)  # (n, latent + label_dim)
        return self.net(z[:, :, None, None], y)


def dcgan_encoder(image_shape: tuple[int, int, int], width: int, norm: NormFactory | None,
                  num_classes: int, label_dim: int) -> tuple[LabelledSequential, int]:
    """Stride-2 convolutions from the image to a (width * 2^(k-1), s, s) map; returns (encoder, its channels)."""
    channels, _, _ = image_shape
    stages, _ = pyramid(image_shape)
    layers: list[nn.Module] = [LabelMaps(num_classes, label_dim)] if label_dim > 0 else []
    layers += [nn.Conv2d(channels + label_dim, width, 4, 2, 1), nn.LeakyReLU(0.2, inplace=True)]
    c = width
    for _ in range(stages - 1):
        layers += [nn.Conv2d(c, c * 2, 4, 2, 1, bias=norm is None), make_norm(norm, c * 2),
                   nn.LeakyReLU(0.2, inplace=True)]
        c *= 2
    return LabelledSequential(*layers), c


class DCGANDiscriminator(Discriminator):
    def __init__(
        self,
        image_shape: tuple[int, int, int],  # (c, h, w) of the data
        width: int = 64,  # channels of the first convolution; doubled at each stage
        norm: NormFactory | None = nn.BatchNorm2d,  # after every convolution but the first; None: no norm
        spectral_norm: bool = False,  # spectral normalisation of every layer (Miyato et al. 2018)
        num_classes: int = 0,  # classes of the data (used only when conditioned)
        label_dim: int = 0,  # concat conditioning: label maps appended to the input channels (0: off)
        projection: bool = False,  # projection conditioning (Miyato & Koyama 2018)
        aux_classifier: bool = False,  # AC-GAN class logits (Odena et al. 2017)
        minibatch_std: int = 0,  # > 0: the minibatch std feature map (Karras et al. 2018, this group size) before the head
    ):
        super().__init__()
        _, side = pyramid(image_shape)
        self.conditional = label_dim > 0 or projection
        self.encoder, c = dcgan_encoder(image_shape, width, norm, num_classes, label_dim)
        if minibatch_std:
            self.encoder.append(MinibatchStdDev(minibatch_std))  # (n, c, s, s) -> (n, c + 1, s, s)
            c += 1
        self.head = ScoreHead(c * side * side, num_classes, projection, aux_classifier)
        self.provides = self.head.provides
        dcgan_init(self)
        if spectral_norm:
            apply_spectral_norm(self)

    def forward(self, x: Tensor, y: Tensor | None = None) -> DOut:
        if self.conditional:
            y = checked_labels(y, "discriminator")
        features = self.encoder(x, y).flatten(1)  # (n, c * s * s)
        score, class_logits = self.head(features, y)
        return DOut(score=score, features=features, class_logits=class_logits)


class DCGANAutoencoder(AutoencoderDiscriminator):
    """EBGAN's discriminator in DCGAN form: the DCGAN encoder, then transposed convolutions back to
    the image. Takes the same arguments as DCGANDiscriminator, so `loss=ebgan` swaps it in.

    `embedding` > 0: BEGAN's bottleneck (Berthelot et al. 2017, fig. 1): the encoder's map goes through
    a linear layer to a code of this size (the embedding h, D's features) and a linear layer back to
    the map before the transposed convolutions. 0: the code is the encoder's map itself, wide enough
    for the autoencoder to learn the identity."""

    def __init__(
        self,
        image_shape: tuple[int, int, int],
        width: int = 64,
        norm: NormFactory | None = nn.BatchNorm2d,
        spectral_norm: bool = False,
        num_classes: int = 0,
        label_dim: int = 0,  # concat conditioning: label maps join the input and the code
        projection: bool = False,
        aux_classifier: bool = False,
        error_exponent: float = 2.0,  # energy: mean |D(x) - x| ** error_exponent (2: squared, 1: absolute)
        embedding: int = 0,  # > 0: a linear bottleneck of this size between encoder and decoder (BEGAN's h)
        minibatch_std: int = 0,  # not supported here: must be 0
    ):
        if minibatch_std:
            raise ValueError("model.discriminator.minibatch_std: the DCGAN autoencoder (loss=ebgan, loss=began) has no "
                             "minibatch std feature; set model.discriminator.minibatch_std=0")
        channels, _, _ = image_shape
        stages, side = pyramid(image_shape)
        embedding = checks.count(embedding, "embedding")
        encoder, c = dcgan_encoder(image_shape, width, norm, num_classes, label_dim)
        layers: list[nn.Module] = []
        if embedding:  # (n, c, s, s) -> (n, embedding) -> (n, c, s, s)
            encoder.extend([nn.Flatten(), nn.Linear(c * side * side, embedding)])
            layers += [nn.Linear(embedding, c * side * side), nn.Unflatten(1, (c, side, side))]
        layers += [LabelMaps(num_classes, label_dim)] if label_dim > 0 else []
        c_in = c + label_dim
        for _ in range(stages - 1):
            layers += [nn.ConvTranspose2d(c_in, c // 2, 4, 2, 1, bias=norm is None), make_norm(norm, c // 2),
                       nn.ReLU(inplace=True)]
            c = c_in = c // 2
        layers += [nn.ConvTranspose2d(c_in, channels, 4, 2, 1)]  # unbounded reconstruction
        head = ScoreHead(embedding or math.prod((width * 2 ** (stages - 1), side, side)), num_classes, projection,
                         aux_classifier, score=False)
        super().__init__(encoder, LabelledSequential(*layers), head, conditional=label_dim > 0 or projection,
                         error_exponent=error_exponent)
        dcgan_init(self)
        if spectral_norm:
            apply_spectral_norm(self)
