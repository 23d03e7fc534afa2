"""The TensorBoard hyper-parameters tab: every config value, with final metrics to sort runs by."""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pytorch_lightning.loggers import Logger, TensorBoardLogger


def flatten(tree: Mapping[str, Any], separator: str = "/", prefix: str = "") -> dict[str, Any]:
    """{"a": {"b": 1}} -> {"a/b": 1} (or "a.b" with separator="."); the leaves are kept as they are."""
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten(value, separator, prefix=f"{name}{separator}"))
        else:
            flat[name] = value
    return flat


def declare_hparams(loggers: Iterable[Logger], config: Mapping[str, Any], metrics: list[str]) -> None:
    """Writes the run's hyper-parameters and declares `metrics` as the hparams tab's columns; the
    values come from the scalars of the same names logged later (no placeholder values)."""
    params = {name: value if isinstance(value, (bool, int, float, str)) else str(value)  # TensorBoard takes scalars
              for name, value in flatten({k: v for k, v in config.items() if k != "hydra"}).items()}
    for logger in loggers:
        if isinstance(logger, TensorBoardLogger):
            from torch.utils.tensorboard.summary import hparams

            experiment, start, end = hparams(params, {name: 0.0 for name in metrics})
            writer = logger.experiment._get_file_writer()
            for summary in (experiment, start, end):
                writer.add_summary(summary)
        else:
            logger.log_hyperparams(params)
