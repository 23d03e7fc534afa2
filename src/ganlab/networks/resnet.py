"""The ResNet GAN of SNGAN (Miyato et al. 2018, appendix B.4; Gulrajani et al. 2017), built for any
square image size from one definition.

G: z -> linear -> a (width, s, s) map, then k residual blocks that each double the resolution
(BatchNorm, ReLU, nearest 2x upsampling, 3x3 conv, BatchNorm, ReLU, 3x3 conv; a 1x1 conv shortcut),
then BatchNorm, ReLU, a 3x3 conv to the image channels and Tanh.
D: an "optimised" first block (conv, ReLU, conv, 2x2 average pool; pooled 1x1 shortcut), k - 2 more
downsampling blocks and 2 blocks at constant resolution (pre-activation: ReLU, conv, ReLU, conv), all
`width` channels, then ReLU, a global *sum* pool and a linear score (spectrally normalised in SNGAN).
k and s come from the image size: 32 -> 3 blocks from 4x4 (the paper's CIFAR-10 nets: G 256, D 128
channels), 64 -> 4 from 4x4 (one more stage), 28 -> 2 from 7x7. Weights: Xavier-uniform, gain
sqrt(2) in the residual branches and 1 elsewhere, as in the authors' code.
"""
from __future__ import annotations

import math

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from ganlab.networks.autoencoder import AutoencoderDiscriminator
from ganlab.networks.layers import (
    ConditionalBatchNorm2d,
    LabelledSequential,
    LabelMaps,
    LabelVector,
    NormFactory,
    ScoreHead,
    apply_spectral_norm,
    checked_labels,
    make_norm,
    pyramid,
)
from ganlab.networks.output import Discriminator, DOut, Generator

RESIDUAL_GAIN = math.sqrt(2.0)  # Xavier gain of the convolutions inside a residual branch


def conv(c_in: int, c_out: int, kernel: int, gain: float = 1.0) -> nn.Conv2d:
    """A 'same' convolution with Xavier-uniform weights of the given gain and zero bias."""
    layer = nn.Conv2d(c_in, c_out, kernel, 1, kernel // 2)
    nn.init.xavier_uniform_(layer.weight, gain)
    nn.init.zeros_(layer.bias)
    return layer


def _upsample(h: Tensor) -> Tensor:
    return F.interpolate(h, scale_factor=2, mode="nearest")  # (n, c, 2h, 2w)


class GeneratorBlock(nn.Module):
    """Pre-activation up block: norm, ReLU, 2x upsample, conv3x3, norm, ReLU, conv3x3, plus an
    upsampled 1x1-conv shortcut. With `num_classes > 0` its norms are class-conditional."""

    def __init__(self, c_in: int, c_out: int, norm: NormFactory | None, num_classes: int = 0):
        super().__init__()

        def norm_layer(c: int) -> nn.Module:
            return ConditionalBatchNorm2d(c, num_classes) if num_classes > 0 else make_norm(norm, c)

        self.norm1, self.conv1 = norm_layer(c_in), conv(c_in, c_out, 3, RESIDUAL_GAIN)
        self.norm2, self.conv2 = norm_layer(c_out), conv(c_out, c_out, 3, RESIDUAL_GAIN)
        self.shortcut = conv(c_in, c_out, 1)

    def _norm(self, norm: nn.Module, h: Tensor, y: Tensor | None) -> Tensor:
        return norm(h, y) if isinstance(norm, ConditionalBatchNorm2d) else norm(h)

    def forward(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        h = F.relu(self._norm(self.norm1, x, y))
        h = self.conv1(_upsample(h))  # (n, c_out, 2h, 2w)
        h = self.conv2(F.relu(self._norm(self.norm2, h, y)))
        return h + self.shortcut(_upsample(x))


class OptimizedBlock(nn.Module):
    """D's first block, on the image itself (no activation before the first conv): conv3x3, [norm],
    ReLU, conv3x3, 2x2 average pool, plus a pooled 1x1-conv shortcut."""

    def __init__(self, c_in: int, c_out: int, norm: NormFactory | None):
        super().__init__()
        self.conv1, self.norm = conv(c_in, c_out, 3, RESIDUAL_GAIN), make_norm(norm, c_out)
        self.conv2 = conv(c_out, c_out, 3, RESIDUAL_GAIN)
        self.shortcut = conv(c_in, c_out, 1)

    def forward(self, x: Tensor) -> Tensor:
        h = self.conv2(F.relu(self.norm(self.conv1(x))))
        return F.avg_pool2d(h, 2) + self.shortcut(F.avg_pool2d(x, 2))  # (n, c_out, h/2, w/2)


class DiscriminatorBlock(nn.Module):
    """Pre-activation block: [norm], ReLU, conv3x3, [norm], ReLU, conv3x3, optional 2x2 average pool;
    the shortcut is the identity, or a 1x1 conv (then pooled) where the shape changes."""

    def __init__(self, c_in: int, c_out: int, norm: NormFactory | None, downsample: bool):
        super().__init__()
        self.downsample = downsample
        self.norm1, self.conv1 = make_norm(norm, c_in), conv(c_in, c_out, 3, RESIDUAL_GAIN)
        self.norm2, self.conv2 = make_norm(norm, c_out), conv(c_out, c_out, 3, RESIDUAL_GAIN)
        self.shortcut = conv(c_in, c_out, 1) if downsample or c_in != c_out else nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        h = self.conv1(F.relu(self.norm1(x)))  # not in place: x is also the shortcut's input
        h = self.conv2(F.relu(self.norm2(h)))
        s = self.shortcut(x)
        if self.downsample:
            h, s = F.avg_pool2d(h, 2), F.avg_pool2d(s, 2)  # (n, c_out, h/2, w/2)
        return h + s


def resnet_encoder(image_shape: tuple[int, int, int], width: int, norm: NormFactory | None,
                   num_classes: int, label_dim: int) -> tuple[LabelledSequential, int]:
    """D's residual stack, from the image to a (width, 2s, 2s) map; returns (encoder, number of 2x
    downsamplings). Concat conditioning appends label maps to the image."""
    channels, _, _ = image_shape
    stages, _ = pyramid(image_shape)
    downsamplings = 1 + max(stages - 2, 0)
    layers: list[nn.Module] = [LabelMaps(num_classes, label_dim)] if label_dim > 0 else []
    layers.append(OptimizedBlock(channels + label_dim, width, norm))
    layers += [DiscriminatorBlock(width, width, norm, downsample=True) for _ in range(downsamplings - 1)]
    layers += [DiscriminatorBlock(width, width, norm, downsample=False) for _ in range(2)]
    return LabelledSequential(*layers), downsamplings


class ResNetGenerator(Generator):
    def __init__(
        self,
        image_shape: tuple[int, int, int],  # (c, h, w) of the data
        latent_dim: int = 128,  # size of z
        width: int = 256,  # channels of every residual block (SNGAN CIFAR-10: 256)
        norm: NormFactory | None = nn.BatchNorm2d,  # in every block and before the output conv
        num_classes: int = 0,  # classes of the data (used only when conditioned)
        label_dim: int = 0,  # concat conditioning: a label embedding of this size joins z (0: off)
        conditional_norm: bool = False,  # class-conditional BatchNorm in the blocks (projection cGAN)
    ):
        super().__init__(latent_dim, num_classes, conditional=label_dim > 0 or conditional_norm)
        channels, _, _ = image_shape
        stages, side = pyramid(image_shape)
        self.image_shape = tuple(image_shape)
        self.width, self.side = width, side
        self.label = LabelVector(num_classes, label_dim) if label_dim > 0 else None
        self.input = nn.Linear(latent_dim + label_dim, width * side * side)
        nn.init.xavier_uniform_(self.input.weight)
        nn.init.zeros_(self.input.bias)
        block_classes = num_classes if conditional_norm else 0
        self.blocks = nn.ModuleList(GeneratorBlock(width, width, norm, block_classes) for _ in range(stages))
        self.output = nn.Sequential(make_norm(norm, width), nn.ReLU(), conv(width, channels, 3), nn.Tanh())

    def forward(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        if self.conditional:
            y = checked_labels(y, "generator")
        if self.label is not None:
            z = self.label(z, y)  # (n, latent + label_dim)
        h = self.input(z).view(-1, self.width, self.side, self.side)  # (n, width, s, s)
        for block in self.blocks:
            h = block(h, y)  # (n, width, 2^i s, 2^i s)
        return self.output(h)  # (n, channels, h, w)


class ResNetDiscriminator(Discriminator):
    def __init__(
        self,
        image_shape: tuple[int, int, int],  # (c, h, w) of the data
        width: int = 128,  # channels of every residual block (SNGAN CIFAR-10: 128)
        norm: NormFactory | None = None,  # in every block; None (SNGAN, WGAN-GP): samples stay independent
        spectral_norm: bool = True,  # spectral normalisation of every layer (Miyato et al. 2018)
        num_classes: int = 0,  # classes of the data (used only when conditioned)
        label_dim: int = 0,  # concat conditioning: label maps appended to the input channels (0: off)
        projection: bool = False,  # projection conditioning (Miyato & Koyama 2018)
        aux_classifier: bool = False,  # AC-GAN class logits (Odena et al. 2017)
    ):
        super().__init__()
        self.conditional = label_dim > 0 or projection
        self.encoder, _ = resnet_encoder(image_shape, width, norm, num_classes, label_dim)
        self.head = ScoreHead(width, num_classes, projection, aux_classifier)
        self.provides = self.head.provides
        nn.init.xavier_uniform_(self.head.linear.weight)
        nn.init.zeros_(self.head.linear.bias)
        if spectral_norm:
            apply_spectral_norm(self)

    def forward(self, x: Tensor, y: Tensor | None = None) -> DOut:
        if self.conditional:
            y = checked_labels(y, "discriminator")
        h = self.encoder(x, y)  # (n, width, 2s, 2s)
        features = torch.sum(F.relu(h), dim=(2, 3))  # (n, width): global sum pooling
        score, class_logits = self.head(features, y)
        return DOut(score=score, features=features, class_logits=class_logits)


class ResNetAutoencoder(AutoencoderDiscriminator):
    """EBGAN's discriminator in ResNet form: D's residual encoder, then up blocks back to the image.
    Takes the same arguments as ResNetDiscriminator, so `loss=ebgan` swaps it in."""

    def __init__(
        self,
        image_shape: tuple[int, int, int],
        width: int = 128,
        norm: NormFactory | None = None,
        spectral_norm: bool = True,
        num_classes: int = 0,
        label_dim: int = 0,  # concat conditioning: label maps join the input and the code
        projection: bool = False,
        aux_classifier: bool = False,
        error_exponent: float = 2.0,  # energy: mean |D(x) - x| ** error_exponent (2: squared, 1: absolute)
    ):
        channels, height, _ = image_shape
        encoder, downsamplings = resnet_encoder(image_shape, width, norm, num_classes, label_dim)
        layers: list[nn.Module] = [LabelMaps(num_classes, label_dim)] if label_dim > 0 else []
        layers.append(GeneratorBlock(width + label_dim, width, norm))
        layers += [GeneratorBlock(width, width, norm) for _ in range(downsamplings - 1)]
        layers += [make_norm(norm, width), nn.ReLU(), conv(width, channels, 3)]  # unbounded reconstruction
        code_side = height // 2 ** downsamplings
        head = ScoreHead(width * code_side * code_side, num_classes, projection, aux_classifier, score=False)
        super().__init__(encoder, LabelledSequential(*layers), head, conditional=label_dim > 0 or projection,
                         error_exponent=error_exponent)
        if spectral_norm:
            apply_spectral_norm(self)
