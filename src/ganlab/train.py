"""run(cfg): the only code that reads the config. It builds every object, wires them and fits."""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf, open_dict
from pytorch_lightning.callbacks import ProgressBar

from ganlab.callbacks.graceful_stop import GracefulStop
from ganlab.callbacks.run_config import RunConfig
from ganlab.checkpoints import load_checkpoint, run_dir_of
from ganlab.config_checks import check_config
from ganlab.hparams import declare_hparams
from ganlab.module import GANModule

log = logging.getLogger(__name__)


def build_module(cfg: DictConfig, image_shape: tuple[int, int, int], num_classes: int) -> GANModule:
    """The GANModule the config describes, for images of `image_shape`."""
    return GANModule(
        generator=instantiate(cfg.model.generator, image_shape=image_shape, num_classes=num_classes),
        discriminator=instantiate(cfg.model.discriminator, image_shape=image_shape, num_classes=num_classes),
        loss=instantiate(cfg.loss.objective),
        generator_optimizer=instantiate(cfg.optim.generator),
        discriminator_optimizer=instantiate(cfg.optim.discriminator),
        regularizers=[instantiate(r) for r in cfg.loss.regularizers.values()],
        constraints=[instantiate(c) for c in cfg.loss.constraints.values()],
        d_steps_per_g_step=cfg.loss.d_steps_per_g_step,
        iterations=cfg.iterations,
        num_classes=num_classes,
        log_every_n=cfg.log_every_n,
    )


def run(cfg: DictConfig) -> dict[str, Any]:
    """Trains the GAN `cfg` describes; returns the final metrics (losses at the last iteration)."""
    check_config(cfg)
    if cfg.ckpt_path:
        _continue_in_run_dir(cfg)
    Path(cfg.paths.output_dir).mkdir(parents=True, exist_ok=True)
    pl.seed_everything(cfg.seed, workers=True, verbose=False)

    datamodule = instantiate(cfg.data)
    image_shape, num_classes = tuple(datamodule.image_shape), datamodule.num_classes
    module = build_module(cfg, image_shape, num_classes)

    config = OmegaConf.to_container(cfg, resolve=True)
    callbacks = [instantiate(c) for c in (cfg.callbacks or {}).values()]
    if not cfg.trainer.get("enable_progress_bar", True):  # Lightning refuses a bar it may not show
        callbacks = [c for c in callbacks if not isinstance(c, ProgressBar)]
    callbacks.append(RunConfig(config, image_shape, num_classes))
    loggers = [instantiate(c) for c in (cfg.logger or {}).values()]
    trainer: pl.Trainer = instantiate(cfg.trainer, callbacks=callbacks, logger=loggers or False)
    declare_hparams(trainer.loggers, config, metrics=["final/loss_d", "final/loss_g"])

    log.info("run directory: %s", cfg.paths.output_dir)
    trainer.fit(module, datamodule=datamodule, ckpt_path=cfg.ckpt_path)

    for callback in callbacks:
        if isinstance(callback, GracefulStop) and callback.received is not None:
            log.warning("stopped by signal %d at generator iteration %d", callback.received, module.g_iter)
            raise SystemExit(128 + callback.received)
    final = {"final/" + name: float(value)
             for name, value in trainer.callback_metrics.items() if name.startswith("loss_")}
    for logger in trainer.loggers:
        logger.log_metrics(final, step=module.g_iter)
    return {"iterations": module.g_iter, **final}


def _continue_in_run_dir(cfg: DictConfig) -> None:
    """Resuming writes into the checkpoint's own run directory, so checkpoints, sample grids and the
    TensorBoard run continue where they stopped."""
    load_checkpoint(cfg.ckpt_path)  # fails early, with a clear message, on a bad path
    run_dir = run_dir_of(cfg.ckpt_path)
    if run_dir is not None:
        with open_dict(cfg):
            cfg.paths.output_dir = str(run_dir)
