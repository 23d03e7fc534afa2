"""The TensorBoard hyper-parameters tab: every config value, with final metrics to sort runs by."""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pytorch_lightning.loggers import Logger, TensorBoardLogger


def flatten(config: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """{"a": {"b": 1}} -> {"a/b": 1}; lists and None become strings (TensorBoard takes scalars)."""
    flat: dict[str, Any] = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten(value, prefix=f"{name}/"))
        elif isinstance(value, (bool, int, float, str)):
            flat[name] = value
        else:
            flat[name] = str(value)
    return flat


def declare_hparams(loggers: Iterable[Logger], config: Mapping[str, Any], metrics: list[str]) -> None:
    """Writes the run's hyper-parameters and declares `metrics` as the hparams tab's columns; the
    values come from the scalars of the same names logged later (no placeholder values)."""
    params = flatten({k: v for k, v in config.items() if k != "hydra"})
    for logger in loggers:
        if isinstance(logger, TensorBoardLogger):
            from torch.utils.tensorboard.summary import hparams

            experiment, start, end = hparams(params, {name: 0.0 for name in metrics})
            writer = logger.experiment._get_file_writer()
            for summary in (experiment, start, end):
                writer.add_summary(summary)
        else:
            logger.log_hyperparams(params)
