"""The energy-based GAN of Zhao, Mathieu & LeCun 2017 (EBGAN), with the pull-away term (EBGAN-PT)."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from ganlab import checks
from ganlab.diagnostics import threshold_accuracy
from ganlab.losses.base import AdversarialLoss
from ganlab.networks.output import FEATURES, RECONSTRUCTION, DOut


def pull_away_term(embeddings: Tensor) -> Tensor:
    """Mean squared cosine similarity over the distinct pairs of a batch (EBGAN eq. 8).

    1 when all embeddings point the same way, 0 when they are pairwise orthogonal; 0 for a batch of one.
    """
    s = F.normalize(embeddings.flatten(1), dim=1)  # (n, f), unit rows
    n = s.shape[0]
    if n < 2:
        return s.sum() * 0.0  # no pairs; keeps the graph and the dtype
    cosine = s @ s.T  # (n, n)
    off_diagonal = ~torch.eye(n, dtype=torch.bool, device=s.device)
    return cosine[off_diagonal].pow(2).mean()


class EnergyLoss(AdversarialLoss):
    """D(x) is an energy, low on the data: an autoencoder discriminator's reconstruction error.

    D: mean(E(x)) + mean(relu(margin - E(G(z))))
    G: mean(E(G(z))) + pt_weight * PT(embeddings of G(z))

    Reads DOut.score as the energy E (per-sample reconstruction error) and DOut.features as the
    encoder's embedding for the pull-away term. It needs an autoencoder discriminator:
    conf/loss/ebgan.yaml asks for the model's `autoencoder` variant (`loss.discriminator`).
    """

    def __init__(self, margin: float = 1.0, pt_weight: float = 0.1):
        self.margin = checks.positive(margin, "margin")
        self.pt_weight = checks.non_negative(pt_weight, "pt_weight")
        self.needs = frozenset({RECONSTRUCTION} | ({FEATURES} if self.pt_weight > 0 else set()))

    def discriminator_loss(self, real: DOut, fake: DOut) -> Tensor:
        return real.score.mean() + F.relu(self.margin - fake.score).mean()

    def generator_loss(self, fake: DOut) -> Tensor:
        loss = fake.score.mean()
        if self.pt_weight == 0:
            return loss
        if fake.features is None:
            raise ValueError(
                "EnergyLoss's pull-away term needs the discriminator's embedding (DOut.features), and this "
                "discriminator returns none: use an autoencoder discriminator (loss=ebgan with a model that "
                "has an `autoencoder` variant), or set loss.objective.pt_weight=0")
        return loss + self.pt_weight * pull_away_term(fake.features)

    def real_fake_accuracy(self, real: DOut, fake: DOut) -> tuple[Tensor, Tensor]:
        """Real when the energy is below half the margin (D drives real energies to 0, fakes' to m)."""
        return threshold_accuracy(real.score, fake.score, self.margin / 2, higher_is_real=False)
