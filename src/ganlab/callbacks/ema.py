"""An exponential moving average (EMA) of the generator's weights, for samples and metrics.

Averaging G's weights over training iterations smooths out the oscillations of the adversarial
game and usually gives better samples and FID at no training cost (Yazici et al. 2019, "The
Unusual Effectiveness of Averaging in GAN Training"; used by ProGAN, BigGAN, StyleGAN). Only G is
averaged: Lightning's EMAWeightAveraging would average the whole module (D too) at every optimiser
step of either player.
"""
from __future__ import annotations

import copy
from typing import Any

import pytorch_lightning as pl
import torch
from torch import nn

EMA_STATE_KEY = "GeneratorEMA"  # checkpoint["callbacks"][EMA_STATE_KEY] holds the average


class GeneratorEMA(pl.Callback):
    """Keeps `ema = decay * ema + (1 - decay) * G` after every generator update; until `start_iter`
    generator iterations the average simply follows G (ema = G).

    With `warmup`, the decay of the n-th averaging update is min(decay, (1 + n) / (10 + n)) (as in
    TensorFlow's ExponentialMovingAverage): early averages forget G's random initial weights
    quickly, so short runs get a useful average too. Floating-point buffers (BatchNorm running
    statistics) are averaged like the weights (as timm and BigGAN-PyTorch do); other buffers are
    copied.

    The sample grids, the metrics and `sample.py` use the average when this callback is on (see
    `evaluation_generator`). It lives in the checkpoint (`state_dict`) and is restored on resume.
    Every process keeps its own copy: G is identical on every rank, so the copies are too.
    """

    def __init__(self, decay: float = 0.999, start_iter: int = 0, warmup: bool = True):
        if not 0.0 <= decay < 1.0:
            raise ValueError(f"callbacks.ema.decay must be in [0, 1), got {decay}")
        if start_iter < 0:
            raise ValueError(f"callbacks.ema.start_iter must be >= 0, got {start_iter}")
        self.decay = decay
        self.start_iter = start_iter
        self.warmup = warmup
        self.ema: nn.Module | None = None  # the averaged copy of G, built at fit start
        self.updated_at = 0  # the generator iteration the average is up to date with
        self.num_updates = 0  # averaging updates so far (after start_iter)
        self._pending_state: dict[str, Any] | None = None  # a checkpoint's state, before `ema` exists

    @property
    def state_key(self) -> str:
        return EMA_STATE_KEY

    # --- the average ---------------------------------------------------------------------------
    def decay_now(self) -> float:
        """The decay of the next averaging update."""
        if not self.warmup:
            return self.decay
        return min(self.decay, (1 + self.num_updates) / (10 + self.num_updates))

    @torch.no_grad()
    def update(self, generator: nn.Module, g_iter: int) -> None:
        """Brings the average up to date with `generator` after generator iteration `g_iter`.
        Idempotent per iteration, so whichever callback needs the average first may call it."""
        if g_iter == self.updated_at:
            return
        if self.ema is None:
            self.attach(generator)
        assert self.ema is not None
        if g_iter <= self.start_iter:
            weight = 1.0  # follow G
        else:
            weight = 1.0 - self.decay_now()
            self.num_updates += 1
        averaged, live = _float_tensors(self.ema), _float_tensors(generator)
        torch._foreach_lerp_(averaged, live, weight)  # ema += weight * (G - ema)
        for name, buffer in self.ema.named_buffers():
            if not buffer.is_floating_point():
                buffer.copy_(generator.get_buffer(name))
        self.updated_at = g_iter

    def attach(self, generator: nn.Module) -> None:
        """Starts the average as a copy of `generator` (or the checkpoint's average, on resume)."""
        self.ema = copy.deepcopy(generator).eval().requires_grad_(False)
        if self._pending_state is not None:
            self._load(self._pending_state)
            self._pending_state = None

    def averaged(self, pl_module) -> nn.Module:
        """The average, up to date with the module's generator, in eval mode."""
        self.update(pl_module.generator, pl_module.g_iter)
        assert self.ema is not None
        return self.ema

    # --- Lightning hooks -------------------------------------------------------------------------
    def on_fit_start(self, trainer, pl_module) -> None:
        # After the checkpoint's weights were restored and the module moved to its device.
        if self.ema is None:
            self.attach(pl_module.generator)
            if self.updated_at != pl_module.g_iter:  # no average in the checkpoint: start from G
                self.updated_at = pl_module.g_iter
        self.ema.to(pl_module.device)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.update(pl_module.generator, pl_module.g_iter)

    def state_dict(self) -> dict[str, Any]:
        if self.ema is None:
            return self._pending_state or {}
        return {"generator": self.ema.state_dict(), "updated_at": self.updated_at,
                "num_updates": self.num_updates, "decay": self.decay}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        # Lightning restores callbacks before on_fit_start; the copy of G is made there.
        if not state_dict:
            return
        if self.ema is None:
            self._pending_state = state_dict
            self.updated_at = int(state_dict["updated_at"])
            self.num_updates = int(state_dict["num_updates"])
        else:
            self._load(state_dict)

    def _load(self, state: dict[str, Any]) -> None:
        assert self.ema is not None
        self.ema.load_state_dict(state["generator"])
        self.updated_at = int(state["updated_at"])
        self.num_updates = int(state["num_updates"])


def _float_tensors(module: nn.Module) -> list[torch.Tensor]:
    """The module's floating-point parameters and buffers, in a fixed order."""
    return [t.data for t in (*module.parameters(), *module.buffers()) if t.is_floating_point()]


def find_ema(trainer: pl.Trainer) -> GeneratorEMA | None:
    """The run's GeneratorEMA callback, if it has one."""
    return next((c for c in trainer.callbacks if isinstance(c, GeneratorEMA)), None)


def evaluation_generator(trainer: pl.Trainer, pl_module) -> nn.Module:
    """The generator that sample grids and metrics show: the EMA when the run keeps one (brought up
    to date first, whatever the order of the callbacks), else the trained generator."""
    ema = find_ema(trainer)
    return ema.averaged(pl_module) if ema is not None else pl_module.generator


def ema_state_of(checkpoint: dict[str, Any]) -> dict[str, torch.Tensor] | None:
    """The EMA generator's state dict stored in a checkpoint, or None when the run kept no EMA."""
    state = checkpoint.get("callbacks", {}).get(EMA_STATE_KEY)
    return state.get("generator") if state else None
