"""run(cfg): the only code that reads the config. It builds every object, wires them and fits."""
from __future__ import annotations

import logging
import signal
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
from hydra import compose
from hydra.core.hydra_config import HydraConfig
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf, open_dict
from pytorch_lightning.callbacks import ProgressBar
from pytorch_lightning.utilities.rank_zero import rank_zero_only

from ganlab.callbacks.graceful_stop import GracefulStop
from ganlab.callbacks.metrics import ImageMetrics
from ganlab.callbacks.run_config import RunConfig
from ganlab.checkpoints import check_resumable, load_checkpoint, run_dir_of
from ganlab.config_checks import check_config, check_labels, check_writable_dir
from ganlab.distributed import check_data_parallel
from ganlab.hparams import declare_hparams
from ganlab.module import GANModule
from ganlab.sweep import METRICS_FILE, in_multirun, write_json

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
        auxiliary_losses=[instantiate(a) for a in cfg.conditioning.auxiliary.values()],
        augment=instantiate(cfg.augment) if cfg.get("augment") else None,
        d_steps_per_g_step=cfg.loss.d_steps_per_g_step,
        iterations=cfg.iterations,
        num_classes=num_classes,
        log_every_n=cfg.log_every_n,
        detect_divergence=cfg.get("detect_divergence", True),
    )


def run(cfg: DictConfig) -> dict[str, Any]:
    """Trains the GAN `cfg` describes; returns the final metrics (losses at the last iteration)."""
    overrides = [o for o in _command_line() if not o.startswith("ckpt_path=")]
    checkpoint = load_checkpoint(cfg.ckpt_path) if cfg.ckpt_path else None  # a clear error on a bad path
    if checkpoint is not None:
        cfg, overrides = resumed_config(cfg, checkpoint, overrides)
        _continue_in_run_dir(cfg)
    check_config(cfg)
    check_writable_dir(cfg.paths.output_dir, "paths.output_dir",
                       hint=" (resuming writes into the checkpoint's run directory)" if cfg.ckpt_path else "")
    pl.seed_everything(cfg.seed, workers=True, verbose=False)

    datamodule = instantiate(cfg.data)
    image_shape, num_classes = tuple(datamodule.image_shape), datamodule.num_classes
    check_labels(cfg, num_classes)
    module = build_module(cfg, image_shape, num_classes)

    config = OmegaConf.to_container(cfg, resolve=True)
    if checkpoint is not None:
        check_resumable(checkpoint, module, cfg.ckpt_path, config)  # a clear error, not one from Lightning
        del checkpoint  # fit loads it again
    callbacks = [instantiate(c) for c in (cfg.callbacks or {}).values()]
    if not cfg.trainer.get("enable_progress_bar", True):  # Lightning refuses a bar it may not show
        callbacks = [c for c in callbacks if not isinstance(c, ProgressBar)]
    callbacks.append(RunConfig(config, image_shape, num_classes, overrides=overrides))
    loggers = [instantiate(c) for c in (cfg.logger or {}).values()]
    trainer: pl.Trainer = instantiate(cfg.trainer, callbacks=callbacks, logger=loggers or False)
    check_data_parallel(trainer, in_multirun=in_multirun())
    evaluations = [c for c in callbacks if isinstance(c, ImageMetrics)]  # FID/KID/IS: hparams columns too
    if rank_zero_only.rank == 0:  # the loggers write from rank 0 only (data-parallel runs)
        declare_hparams(trainer.loggers, config, metrics=["final/loss_d", "final/loss_g",
                                                          *(name for c in evaluations for name in c.summary_names)])

    log.info("run directory: %s", cfg.paths.output_dir)
    trainer.fit(module, datamodule=datamodule, ckpt_path=cfg.ckpt_path)

    for callback in callbacks:
        if isinstance(callback, GracefulStop) and callback.received is not None:
            log.warning("stopped by %s at generator iteration %d", signal.Signals(callback.received).name,
                        module.g_iter)
            raise SystemExit(128 + callback.received)
    final = {"final/" + name: float(value)
             for name, value in trainer.callback_metrics.items() if name.startswith("loss_")}
    for evaluation in evaluations:
        final.update(evaluation.summary())  # final/fid, ..., final/best_fid
    for logger in trainer.loggers:
        logger.log_metrics(final, step=module.g_iter)
        logger.finalize("success")  # flush now: Lightning closed its writers at the end of fit
    result = {"iterations": module.g_iter, **final}
    if trainer.is_global_zero:  # <run>/metrics.json: read by the sweep summary
        write_json(Path(cfg.paths.output_dir) / METRICS_FILE, result)
    return result


def _command_line() -> list[str]:
    """This run's command-line overrides (empty outside a Hydra app, e.g. in tests calling run())."""
    return list(HydraConfig.get().overrides.task) if HydraConfig.initialized() else []


def resumed_config(cfg: DictConfig, checkpoint: dict[str, Any], overrides: list[str]) -> tuple[DictConfig, list[str]]:
    """Resuming rebuilds the run that wrote the checkpoint: its command-line overrides, then this
    command line's `overrides` (e.g. `iterations=20000` to extend the budget) on top, composed again;
    so `train.py ckpt_path=...` alone continues a run started with any overrides. Returns the config
    and the merged overrides. Outside a Hydra app (tests calling run()), `cfg` is used as given."""
    saved = checkpoint["ganlab_run"].get("overrides")
    if saved is None or not HydraConfig.initialized():
        return cfg, overrides
    merged = {override.split("=", 1)[0].lstrip("+~"): override for override in [*saved, *overrides]}
    overrides = list(merged.values())  # later values of the same key win
    log.info("resuming %s with the overrides: %s", cfg.ckpt_path, " ".join(overrides))
    return compose(config_name=HydraConfig.get().job.config_name,
                   overrides=[*overrides, f"ckpt_path={cfg.ckpt_path}"]), overrides


def _continue_in_run_dir(cfg: DictConfig) -> None:
    """Resuming writes into the checkpoint's own run directory, so checkpoints, sample grids and the
    TensorBoard run continue where they stopped."""
    run_dir = run_dir_of(cfg.ckpt_path)
    if run_dir is not None:
        with open_dict(cfg):
            cfg.paths.output_dir = str(run_dir)
