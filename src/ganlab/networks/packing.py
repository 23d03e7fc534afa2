"""PacGAN's packing (Lin et al. 2018): the discriminator judges m samples at once, concatenated,
real packs against fake packs, which penalises a generator whose samples lack variety (mode
collapse) far more than a discriminator of single samples can. Works with any discriminator family
and any data: a pack of m samples of shape (c, h, w) is one input of shape (m * c, h, w) (stacked
along the channels, as the paper does for images); of vectors (d,), one vector (m * d,).

The batch is cut into consecutive packs: samples 0..m-1 form pack 0, and so on, so a batch of n
samples gives n / m scores. For PacGAN's protocol (100 packs per step) set data.batch_size=100 * m.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable

from torch import Tensor, nn

from ganlab import checks
from ganlab.networks.output import CLASS_LOGITS, PER_SAMPLE, Discriminator, DOut


def packed_shape(image_shape: tuple[int, ...], samples: int) -> tuple[int, ...]:
    """The shape of one pack: the first axis (channels, or the vector) times `samples`."""
    first, *rest = image_shape
    return (first * samples, *rest)


class PackedDiscriminator(Discriminator):
    def __init__(
        self,
        build: Callable[[tuple[int, ...]], nn.Module],  # input shape -> the inner discriminator
        image_shape: tuple[int, ...],  # the shape of one sample
        samples: int = 2,  # m: samples per pack (PacGAN2: 2, PacGAN4: 4)
    ):
        super().__init__()
        self.image_shape = tuple(image_shape)
        self.pack_size = checks.positive_int(samples, "samples")
        self.discriminator = build(packed_shape(self.image_shape, samples))
        # A pack has no single label: a conditional inner D cannot be served (the build step refuses it).
        self.conditional = getattr(self.discriminator, "conditional", False)
        # One output per pack: nothing per sample (no class logits, no per-sample codes).
        self.provides = frozenset(getattr(self.discriminator, "provides", frozenset())) - {PER_SAMPLE, CLASS_LOGITS}

    def pack(self, x: Tensor) -> Tensor:
        """(n, *image_shape) -> (n / m, *packed_shape): consecutive samples side by side."""
        n = x.shape[0]
        if n % self.pack_size != 0:
            raise ValueError(f"packing: a batch of {n} samples does not split into packs of {self.pack_size}; "
                             f"set data.batch_size to a multiple of packing.samples={self.pack_size}")
        return x.reshape(n // self.pack_size, self.pack_size * x.shape[1], *x.shape[2:])

    def forward(self, x: Tensor, y: Tensor | None = None) -> DOut:
        out = self.discriminator(self.pack(x))  # score (n / m,)
        # Class logits of a pack name no sample's class: not given (the build step refuses AC-GAN here).
        return dataclasses.replace(out, class_logits=None) if out.class_logits is not None else out
