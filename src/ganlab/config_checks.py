"""Checks of the composed config that fail before any work is done, naming the bad key."""
from __future__ import annotations

from omegaconf import DictConfig


class ConfigError(ValueError):
    """A config value that cannot work; the message names the key and says what to do."""


def _positive(cfg: DictConfig, key: str, number_type=(int,)) -> None:
    value = _select(cfg, key)
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, number_type) or value <= 0:
        raise ConfigError(f"{key} must be a positive {'integer' if number_type == (int,) else 'number'}, "
                          f"got {value!r}")


def _select(cfg: DictConfig, key: str):
    node = cfg
    for part in key.split("."):
        if not isinstance(node, DictConfig) or part not in node:
            return None
        node = node[part]
    return node


def check_config(cfg: DictConfig) -> None:
    """Raises ConfigError for values that would fail later, or train nothing."""
    for key in ("iterations", "log_every_n", "data.batch_size", "loss.d_steps_per_g_step"):
        _positive(cfg, key)
    for key in ("loss.lr", "optim.generator.lr", "optim.discriminator.lr"):
        _positive(cfg, key, number_type=(int, float))
