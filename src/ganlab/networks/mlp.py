"""The fully connected GAN of Goodfellow et al. 2014, the classic baseline, for any image shape
and for vector data (a sample shape of (d,), e.g. data=ring's points).

G: z -> hidden layers (LeakyReLU 0.2, BatchNorm after all but the first) -> C*H*W -> Tanh (optional).
D: the flattened image -> hidden layers (LeakyReLU 0.2, optional dropout) -> a linear score.

Options for other papers' fully connected networks: `activation` (the hidden layers' activation, e.g.
ReLU), `weight_init` (an initialiser for every linear weight, biases 0, e.g. orthogonal with a gain)
and D's `input_scale` (a fixed factor on D's input), e.g. the Unrolled GAN's 2-D networks
(experiment=unrolled_ring).
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from torch import Tensor, nn

from ganlab.networks.autoencoder import AutoencoderDiscriminator
from ganlab.networks.layers import (
    LabelledSequential,
    LabelVector,
    ScoreHead,
    apply_spectral_norm,
    checked_labels,
    MinibatchStdDev,
    Scale,
    linear_init,
    make_norm,
)
from ganlab.networks.output import Discriminator, DOut, Generator

Norm1d = Callable[[int], nn.Module]  # features -> norm layer, e.g. nn.BatchNorm1d
Activation = Callable[[], nn.Module]  # -> a new activation layer, e.g. nn.ReLU
WeightInit = Callable[[Tensor], object]  # an in-place initialiser of a weight, e.g. nn.init.orthogonal_


def leaky_relu() -> nn.Module:
    """The default hidden activation: LeakyReLU(0.2)."""
    return nn.LeakyReLU(0.2, inplace=True)


def _stack(sizes: Sequence[int], norm: Norm1d | None, dropout: float, norm_first: bool,
           activation: Activation | None = None) -> list[nn.Module]:
    """Linear layers between consecutive sizes, each followed by [norm], the activation (None:
    LeakyReLU(0.2)), [dropout]."""
    activation = activation or leaky_relu
    layers: list[nn.Module] = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        use_norm = norm is not None and (norm_first or i > 0)
        layers += [nn.Linear(n_in, n_out, bias=not use_norm)]
        layers += [make_norm(norm if use_norm else None, n_out), activation()]
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
    return layers


def _critic_stack(sizes: Sequence[int], norm: Norm1d | None, dropout: float, minibatch_std: int,
                  activation: Activation | None = None) -> list[nn.Module]:
    """D's layers; with `minibatch_std` (a group size, 0: off) the minibatch standard-deviation
    feature (Karras et al. 2018) joins the input of the last hidden layer."""
    if not minibatch_std:
        return _stack(sizes, norm, dropout, True, activation)
    return [*_stack(sizes[:-1], norm, dropout, True, activation), MinibatchStdDev(minibatch_std),
            *_stack([sizes[-2] + 1, sizes[-1]], norm, dropout, True, activation)]


def _input_layers(image_shape: tuple[int, ...], input_scale: float, num_classes: int,
                  label_dim: int) -> list[nn.Module]:
    """D's first layers: flatten, [scale by input_scale], [join the label embedding]."""
    scale = [Scale(input_scale)] if input_scale != 1.0 else []
    label = [LabelVector(num_classes, label_dim)] if label_dim > 0 else []
    return [nn.Flatten(), *scale, *label]


class MLPGenerator(Generator):
    def __init__(
        self,
        image_shape: tuple[int, ...],  # (c, h, w) of images, or (d,) of vectors
        latent_dim: int = 100,  # size of z
        hidden: Sequence[int] = (256, 512, 1024),  # widths of the hidden layers
        norm: Norm1d | None = nn.BatchNorm1d,  # after every hidden layer but the first
        num_classes: int = 0,  # classes of the data (used only when conditioned)
        label_dim: int = 0,  # concat conditioning: a label embedding of this size joins z (0: off)
        tanh: bool = True,  # a Tanh output in [-1, 1] (images); false: linear (vectors beyond it, data=grid)
        activation: Activation | None = None,  # the hidden layers' activation, e.g. nn.ReLU (None: LeakyReLU 0.2)
        weight_init: WeightInit | None = None,  # on every linear weight, biases 0 (None: PyTorch's default)
    ):
        super().__init__(latent_dim, num_classes, conditional=label_dim > 0)
        if not hidden:
            raise ValueError("model.generator.hidden must list at least one layer width")
        self.image_shape = tuple(image_shape)
        self.label = LabelVector(num_classes, label_dim) if label_dim > 0 else None
        layers = _stack([latent_dim + label_dim, *hidden], norm, 0.0, False, activation)
        self.net = nn.Sequential(*layers, nn.Linear(hidden[-1], math.prod(image_shape)),
                                 nn.Tanh() if tanh else nn.Identity())
        linear_init(self, weight_init)

    def forward(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        if self.label is not None:
            z = self.label(z, checked_labels(y, "generator"))
        return self.net(z).view(-1, *self.image_shape)  # (n, c, h, w) or (n, d)


class FlatDiscriminator(Discriminator):
    """A discriminator on flattened samples: `body` (labels passed through) to features, then
    `ScoreHead`. Subclasses build `body`, `head` and set `conditional`."""

    @property
    def provides(self) -> frozenset[str]:
        return self.head.provides

    def forward(self, x: Tensor, y: Tensor | None = None) -> DOut:
        if self.conditional:
            y = checked_labels(y, "discriminator")
        features = self.body(x, y)  # (n, hidden[-1])
        score, class_logits = self.head(features, y)
        return DOut(score=score, features=features, class_logits=class_logits)


class MLPDiscriminator(FlatDiscriminator):
    def __init__(
        self,
        image_shape: tuple[int, ...],  # (c, h, w) of images, or (d,) of vectors
        hidden: Sequence[int] = (512, 256),  # widths of the hidden layers; the last is the feature size
        norm: Norm1d | None = None,  # after every hidden layer; None (default) keeps samples independent
        dropout: float = 0.0,  # after every hidden layer (Goodfellow et al. used dropout in D)
        spectral_norm: bool = False,  # spectral normalisation of every layer (Miyato et al. 2018)
        num_classes: int = 0,  # classes of the data (used only when conditioned)
        label_dim: int = 0,  # concat conditioning: a label embedding joins the flattened image (0: off)
        projection: bool = False,  # projection conditioning (Miyato & Koyama 2018)
        aux_classifier: bool = False,  # AC-GAN class logits (Odena et al. 2017)
        minibatch_std: int = 0,  # group size of the minibatch std feature before the last layer (0: off)
        activation: Activation | None = None,  # the hidden layers' activation, e.g. nn.ReLU (None: LeakyReLU 0.2)
        weight_init: WeightInit | None = None,  # on every linear weight, biases 0 (None: PyTorch's default)
        input_scale: float = 1.0,  # a fixed factor on the input before the first layer (1: none)
    ):
        super().__init__()
        if not hidden:
            raise ValueError("model.discriminator.hidden must list at least one layer width")
        self.conditional = label_dim > 0 or projection
        self.body = LabelledSequential(
            *_input_layers(image_shape, input_scale, num_classes, label_dim),
            *_critic_stack([math.prod(image_shape) + label_dim, *hidden], norm, dropout, minibatch_std, activation))
        self.head = ScoreHead(hidden[-1], num_classes, projection, aux_classifier)
        linear_init(self, weight_init)
        if spectral_norm:
            apply_spectral_norm(self)



class MLPAutoencoder(AutoencoderDiscriminator):
    """EBGAN's discriminator as an MLP: encoder to an embedding of size hidden[-1], decoder back to
    the image. Takes the same arguments as MLPDiscriminator, so `loss=ebgan` swaps it in."""

    def __init__(
        self,
        image_shape: tuple[int, ...],
        hidden: Sequence[int] = (512, 256),
        norm: Norm1d | None = None,
        dropout: float = 0.0,
        spectral_norm: bool = False,
        num_classes: int = 0,
        label_dim: int = 0,  # concat conditioning: the label joins the input and the code
        projection: bool = False,
        aux_classifier: bool = False,
        error_exponent: float = 2.0,  # energy: mean |D(x) - x| ** error_exponent (2: squared, 1: absolute)
        minibatch_std: int = 0,  # in the encoder, before its last layer
        activation: Activation | None = None,  # encoder's and decoder's hidden activation (None: LeakyReLU 0.2)
        weight_init: WeightInit | None = None,  # on every linear weight, biases 0 (None: PyTorch's default)
        input_scale: float = 1.0,  # a fixed factor on the encoder's input (the decoder reconstructs the sample)
    ):
        if not hidden:
            raise ValueError("model.discriminator.hidden must list at least one layer width")
        pixels = math.prod(image_shape)
        label = (lambda: [LabelVector(num_classes, label_dim)]) if label_dim > 0 else (lambda: [])
        encoder = LabelledSequential(*_input_layers(image_shape, input_scale, num_classes, label_dim),
                                     *_critic_stack([pixels + label_dim, *hidden], norm, dropout, minibatch_std,
                                                    activation))
        widths = [hidden[-1] + label_dim, *reversed(hidden[:-1])]
        decoder = LabelledSequential(*label(), *_stack(widths, norm, 0.0, True, activation),
                                     nn.Linear(widths[-1], pixels), nn.Unflatten(1, tuple(image_shape)))
        super().__init__(encoder, decoder, ScoreHead(hidden[-1], num_classes, projection, aux_classifier,
                                                     score=False), conditional=label_dim > 0 or projection,
                         error_exponent=error_exponent)
        linear_init(self, weight_init)
        if spectral_norm:
            apply_spectral_norm(self)
