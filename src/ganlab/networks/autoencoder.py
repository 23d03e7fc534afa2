"""The autoencoder discriminator of EBGAN (Zhao et al. 2017): its energy is the reconstruction error.

Each family (mlp.py, dcgan.py) builds the encoder and decoder of its own shape; this module turns
them into a discriminator whose DOut.score is the per-sample energy (low on data), DOut.features the
encoder's embedding (for the pull-away term) and DOut.reconstruction the decoder's output.

The energy is the mean over a sample's values of |D(x) - x| ** error_exponent: 2 (the default) is the
mean squared error, EBGAN's; 1 the mean absolute error, the L1 loss of BEGAN's experiments (Berthelot
et al. 2017, eq. 1 with eta = 1). Every family's autoencoder takes `error_exponent`
(model.discriminator.error_exponent, or model.variants.autoencoder.error_exponent).
"""
from __future__ import annotations

from torch import Tensor, nn

from ganlab import checks
from ganlab.networks.layers import ScoreHead, checked_labels
from ganlab.networks.output import RECONSTRUCTION, Discriminator, DOut


class AutoencoderDiscriminator(Discriminator):
    def __init__(
        self,
        encoder: nn.Module,  # (x, y) -> code; code.flatten(1) is the embedding
        decoder: nn.Module,  # (code, y) -> reconstruction, the shape of x
        head: ScoreHead,  # adds a projection term to the energy and/or AC-GAN logits (score=False)
        conditional: bool = False,  # the encoder, decoder or head needs the labels y
        error_exponent: float = 2.0,  # energy: mean |D(x) - x| ** error_exponent (2: squared, 1: absolute)
    ):
        super().__init__()
        self.error_exponent = checks.positive(error_exponent, "error_exponent")
        self.encoder = encoder
        self.decoder = decoder
        self.head = head
        self.conditional = conditional
        self.provides = head.provides | {RECONSTRUCTION}

    def forward(self, x: Tensor, y: Tensor | None = None) -> DOut:
        if self.conditional:
            y = checked_labels(y, "discriminator")
        code = self.encoder(x, y)
        reconstruction = self.decoder(code, y)  # (n, c, h, w)
        energy = (reconstruction.float() - x.float()).abs().pow(self.error_exponent).flatten(1).mean(dim=1)  # (n,)
        features = code.flatten(1)  # (n, f)
        extra, class_logits = self.head(features, y)
        return DOut(score=energy + extra, features=features, class_logits=class_logits,
                    reconstruction=reconstruction)
