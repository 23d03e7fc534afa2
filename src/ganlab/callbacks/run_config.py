"""Stores what `sample.py` needs to rebuild the model inside every checkpoint."""
from __future__ import annotations

from typing import Any

import pytorch_lightning as pl

from ganlab.checkpoints import RUN_KEY


class RunConfig(pl.Callback):
    """Adds `checkpoint[RUN_KEY]` ("ganlab_run"): the run's resolved config (a plain dict), the image shape and
    the number of classes, so a checkpoint alone rebuilds its generator, wherever it was moved; and
    the command-line overrides and config directories (`--config-dir`), so `train.py ckpt_path=...`
    rebuilds the whole run (given the same config directories: ganlab.resume says which)."""

    def __init__(self, config: dict[str, Any], image_shape: tuple[int, int, int], num_classes: int,
                 overrides: list[str] | None = None, config_dirs: list[str] | None = None):
        self.info = {"config": config, "image_shape": list(image_shape), "num_classes": int(num_classes),
                     "overrides": list(overrides or []), "config_dirs": list(config_dirs or [])}

    def on_save_checkpoint(self, trainer, pl_module, checkpoint: dict[str, Any]) -> None:
        checkpoint[RUN_KEY] = self.info
