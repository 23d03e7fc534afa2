"""The contracts of the networks: what every discriminator returns (DOut) and what every
generator is (Generator)."""
from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor, nn

from ganlab import checks

# What a discriminator can give beyond its score (`Discriminator.provides`), and what a part of the
# step may need from it (`ganlab.step.StepPart.needs`); the build step pairs them (ganlab.build).
FEATURES = "features"
CLASS_LOGITS = "class_logits"
RECONSTRUCTION = "reconstruction"
CODES = "codes"
PER_SAMPLE = "per_sample"
OUTPUTS: dict[str, str] = {  # each, as an error message names it
    FEATURES: "features (DOut.features)",
    CLASS_LOGITS: "class logits (DOut.class_logits, an auxiliary classifier head: model.discriminator.aux_classifier=true)",
    RECONSTRUCTION: "a reconstruction, its score being the reconstruction error (an autoencoder discriminator)",
    CODES: "InfoGAN's code posterior (DOut.codes, a Q head)",
    PER_SAMPLE: "an output for each sample, not for each pack of samples",
}


@dataclass
class DOut:
    """A discriminator's output. Losses read the fields they need.

    score:          (N,) realness logit, critic value or, for an energy-based critic, the energy.
    features:       (N, F) penultimate features (projection conditioning, EBGAN's pull-away term).
    class_logits:   (N, K) auxiliary classifier logits (AC-GAN), else None.
    reconstruction: (N, C, H, W) an autoencoder critic's reconstruction (EBGAN), else None.
    codes:          InfoGAN's Q(c | x) (latent=infogan's Q head), else None.
    """

    score: Tensor
    features: Tensor | None = None
    class_logits: Tensor | None = None
    reconstruction: Tensor | None = None
    codes: CodePosterior | None = None


class Discriminator(nn.Module):
    """What every discriminator is: D(x, y=None) -> DOut, score (N,) for N samples.

    provides:    the DOut outputs it fills beyond the score (FEATURES, CLASS_LOGITS, RECONSTRUCTION,
                 CODES) and PER_SAMPLE when it judges each sample on its own; the build step refuses
                 a step part whose `needs` it lacks. Subclasses set it in their constructor.
    conditional: whether it reads y.
    """

    provides: frozenset[str] = frozenset()
    conditional: bool = False


@dataclass
class CodePosterior:
    """InfoGAN's Q(c | x) for a batch (networks/infogan.py): what the mutual-information term reads."""

    categorical_logits: list[Tensor]  # one (N, K_i) per categorical code
    mean: Tensor  # (N, m): the mean of each continuous code
    log_std: Tensor | None  # (N, m): its log standard deviation; None: fixed at 0 (std 1)


class Generator(nn.Module):
    """What every generator is: G(z, y=None) -> images (N, C, H, W) in [-1, 1], z (N, latent_dim).

    latent_dim:  the size of z.
    num_classes: the classes of the data it was built for (0: unlabelled data).
    conditional: whether it reads y (then y holds N labels in [0, num_classes)); an unconditional
                 generator ignores y.
    Subclasses call `super().__init__(latent_dim, num_classes, conditional)` first.
    """

    def __init__(self, latent_dim: int, num_classes: int = 0, conditional: bool = False):
        super().__init__()
        self.latent_dim = checks.positive_int(latent_dim, "latent_dim")
        self.num_classes = int(num_classes)
        self.conditional = bool(conditional)
