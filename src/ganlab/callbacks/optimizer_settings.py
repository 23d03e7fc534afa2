"""Resuming: the optimiser settings of the config (learning rates, betas, ...) win over the checkpoint's."""
from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import pytorch_lightning as pl
from torch import nn

log = logging.getLogger(__name__)

# Implementation choices, not hyper-parameters: left as the restored optimiser has them.
IMPLEMENTATION_FLAGS = frozenset({"foreach", "fused", "capturable", "differentiable"})


class ApplyOptimizerSettings(pl.Callback):
    """Lightning restores each optimiser's state from the checkpoint, hyper-parameters included, so
    `optim.discriminator.lr=1e-5` given when resuming would silently train at the old rate. Once the
    state is restored (at the start of training) this writes the config's values into the restored
    optimisers and logs every value it changed, so the run trains with what its saved config says.

    `settings`: config key (`optim.generator`) -> (the attribute of the LightningModule whose
    parameters that optimiser updates, the hyper-parameters the config gives it)."""

    def __init__(self, settings: Mapping[str, tuple[str, Mapping[str, Any]]]):
        self.settings = dict(settings)

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        for key, (attribute, wanted) in self.settings.items():
            network: nn.Module = getattr(pl_module, attribute)
            owned = {id(p) for p in network.parameters()}
            for optimizer in trainer.optimizers:
                if not any(id(p) in owned for group in optimizer.param_groups for p in group["params"]):
                    continue
                for group in optimizer.param_groups:
                    for name, value in wanted.items():
                        if name in IMPLEMENTATION_FLAGS or name not in group or _same(group[name], value):
                            continue
                        log.info("resuming: %s.%s = %s as the config says (the checkpoint had %s)",
                                 key, name, _show(value), _show(group[name]))
                        group[name] = tuple(value) if _is_list(value) else value


def _same(a: Any, b: Any) -> bool:
    if _is_list(a) and _is_list(b):  # tuples, lists, OmegaConf ListConfigs
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    try:
        return float(a) == float(b)
    except (TypeError, ValueError):
        return a == b


def _is_list(value: Any) -> bool:
    return isinstance(value, Sequence) and not isinstance(value, str)


def _show(value: Any) -> str:
    return str(list(value)) if _is_list(value) else str(value)


def optimizer_hyperparameters(factory, network: nn.Module) -> dict[str, Any]:
    """The hyper-parameters `factory` (a Hydra partial: params -> optimiser) gives an optimiser."""
    return dict(factory(network.parameters()).defaults)
