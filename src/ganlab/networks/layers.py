"""Building blocks shared by the network families: initialisation, norms, spectral norm, the
resolution pyramid, label embeddings and the discriminator head (score, projection, AC-GAN logits)."""
from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

from ganlab import checks
from ganlab.networks.output import CLASS_LOGITS, FEATURES, PER_SAMPLE

NormFactory = Callable[[int], nn.Module]  # channels -> norm layer, e.g. nn.BatchNorm2d


def layer_norm(channels: int) -> nn.Module:
    """Layer norm over (C, H, W) of a feature map, per sample (a WGAN-GP-safe critic norm)."""
    return nn.GroupNorm(1, channels)


def instance_norm(channels: int) -> nn.Module:
    """Instance norm with a learned affine transform, per sample and channel."""
    return nn.InstanceNorm2d(channels, affine=True)


def make_norm(norm: NormFactory | None, channels: int) -> nn.Module:
    return nn.Identity() if norm is None else norm(channels)


def pyramid(image_shape: tuple[int, int, int]) -> tuple[int, int]:
    """(number of stride-2 stages, side of the smallest map) for a square image: 28 -> (2, 7),
    32 -> (3, 4), 64 -> (4, 4). The smallest map is at least 4 pixels wide."""
    channels, height, width = image_shape
    if height != width:
        raise ValueError(f"square images only, got {height}x{width} (set data.image_size)")
    stages, side = 0, height
    while side % 2 == 0 and side // 2 >= 4:
        stages, side = stages + 1, side // 2
    if stages == 0:
        raise ValueError(f"image size {height} cannot be built by stride-2 stages from a 4x4 map or larger: "
                         "use an even size >= 8, e.g. 28, 32 or 64 (data.image_size)")
    return stages, side


def dcgan_init(module: nn.Module) -> None:
    """Radford et al. 2016: every weight ~ N(0, 0.02); norm scales ~ N(1, 0.02), shifts 0."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d, nn.GroupNorm, nn.InstanceNorm2d)) and m.affine:
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


def linear_init(module: nn.Module, weight_init: Callable[[Tensor], object] | None) -> None:
    """`weight_init` (an in-place initialiser such as nn.init.orthogonal_) on every linear weight, every
    linear bias 0; None: PyTorch's default initialisation is kept."""
    if weight_init is None:
        return
    for m in module.modules():
        if isinstance(m, nn.Linear):
            weight_init(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)


def apply_spectral_norm(module: nn.Module) -> nn.Module:
    """Spectral normalisation (Miyato et al. 2018) on every convolution, linear layer and embedding."""
    for m in list(module.modules()):
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear, nn.Embedding)):
            nn.utils.parametrizations.spectral_norm(m)
    return module


def require_labels(num_classes: int, what: str) -> None:
    if num_classes < 1:
        raise ValueError(f"{what} needs class labels, but the data has none (num_classes = 0)")


def checked_labels(y: Tensor | None, what: str) -> Tensor:
    if y is None:
        raise ValueError(f"this {what} is class-conditional: pass labels y")
    return y


class LabelMaps(nn.Module):
    """Concat conditioning for convolutions (Mirza & Osindero 2014): a learned embedding of y,
    broadcast to (n, channels, h, w) and appended to a feature map's channels."""

    def __init__(self, num_classes: int, channels: int):
        super().__init__()
        require_labels(num_classes, "concat conditioning")
        self.embedding = nn.Embedding(num_classes, channels)

    def forward(self, h: Tensor, y: Tensor) -> Tensor:
        maps = self.embedding(y)[:, :, None, None].expand(-1, -1, *h.shape[2:])  # (n, k, h, w)
        return torch.cat([h, maps.to(h.dtype)], dim=1)


class LabelVector(nn.Module):
    """Concat conditioning for vectors: (n, d) -> (n, d + dim) with a learned embedding of y."""

    def __init__(self, num_classes: int, dim: int):
        super().__init__()
        require_labels(num_classes, "concat conditioning")
        self.embedding = nn.Embedding(num_classes, dim)

    def forward(self, h: Tensor, y: Tensor) -> Tensor:
        return torch.cat([h, self.embedding(y).to(h.dtype)], dim=1)


class ConditionalBatchNorm2d(nn.Module):
    """BatchNorm whose scale and shift are chosen by the class (de Vries et al. 2017; the
    generator side of the projection cGAN, Miyato & Koyama 2018)."""

    def __init__(self, channels: int, num_classes: int):
        super().__init__()
        require_labels(num_classes, "conditional BatchNorm")
        self.norm = nn.BatchNorm2d(channels, affine=False)
        self.scale = nn.Embedding(num_classes, channels)
        self.shift = nn.Embedding(num_classes, channels)
        nn.init.ones_(self.scale.weight)
        nn.init.zeros_(self.shift.weight)

    def forward(self, h: Tensor, y: Tensor) -> Tensor:
        return self.norm(h) * self.scale(y)[:, :, None, None] + self.shift(y)[:, :, None, None]


class Scale(nn.Module):
    """x -> factor * x: a fixed (not learned) input scale."""

    def __init__(self, factor: float):
        super().__init__()
        self.factor = checks.positive(factor, "input_scale")

    def forward(self, x: Tensor) -> Tensor:
        return x * self.factor

    def extra_repr(self) -> str:
        return f"factor={self.factor:g}"


class LabelledSequential(nn.Sequential):
    """nn.Sequential that hands the labels to the layers that take them (label-conditional ones)."""

    def forward(self, h: Tensor, y: Tensor | None = None) -> Tensor:  # type: ignore[override]
        for layer in self:
            h = layer(h, y) if isinstance(layer, (ConditionalBatchNorm2d, LabelMaps, LabelVector)) else layer(h)
        return h


class ScoreHead(nn.Module):
    """Discriminator features (n, f) -> score (n,) and, for AC-GAN, class logits (n, k).

    projection: score += <embed(y), features> (Miyato & Koyama 2018).
    aux_classifier: a linear classifier on the features (Odena et al. 2017).
    """

    def __init__(self, features: int, num_classes: int = 0, projection: bool = False,
                 aux_classifier: bool = False, score: bool = True):
        super().__init__()
        self.linear = nn.Linear(features, 1) if score else None
        self.projection = None
        self.classifier = None
        if projection:
            require_labels(num_classes, "projection conditioning")
            self.projection = nn.Embedding(num_classes, features)
            nn.init.normal_(self.projection.weight, 0.0, 0.02)
        if aux_classifier:
            require_labels(num_classes, "an auxiliary classifier (AC-GAN)")
            self.classifier = nn.Linear(features, num_classes)

    @property
    def provides(self) -> frozenset[str]:
        """What a discriminator ending in this head gives beyond its score: its features (the head's
        input), one output per sample, and the class logits when it has the classifier."""
        return frozenset({FEATURES, PER_SAMPLE} | ({CLASS_LOGITS} if self.classifier is not None else set()))

    def forward(self, features: Tensor, y: Tensor | None) -> tuple[Tensor, Tensor | None]:
        score = self.linear(features).squeeze(1) if self.linear is not None else features.new_zeros(len(features))
        if self.projection is not None:
            if y is None:
                raise ValueError("a projection discriminator needs labels y")
            score = score + (self.projection(y) * features).sum(dim=1)
        logits = self.classifier(features) if self.classifier is not None else None
        return score, logits


class Maxout(nn.Module):
    """A maxout layer (Goodfellow et al. 2013): (n, in) -> (n, out), the maximum of `pieces` linear
    functions per output unit."""

    def __init__(self, in_features: int, out_features: int, pieces: int):
        super().__init__()
        if pieces < 1:
            raise ValueError(f"maxout needs at least 1 piece per unit, got {pieces}")
        self.out_features = out_features
        self.pieces = pieces
        self.linear = nn.Linear(in_features, out_features * pieces)

    def forward(self, h: Tensor) -> Tensor:
        return self.linear(h).view(-1, self.out_features, self.pieces).amax(dim=2)  # (n, out)


class MinibatchStdDev(nn.Module):
    """The minibatch standard-deviation feature of Karras et al. 2018 (ProGAN, sec. 3): the samples
    are split into groups of `group_size` (sample i belongs to group i mod (n / group_size)); for each
    group the standard deviation over its members of every feature (and pixel) is averaged into one
    number, which is appended to each member as one more feature (vectors (n, f) -> (n, f + 1)) or
    one more constant channel (maps (n, c, h, w) -> (n, c + 1, h, w)). A discriminator that sees it can
    tell a batch of near-identical fakes (mode collapse) from varied real data.

    A batch smaller than `group_size` forms one group; otherwise n must be a multiple of it."""

    def __init__(self, group_size: int = 4, eps: float = 1e-8):
        super().__init__()
        self.group_size = checks.integer(group_size, "minibatch_std", low=2)  # the group size
        self.eps = eps

    def forward(self, h: Tensor) -> Tensor:
        n = h.shape[0]
        group = min(self.group_size, n)
        if n % group != 0:
            raise ValueError(f"minibatch_std: a batch of {n} does not split into groups of {group}; "
                             "use a batch size that is a multiple of the group size")
        grouped = h.float().reshape(group, n // group, *h.shape[1:])  # (g, n/g, ...)
        std = (grouped.var(dim=0, unbiased=False) + self.eps).sqrt()  # (n/g, ...)
        feature = std.flatten(1).mean(dim=1).to(h.dtype)  # (n/g,)
        feature = feature.repeat(group).view(n, 1, *([1] * (h.dim() - 2)))  # sample i: group i mod n/g
        return torch.cat([h, feature.expand(n, 1, *h.shape[2:])], dim=1)
