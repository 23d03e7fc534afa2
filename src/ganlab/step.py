"""The parts of a training step, and what they see: one context object per player's step.

Everything the step does besides running G and D is a `StepPart`: the adversarial objective, the
auxiliary class loss (AC-GAN), InfoGAN's mutual-information term, the regularisers (with their
weight and lazy interval), the constraints (weight clipping), and what D's inputs go through
(DiffAugment, instance noise). The GANModule gets them as one list and calls the same four hooks
of each, in the list's order; a part receives the context of the step it takes part in and returns
named terms (`{name: 0-dim tensor}`, names from `ganlab.names`). The step adds the terms of every
part into the player's loss, logs each one by name and checks each one for divergence. Nothing
passes between parts or methods through attributes. A new trick is one StepPart class and one YAML.

`DiscriminatorStep`: one of the k discriminator steps of a generator iteration.
`GeneratorStep`: the generator step that ends the iteration. `d_real` is computed on first use
only (D, frozen, on the last D step's real batch): a loss that needs D(real) in G's step (the
relativistic losses) reads it, the others cost no extra forward pass. `discriminator` is the
network itself, so a term can run it functionally with other weights (Unrolled GAN's look-ahead,
`torch.func.functional_call`).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from torch import Tensor, nn

from ganlab.latents.base import Codes
from ganlab.networks.output import DOut

Terms = dict[str, Tensor]  # name (ganlab.names) -> 0-dim tensor


@dataclass
class DiscriminatorStep:
    discriminator: nn.Module  # D(x, y=None) -> DOut, being trained
    real: Tensor  # (b, c, h, w) this step's real batch, not augmented
    fake: Tensor  # (b, c, h, w) G(z, y), detached from G, not augmented
    labels: Tensor | None  # (b,) the classes of real and fake, None when unconditional
    d_real: DOut  # D(augment(real), labels)
    d_fake: DOut  # D(augment(fake), labels)
    index: int  # discriminator steps taken before this one, in the whole run (the lazy schedules)
    codes: Codes | None = None  # the latent codes inside fake's z (InfoGAN), None for plain noise


@dataclass
class GeneratorStep:
    discriminator: nn.Module  # D, frozen (requires_grad False) for this step
    real: Tensor  # (b, c, h, w) the real batch of the iteration's last D step
    fake: Tensor  # (b, c, h, w) G(z, y), in G's graph
    labels: Tensor | None  # (b,)
    d_fake: DOut  # D(augment(fake), labels), in G's graph
    index: int  # generator steps taken before this one
    augment: Callable[[Tensor], Tensor] = field(repr=False, default=lambda x: x)  # what D's inputs go through
    codes: Codes | None = None  # the latent codes inside fake's z (InfoGAN), None for plain noise
    discriminator_optimizer: Any = field(repr=False, default=None)  # D's optimiser, to read only (Unrolled GAN)

    @cached_property
    def d_real(self) -> DOut:
        """D(augment(real), labels) with D as it is now (after the iteration's D steps), computed once."""
        return self.discriminator(self.augment(self.real), self.labels)


class StepPart:
    """A part of the training step (see the module docstring). Every hook has a default that does
    nothing, so a part implements only what it takes part in:

    - `discriminator_input(x, iteration)`: what D's inputs (real and generated, in both players'
      steps) go through, e.g. DiffAugment or instance noise; `iteration` is the generator
      iteration. The parts' transforms apply in the list's order.
    - `discriminator_terms(step)`: terms added to D's loss in each D step (names `loss/...`); a
      lazy regulariser returns its term on the steps it is due only.
    - `discriminator_step_done(step)`: called after D's optimiser step: a controller such as
      BEGAN's k_t updates its state here, outside the graph, a constraint (weight clipping) acts on
      `step.discriminator`; returns values to report by name (not added to any loss).
    - `generator_terms(step)`: terms added to G's loss in the G step.

    A part that keeps state (BEGAN's k_t) is also an `nn.Module` holding it in buffers: the
    GANModule registers it, so the state is in the checkpoint's state_dict and on the device.

    `needs`: what the part reads from the discriminator beyond its score (names from
    `ganlab.networks.output`: RECONSTRUCTION, CLASS_LOGITS, CODES, FEATURES, PER_SAMPLE); the build
    step refuses, before training, a discriminator that does not provide it (ganlab.build).
    """

    needs: frozenset[str] = frozenset()

    def discriminator_input(self, x: Tensor, iteration: int) -> Tensor:
        return x

    def discriminator_terms(self, step: DiscriminatorStep) -> Terms:
        return {}

    def discriminator_step_done(self, step: DiscriminatorStep) -> Terms:
        return {}

    def generator_terms(self, step: GeneratorStep) -> Terms:
        return {}


def add_terms(terms: Terms, new: Terms) -> None:
    """Adds a part's terms to the step's; two parts may not report the same name."""
    clash = terms.keys() & new.keys()
    if clash:
        raise ValueError(f"two parts of the step report the term(s) {', '.join(sorted(clash))}: give them distinct "
                         "names (a regulariser's `name`)")
    terms.update(new)


def total(terms: Terms) -> Tensor:
    """The player's loss: the sum of its terms."""
    values = iter(terms.values())
    result = next(values)
    for value in values:
        result = result + value
    return result
