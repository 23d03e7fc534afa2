"""An exponential moving average (EMA) of the generator's weights, part of the model.

Averaging G's weights over training iterations smooths out the oscillations of the adversarial
game and usually gives better samples and FID at no training cost (Yazici et al. 2019, "The
Unusual Effectiveness of Averaging in GAN Training"; used by ProGAN, BigGAN, StyleGAN). Like
StyleGAN2-ADA's `G_ema`, the average is a network beside G and D inside the GANModule
(`generator_ema`), saved in the checkpoint's state_dict under `generator_ema.average.*`. Only G is
averaged: Lightning's EMAWeightAveraging would average the whole module (D too) at every optimiser
step of either player.
"""
from __future__ import annotations

import copy
from typing import Any

import torch
from torch import Tensor, nn

from ganlab.config_checks import ConfigError
from ganlab.networks.output import Generator

STATE_PREFIX = "generator_ema.average."  # checkpoint["state_dict"] keys of the averaged generator


class GeneratorEMA(nn.Module):
    """`average = decay * average + (1 - decay) * G` after every generator iteration (the GANModule
    calls `update` after each G step); up to generator iteration `start_iter` the average simply
    follows G (average = G).

    With `warmup`, the decay of the n-th averaging update (n = 0, 1, ...) is
    min(decay, (1 + n) / (10 + n)) (as in TensorFlow's ExponentialMovingAverage): early averages
    forget G's random initial weights quickly, so short runs get a useful average too. The update
    count follows from the generator iteration, so the schedule needs no state of its own beyond
    the averaged weights. Floating-point buffers (BatchNorm running statistics) are averaged like
    the weights (as timm and BigGAN-PyTorch do); other buffers are copied.

    Built from the config group `ema` (`ema=default`) as a partial: `GeneratorEMA(generator)`.
    """

    def __init__(self, generator: Generator, decay: float = 0.999, start_iter: int = 0, warmup: bool = True):
        super().__init__()
        # ConfigError (a user error, one line): built as a partial, this runs outside Hydra's instantiate
        if isinstance(decay, bool) or not isinstance(decay, (int, float)) or not 0.0 <= decay < 1.0:
            raise ConfigError(f"ema.decay must be a number in [0, 1) (1 would never move the average off G's "
                              f"initial weights), got {decay!r}")
        if isinstance(start_iter, bool) or not isinstance(start_iter, int) or start_iter < 0:
            raise ConfigError(f"ema.start_iter must be an integer >= 0, got {start_iter!r}")
        self.decay = float(decay)
        self.start_iter = int(start_iter)
        self.warmup = bool(warmup)
        # (never trained: the grids, metrics and sample.py run it in eval mode, ganlab.sampling)
        self.average: Generator = copy.deepcopy(generator).requires_grad_(False)

    def decay_at(self, g_iter: int) -> float:
        """The decay of the update after generator iteration `g_iter` (1-based); 0 while following G."""
        updates_before = g_iter - self.start_iter - 1
        if updates_before < 0:
            return 0.0
        if not self.warmup:
            return self.decay
        return min(self.decay, (1 + updates_before) / (10 + updates_before))

    @torch.no_grad()
    def update(self, generator: nn.Module, g_iter: int) -> None:
        """Brings the average up to date with `generator` after generator iteration `g_iter`."""
        averaged, live = _float_tensors(self.average), _float_tensors(generator)
        torch._foreach_lerp_(averaged, live, 1.0 - self.decay_at(g_iter))  # average += w * (G - average)
        for name, buffer in self.average.named_buffers():
            if not buffer.is_floating_point():
                buffer.copy_(generator.get_buffer(name))


def _float_tensors(module: nn.Module) -> list[Tensor]:
    """The module's floating-point parameters and buffers, in a fixed order."""
    return [t.data for t in (*module.parameters(), *module.buffers()) if t.is_floating_point()]


def averaged_generator_state(checkpoint: dict[str, Any]) -> dict[str, Tensor] | None:
    """The averaged generator's state dict stored in a checkpoint, or None when the run kept no EMA."""
    state = {k[len(STATE_PREFIX):]: v for k, v in checkpoint.get("state_dict", {}).items()
             if k.startswith(STATE_PREFIX)}
    return state or None
