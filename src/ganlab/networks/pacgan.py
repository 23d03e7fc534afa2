"""The networks of PacGAN's 2-D experiments (Lin et al. 2018, sec. 5.1; those of ALI / VEEGAN's
mixture benchmarks), for vector data (2,) and, flattened, for any image shape.

G: z -> 4 x [Linear 400 (no bias) + BatchNorm + ReLU] -> Linear (the sample's size), no output
   squashing (the grid's points reach +-4).
D: the flattened sample -> 3 maxout layers (200 units, 5 pieces each) -> Linear 1.
Every weight ~ N(0, 0.02^2), every bias 0, as in the paper's code.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from torch import Tensor, nn

from ganlab.networks.autoencoder import AutoencoderDiscriminator
from ganlab.networks.mlp import FlatDiscriminator
from ganlab.networks.layers import (
    LabelledSequential,
    LabelVector,
    Maxout,
    MinibatchStdDev,
    ScoreHead,
    apply_spectral_norm,
    checked_labels,
    make_norm,
)
from ganlab.networks.output import Generator

Norm1d = Callable[[int], nn.Module]  # features -> norm layer, e.g. nn.BatchNorm1d


def normal_init(module: nn.Module, std: float) -> None:
    """Every linear weight ~ N(0, std^2), every bias 0 (norm layers keep scale 1, shift 0)."""
    for m in module.modules():
        if isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0.0, std)
            if m.bias is not None:
                nn.init.zeros_(m.bias)


def _maxout_stack(sizes: Sequence[int], pieces: int, minibatch_std: int) -> list[nn.Module]:
    """Maxout layers between consecutive sizes; with `minibatch_std` (a group size, 0: off) the
    minibatch standard-deviation feature joins the input of the last one."""
    layers: list[nn.Module] = []
    last = len(sizes) - 2
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        if minibatch_std and i == last:
            layers.append(MinibatchStdDev(minibatch_std))
            n_in += 1
        layers.append(Maxout(n_in, n_out, pieces))
    return layers


class PacGANGenerator(Generator):
    def __init__(
        self,
        image_shape: tuple[int, ...],  # the shape of one sample: (2,) for the mixtures, or (c, h, w)
        latent_dim: int = 2,  # size of z (PacGAN: 2, z ~ N(0, I))
        hidden: Sequence[int] = (400, 400, 400, 400),  # widths of the hidden layers
        norm: Norm1d | None = nn.BatchNorm1d,  # after every hidden linear layer (which then has no bias)
        init_std: float = 0.02,  # weights ~ N(0, init_std^2)
        num_classes: int = 0,  # classes of the data (used only when conditioned)
        label_dim: int = 0,  # concat conditioning: a label embedding of this size joins z (0: off)
    ):
        super().__init__(latent_dim, num_classes, conditional=label_dim > 0)
        if not hidden:
            raise ValueError("model.generator.hidden must list at least one layer width")
        self.image_shape = tuple(image_shape)
        self.label = LabelVector(num_classes, label_dim) if label_dim > 0 else None
        layers: list[nn.Module] = []
        for n_in, n_out in zip([latent_dim + label_dim, *hidden[:-1]], hidden):
            layers += [nn.Linear(n_in, n_out, bias=norm is None), make_norm(norm, n_out), nn.ReLU(inplace=True)]
        self.net = nn.Sequential(*layers, nn.Linear(hidden[-1], math.prod(self.image_shape)))
        normal_init(self, init_std)

    def forward(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        if self.label is not None:
            z = self.label(z, checked_labels(y, "generator"))
        return self.net(z).view(-1, *self.image_shape)  # (n, *image_shape)


class PacGANDiscriminator(FlatDiscriminator):
    def __init__(
        self,
        image_shape: tuple[int, ...],  # the shape of one sample: (2,) for the mixtures, or (c, h, w)
        hidden: Sequence[int] = (200, 200, 200),  # units of the maxout layers; the last is the feature size
        pieces: int = 5,  # linear pieces per maxout unit
        minibatch_std: int = 0,  # group size of the minibatch std feature before the last layer (0: off)
        init_std: float = 0.02,  # weights ~ N(0, init_std^2)
        spectral_norm: bool = False,  # spectral normalisation of every layer (Miyato et al. 2018)
        num_classes: int = 0,  # classes of the data (used only when conditioned)
        label_dim: int = 0,  # concat conditioning: a label embedding joins the flattened sample (0: off)
        projection: bool = False,  # projection conditioning (Miyato & Koyama 2018)
        aux_classifier: bool = False,  # AC-GAN class logits (Odena et al. 2017)
    ):
        super().__init__()
        if not hidden:
            raise ValueError("model.discriminator.hidden must list at least one layer width")
        self.conditional = label_dim > 0 or projection
        first: list[nn.Module] = [nn.Flatten()] + ([LabelVector(num_classes, label_dim)] if label_dim > 0 else [])
        sizes = [math.prod(image_shape) + label_dim, *hidden]
        self.body = LabelledSequential(*first, *_maxout_stack(sizes, pieces, minibatch_std))
        self.head = ScoreHead(hidden[-1], num_classes, projection, aux_classifier)
        normal_init(self, init_std)
        if spectral_norm:
            apply_spectral_norm(self)



class PacGANAutoencoder(AutoencoderDiscriminator):
    """EBGAN's autoencoder discriminator with PacGAN's maxout layers (encoder: the maxout stack to
    an embedding of size hidden[-1]; decoder: maxout layers back, then a linear layer to the sample).
    Takes the same arguments as PacGANDiscriminator, so `loss=ebgan` swaps it in."""

    def __init__(
        self,
        image_shape: tuple[int, ...],
        hidden: Sequence[int] = (200, 200, 200),
        pieces: int = 5,
        minibatch_std: int = 0,  # in the encoder, before its last layer
        init_std: float = 0.02,
        spectral_norm: bool = False,
        num_classes: int = 0,
        label_dim: int = 0,  # concat conditioning: the label joins the input and the code
        projection: bool = False,
        aux_classifier: bool = False,
        error_exponent: float = 2.0,  # energy: mean |D(x) - x| ** error_exponent (2: squared, 1: absolute)
    ):
        if not hidden:
            raise ValueError("model.discriminator.hidden must list at least one layer width")
        size = math.prod(image_shape)
        label = (lambda: [LabelVector(num_classes, label_dim)]) if label_dim > 0 else (lambda: [])
        encoder = LabelledSequential(nn.Flatten(), *label(),
                                     *_maxout_stack([size + label_dim, *hidden], pieces, minibatch_std))
        widths = [hidden[-1] + label_dim, *reversed(hidden[:-1])]
        decoder = LabelledSequential(*label(), *_maxout_stack(widths, pieces, 0),
                                     nn.Linear(widths[-1], size), nn.Unflatten(1, tuple(image_shape)))
        super().__init__(encoder, decoder, ScoreHead(hidden[-1], num_classes, projection, aux_classifier,
                                                     score=False), conditional=label_dim > 0 or projection,
                         error_exponent=error_exponent)
        normal_init(self, init_std)
        if spectral_norm:
            apply_spectral_norm(self)
