"""Checks of the composed config that fail before any work is done, naming the bad key."""
from __future__ import annotations

import tempfile
from pathlib import Path

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
    for key in ("iterations", "log_every_n", "data.batch_size", "data.image_size", "loss.d_steps_per_g_step",
                "callbacks.checkpoint.every_n", "callbacks.sample_grid.every_n"):
        _positive(cfg, key)
    for key in ("loss.lr", "optim.generator.lr", "optim.discriminator.lr"):
        _positive(cfg, key, number_type=(int, float))


def check_labels(cfg: DictConfig, num_classes: int) -> None:
    """A conditional model needs labelled data; says which setting provides labels."""
    if cfg.conditioning.uses_labels and num_classes < 1:
        data = str(cfg.data._target_).rsplit(".", 1)[-1]
        raise ConfigError(
            f"the chosen conditioning needs class labels, but the data ({data}) provides none. Use labelled "
            "data (data=mnist, data=cifar10, an image folder with one subfolder per class, or CelebA "
            "attributes: data.condition_on=[Smiling]) or conditioning=none")


def check_writable_dir(path: str | Path, key: str, hint: str = "") -> Path:
    """Creates the directory `path` if needed and writes a scratch file in it; a ConfigError naming
    `key` otherwise (read-only or full file system, no permission, a file in the way, /proc ...)."""
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as error:
        reason = error.strerror or str(error)
        own = f" or {key}=<dir>" if key.startswith("hydra.") else ""
        raise ConfigError(f"cannot write the output directory {path} ({key}): {reason}{hint}. Choose a writable "
                          f"location: paths.log_dir=<dir> (every run goes below it){own}.") from error
    return path
