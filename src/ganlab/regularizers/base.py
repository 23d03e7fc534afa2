"""The interface of a discriminator regulariser, and the input gradient the penalties share."""
from __future__ import annotations

import contextlib

import torch
from torch import Tensor, nn

from ganlab import checks
from ganlab.names import regularizer_term
from ganlab.step import DiscriminatorStep, StepPart, Terms


class Regularizer(nn.Module, StepPart):
    """A penalty added to the discriminator loss: a part of the step (ganlab.step).

    `__call__(discriminator, real, fake, y)` returns the unweighted scalar penalty. Its D-step term
    is `term(step) = weight * every_n * penalty` on every `every_n`-th discriminator step (`due`;
    lazy regularisation, Karras et al. 2020: the factor every_n keeps the penalty's average
    strength), reported as `loss/d_<name>` (`name`: the class's, e.g. `r1`, unless given). A
    regulariser is an nn.Module: any state it keeps in buffers is saved in the checkpoint.
    """

    name = "regularizer"  # each class names its term

    def __init__(self, weight: float, every_n: int = 1, name: str | None = None):
        nn.Module.__init__(self)
        self.weight = checks.non_negative(weight, "weight")
        self.every_n = checks.positive_int(every_n, "every_n")
        if name is not None:
            self.name = str(name)

    def __call__(self, discriminator: nn.Module, real: Tensor, fake: Tensor, y: Tensor | None) -> Tensor:
        raise NotImplementedError

    def due(self, step: DiscriminatorStep) -> bool:
        """Whether this D step (`step.index` D steps before it in the run) carries the penalty."""
        return step.index % self.every_n == 0

    def term(self, step: DiscriminatorStep) -> Tensor:
        """The weighted penalty added to D's loss in `step` (on the real and fake batches as they
        are, not augmented)."""
        return self.weight * self.every_n * self(step.discriminator, step.real, step.fake, step.labels)

    def discriminator_terms(self, step: DiscriminatorStep) -> Terms:
        return {regularizer_term(self.name): self.term(step)} if self.due(step) else {}


def score_input_gradient(discriminator: nn.Module, x: Tensor, y: Tensor | None) -> Tensor:
    """d sum(D(x, y).score) / dx, (n, c, h, w), kept in the graph so a penalty on it trains D.

    Under float16 autocast the forward runs in float32: torch.autograd.grad bypasses the AMP grad
    scaler, and unscaled float16 input gradients underflow (PyTorch's AMP gradient-penalty recipe
    otherwise needs the scaler, which a regulariser does not see). bfloat16 has float32's range and
    keeps autocast.
    """
    x = x.detach().requires_grad_(True)
    with _no_float16_autocast(x.device.type):  # the grad too: with create_graph its ops would autocast
        score = discriminator(x, y).score  # (n,)
        (grad,) = torch.autograd.grad(score.sum(), x, create_graph=True)
    return grad


def _no_float16_autocast(device_type: str):
    if torch.is_autocast_enabled(device_type) and torch.get_autocast_dtype(device_type) == torch.float16:
        return torch.autocast(device_type, enabled=False)
    return contextlib.nullcontext()
