"""Training diagnostics that never make the device wait (ganhacks tip 10: "track failures early: D
loss goes to 0; check the norms of gradients"). Everything here stays on the device; the module
reads it back with the other logged scalars, on logging iterations only."""
from __future__ import annotations

import logging

import torch
from torch import Tensor, nn

from ganlab import checks

log = logging.getLogger(__name__)


def gradient_norm(module: nn.Module) -> Tensor:
    """The 2-norm of all of `module`'s parameter gradients together, a 0-dim float32 tensor on the
    device (0 when no parameter has a gradient). Call it between backward and the optimiser step."""
    grads = [p.grad.detach() for p in module.parameters() if p.grad is not None]
    if not grads:
        return torch.zeros((), device=next(module.parameters()).device)
    norms = torch._foreach_norm(grads, 2, dtype=torch.float32)
    return torch.linalg.vector_norm(torch.stack(norms))


def share_above(values: Tensor, threshold: Tensor | float) -> Tensor:
    """The share of `values` strictly above `threshold`, a 0-dim float32 tensor."""
    return (values.detach() > threshold).float().mean()


def threshold_accuracy(real: Tensor, fake: Tensor, threshold: float = 0.0,
                       higher_is_real: bool = True) -> tuple[Tensor, Tensor]:
    """(share of real scores on the real side of `threshold`, share of fake scores on the fake side)."""
    sign = 1.0 if higher_is_real else -1.0
    return share_above(sign * real, sign * threshold), share_above(-sign * fake, -sign * threshold)


def relative_accuracy(real: Tensor, fake: Tensor, higher_is_real: bool = True) -> tuple[Tensor, Tensor]:
    """For a critic whose scores have no fixed threshold (an arbitrary offset): a real sample counts
    as judged real when it scores above the fakes' mean, a fake as judged fake when it scores below
    the reals' mean (the relative-average decision of RaGAN)."""
    sign = 1.0 if higher_is_real else -1.0
    real, fake = sign * real.detach().float(), sign * fake.detach().float()
    return share_above(real, fake.mean()), share_above(-fake, -real.mean())


class DiscriminatorWinsWatch:
    """Warns once when D's loss stays within `tolerance` of 0 for `patience` generator iterations in a
    row: D separates real from fake perfectly and G's gradients are about to vanish (ganhacks).

    Meaningful for losses whose D loss is >= 0 and 0 only when D wins (gan, hinge, lsgan, ebgan,
    ragan, rpgan); `patience=0` turns it off. `update` runs every iteration on the device (a
    running count, no read-back); `check` reads the count, on logging iterations only.
    """

    def __init__(self, tolerance: float = 1e-3, patience: int = 1000):
        self.tolerance = checks.non_negative(tolerance, "tolerance")
        self.patience = checks.count(patience, "patience")  # 0: off
        self.run: Tensor | None = None  # consecutive near-zero iterations, on the device
        self.warned = False

    def update(self, d_loss: Tensor) -> None:
        if self.patience == 0 or self.warned:
            return
        near_zero = (d_loss.detach().abs() <= self.tolerance).to(torch.int64)
        self.run = near_zero if self.run is None else (self.run + 1) * near_zero

    def check(self, g_iter: int) -> bool:
        """Logs the warning (once) if the run is long enough; True when it did so now."""
        if self.run is None or self.warned or int(self.run) < self.patience:
            return False
        self.warned = True
        log.warning("the discriminator's loss has stayed within %g of 0 for %d generator iterations (at "
                    "iteration %d): D wins and G's gradients vanish. Try a lower D learning rate "
                    "(optim.discriminator.lr), fewer D steps (loss.d_steps_per_g_step=1), label tricks "
                    "(loss.objective.real_targets=[0.7,1.2]) or instance noise (instance_noise=default).",
                    self.tolerance, int(self.run), g_iter)
        return True
