"""The boundary equilibrium GAN of Berthelot, Schumm & Metz 2017 (BEGAN), eqs. (4)-(5) and sec. 3.4."""
from __future__ import annotations

import torch
from torch import Tensor, nn

from ganlab import checks
from ganlab.diagnostics import relative_accuracy
from ganlab.losses.base import AdversarialLoss
from ganlab.names import BEGAN_K, BEGAN_M_GLOBAL
from ganlab.networks.output import RECONSTRUCTION, DOut
from ganlab.step import DiscriminatorStep, Terms


def equilibrium_step(k: Tensor, real_loss: Tensor, fake_loss: Tensor, gamma: float,
                     lambda_k: float) -> tuple[Tensor, Tensor]:
    """One update of the equilibrium controller, and the convergence measure (0-dim tensors).

    k_{t+1}  = clip(k_t + lambda_k (gamma L(x) - L(G(z))), 0, 1)      (eq. 4, proportional control)
    M_global = L(x) + |gamma L(x) - L(G(z))|                           (sec. 3.4.1)
    """
    balance = gamma * real_loss - fake_loss
    return (k + lambda_k * balance).clamp(0.0, 1.0), real_loss + balance.abs()


class BoundaryEquilibriumLoss(AdversarialLoss, nn.Module):
    """D is an autoencoder; L(v) = its reconstruction error of v (DOut.score, an energy).

    D: L(x) - k_t L(G(z));   G: L(G(z))
    After every D step the controller moves k_t so that L(G(z)) = gamma L(x) on average:
    gamma in (0, 1] is the diversity ratio (lower: sharper, less diverse samples), lambda_k the
    controller's gain, k_0 its start. k_t is a buffer of this module, so it lives on the model's
    device, is saved in the checkpoint and comes back on resume; it is updated on the device, without
    reading it back. M_global is the paper's convergence measure (lower is better).

    L here is the autoencoder discriminator's energy: the per-sample mean of |D(v) - v| ** eta, eta being
    the autoencoder's `error_exponent` (2 by default; the paper's experiments use eta = 1, the L1 error). It needs an autoencoder discriminator:
    conf/loss/began.yaml asks for the model's `autoencoder` variant (`loss.discriminator`).
    """

    needs = frozenset({RECONSTRUCTION})

    def __init__(self, gamma: float = 0.5, lambda_k: float = 0.001, k_initial: float = 0.0):
        nn.Module.__init__(self)
        self.gamma = checks.number(gamma, "gamma", 0.0, 1.0, low_open=True)
        self.lambda_k = checks.non_negative(lambda_k, "lambda_k")
        self.register_buffer("k", torch.tensor(checks.probability(k_initial, "k_initial")))

    def discriminator_loss(self, real: DOut, fake: DOut) -> Tensor:
        return real.score.float().mean() - self.k * fake.score.float().mean()

    def generator_loss(self, fake: DOut) -> Tensor:
        return fake.score.float().mean()

    def real_fake_accuracy(self, real: DOut, fake: DOut) -> tuple[Tensor, Tensor]:
        """Energies without a fixed threshold: a real sample below the fakes' mean energy, a fake above
        the reals'."""
        return relative_accuracy(real.score, fake.score, higher_is_real=False)

    def discriminator_step_done(self, step: DiscriminatorStep) -> Terms:
        return self.update(step.d_real, step.d_fake)

    @torch.no_grad()
    def update(self, real: DOut, fake: DOut) -> Terms:
        """Moves k_t after a D step, from that step's energies (D's outputs before its update, as
        in the paper's simultaneous update); returns k_{t+1} and M_global, to be logged."""
        k, m_global = equilibrium_step(self.k, real.score.float().mean(), fake.score.float().mean(),
                                       self.gamma, self.lambda_k)
        self.k.copy_(k)
        return {BEGAN_K: self.k.clone(), BEGAN_M_GLOBAL: m_global}
