"""The relativistic pairing GAN loss (RpGAN): Jolicoeur-Martineau 2018 (RSGAN), as R3GAN uses it
(Huang, Gokaslan, Kuleshov & Tompkin 2024, "The GAN is dead; long live the GAN!", eq. 2)."""
from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from ganlab.diagnostics import share_above
from ganlab.losses.base import AdversarialLoss
from ganlab.networks.output import DOut


class RelativisticPairingLoss(AdversarialLoss):
    """D judges each real sample against the fake it is paired with (sample i with sample i).

    With C the raw score (a logit) and softplus(-t) = -log sigmoid(t):
    D: mean_i softplus(-(C(x_i) - C(G(z_i))))
    G: mean_i softplus(-(C(G(z_i)) - C(x_i)))

    R3GAN pairs it with the zero-centred penalties R1 (on real data) and R2 (on generated data):
    `loss=rpgan regularizer=[r1,r2]`. G's loss reads D's scores on the real batch
    (`needs_real_for_generator`); real and fake batches must have the same size.
    """

    needs_real_for_generator = True

    def discriminator_loss(self, real: DOut, fake: DOut) -> Tensor:
        return _pairwise(real.score, fake.score)

    def generator_loss(self, fake: DOut, real: DOut) -> Tensor:
        return _pairwise(fake.score, real.score)

    def real_fake_accuracy(self, real: DOut, fake: DOut) -> tuple[Tensor, Tensor]:
        """RpGAN's own decision: a pair is judged right when the real sample outscores its fake (both
        shares are that one number)."""
        share = share_above(real.score - fake.score, 0.0)
        return share, share


def _pairwise(winner: Tensor, loser: Tensor) -> Tensor:
    """-log sigmoid(winner_i - loser_i), averaged over the pairs."""
    if winner.shape != loser.shape:
        raise ValueError(f"the relativistic pairing loss pairs real and fake samples one to one, got "
                         f"{tuple(winner.shape)} and {tuple(loser.shape)} scores: use batches of equal size")
    return F.softplus(loser.float() - winner.float()).mean()
