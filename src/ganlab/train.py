"""run(cfg): the only code that reads the config. It builds every object, wires them and fits."""
from __future__ import annotations

import logging
import re
import signal
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
from hydra import compose
from hydra.core.hydra_config import HydraConfig
from hydra.errors import ConfigCompositionException
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf, open_dict
from pytorch_lightning.callbacks import ProgressBar
from pytorch_lightning.loggers import TensorBoardLogger
from pytorch_lightning.utilities.rank_zero import rank_zero_only

from ganlab import interrupt, names
from ganlab.callbacks.graceful_stop import GracefulStop
from ganlab.callbacks.optimizer_settings import ApplyOptimizerSettings, optimizer_hyperparameters
from ganlab.callbacks.run_config import RunConfig
from ganlab.checkpoints import CheckpointError, check_resumable, is_newest_state, load_checkpoint, run_dir_of
from ganlab.config_checks import check_config, check_labels, check_writable_dir
from ganlab.distributed import check_data_parallel
from ganlab.hparams import declare_hparams
from ganlab.latents import GaussianLatent, Latent
from ganlab.module import GANModule
from ganlab.networks.infogan import InfoGANDiscriminator
from ganlab.networks.output import Generator
from ganlab.sweep import METRICS_FILE, in_multirun, write_json

log = logging.getLogger(__name__)


def build_generator(cfg: DictConfig, image_shape: tuple[int, ...], num_classes: int) -> tuple[Generator, Latent]:
    """G and the latent distribution it reads (conf/latent/): G's input size is the latent's
    `input_dim` (model.latent_dim, plus the codes of latent=infogan). A config without `latent`
    (a checkpoint written before the group existed) reads N(0, I) of size model.latent_dim."""
    latent = instantiate(cfg.latent) if cfg.get("latent") else GaussianLatent(cfg.model.latent_dim)
    generator = instantiate(cfg.model.generator, image_shape=image_shape, num_classes=num_classes,
                            latent_dim=latent.input_dim)
    return generator, latent


def build_module(cfg: DictConfig, image_shape: tuple[int, int, int], num_classes: int) -> GANModule:
    """The GANModule the config describes, for images of `image_shape`."""
    generator, latent = build_generator(cfg, image_shape, num_classes)

    def discriminator_for(shape: tuple[int, ...]):
        return instantiate(cfg.model.discriminator, image_shape=shape, num_classes=num_classes)

    discriminator = (instantiate(cfg.packing)(discriminator_for, image_shape) if cfg.get("packing")
                     else discriminator_for(image_shape))  # packing=pacgan: D of packed samples
    mutual_information = []
    if cfg.get("infogan"):  # latent=infogan: Q's head on D's features, and the mutual-information term
        discriminator = InfoGANDiscriminator(discriminator, instantiate(cfg.infogan.q_head), image_shape)
        mutual_information = [instantiate(cfg.infogan.loss)]
    objective = instantiate(cfg.loss.objective)
    return GANModule(
        generator=generator,
        discriminator=discriminator,
        latent=latent,
        loss=instantiate(cfg.unrolled)(objective) if cfg.get("unrolled") else objective,  # unrolled=default
        generator_optimizer=instantiate(cfg.optim.generator),
        discriminator_optimizer=instantiate(cfg.optim.discriminator),
        regularizers={name: instantiate(r) for name, r in cfg.loss.regularizers.items()},
        constraints=[instantiate(c) for c in cfg.loss.constraints.values()],
        auxiliary_losses=[*(instantiate(a) for a in cfg.conditioning.auxiliary.values()), *mutual_information],
        augment=instantiate(cfg.augment) if cfg.get("augment") else None,
        generator_ema=instantiate(cfg.ema)(generator) if cfg.get("ema") else None,
        d_steps_per_g_step=cfg.loss.d_steps_per_g_step,
        iterations=cfg.iterations,
        num_classes=num_classes,
        log_every_n=cfg.log_every_n,
        detect_divergence=cfg.get("detect_divergence", True),
        generator_schedule=instantiate(cfg.scheduler.generator) if cfg.get("scheduler") else None,
        discriminator_schedule=instantiate(cfg.scheduler.discriminator) if cfg.get("scheduler") else None,
        instance_noise=instantiate(cfg.instance_noise) if cfg.get("instance_noise") else None,
        d_loss_watch=instantiate(cfg.diagnostics) if cfg.get("diagnostics") else None,
    )


def run(cfg: DictConfig) -> dict[str, Any]:
    """Trains the GAN `cfg` describes; returns the final metrics (losses at the last iteration)."""
    check_config(cfg)  # the values typed (seed=abc, ckpt_path=...) before anything reads them
    overrides = [o for o in _command_line() if not o.startswith("ckpt_path=")]
    checkpoint = load_checkpoint(cfg.ckpt_path) if cfg.ckpt_path else None  # a clear error on a bad path
    if checkpoint is not None:
        cfg, overrides = resumed_config(cfg, checkpoint, overrides)
        check_config(cfg)
        check_unchangeable(checkpoint, cfg)
        overrides = plan_resume(cfg, checkpoint, overrides)
        record_config(cfg, [*overrides, f"ckpt_path={cfg.ckpt_path}"])
    check_writable_dir(cfg.paths.output_dir, "paths.output_dir")
    pl.seed_everything(cfg.seed, workers=True, verbose=False)

    datamodule = instantiate(cfg.data, batches_per_iteration=cfg.loss.d_steps_per_g_step)  # one item per G iteration
    image_shape, num_classes = tuple(datamodule.image_shape), datamodule.num_classes
    check_labels(cfg, num_classes)
    module = build_module(cfg, image_shape, num_classes)

    config = OmegaConf.to_container(cfg, resolve=True)
    callbacks = [instantiate(c) for c in (cfg.callbacks or {}).values()]
    if not cfg.trainer.get("enable_progress_bar", True):  # Lightning refuses a bar it may not show
        callbacks = [c for c in callbacks if not isinstance(c, ProgressBar)]
    if checkpoint is not None:
        check_resumable(checkpoint, module, cfg.ckpt_path, config)  # a clear error, not one from Lightning
        del checkpoint  # fit loads it again
        callbacks.append(ApplyOptimizerSettings(optimizer_settings(cfg, module)))
    callbacks.append(RunConfig(config, image_shape, num_classes, overrides=overrides))
    loggers = [instantiate(c) for c in (cfg.logger or {}).values()]
    trainer: pl.Trainer = instantiate(cfg.trainer, callbacks=callbacks, logger=loggers or False)
    check_data_parallel(trainer, in_multirun=in_multirun())
    evaluations = [c for c in callbacks if callable(getattr(c, "summary", None))]  # final figures: hparams columns too
    if rank_zero_only.rank == 0:  # the loggers write from rank 0 only (data-parallel runs)
        losses = [names.final(names.progress_name(term)) for term in (names.D_LOSS, names.G_LOSS)]
        declare_hparams(trainer.loggers, config,
                        metrics=[*losses, *(name for c in evaluations for name in c.summary_names)])

    log.info("run directory: %s", cfg.paths.output_dir)
    try:  # until the first step, a signal stops at once (interrupt.py); then GracefulStop has it
        trainer.fit(module, datamodule=datamodule, ckpt_path=cfg.ckpt_path)
    finally:
        interrupt.startup_over()

    for callback in callbacks:
        if isinstance(callback, GracefulStop) and callback.received is not None:
            log.warning("stopped by %s at generator iteration %d", signal.Signals(callback.received).name,
                        module.g_iter)
            raise SystemExit(128 + callback.received)
    final = {names.final(name): float(value)
             for name, value in trainer.callback_metrics.items() if names.is_progress_loss(name)}
    for evaluation in evaluations:
        final.update(evaluation.summary())  # final/fid, ..., final/best_fid
    for logger in trainer.loggers:
        logger.log_metrics(final, step=module.g_iter)
        logger.finalize("success")  # flush now: Lightning closed its writers at the end of fit
    result = {"iterations": module.g_iter, **final}
    if trainer.is_global_zero:  # <run>/metrics.json: read by the sweep summary
        write_json(Path(cfg.paths.output_dir) / METRICS_FILE, result)
        log.info("%s", run_summary(Path(cfg.paths.output_dir), result, callbacks, trainer.loggers))
    return result


def run_summary(run_dir: Path, result: dict[str, Any], callbacks: list, loggers: list) -> str:
    """What a user wants at the end of a run: where it is, its last checkpoint, its final numbers and
    how to look at it."""
    lines = [f"finished {result['iterations']} generator iterations; run directory: {run_dir}"]
    last = [c.last_path for c in callbacks if getattr(c, "last_path", None) is not None and c.last_path.is_file()]
    lines.append(f"  last checkpoint: {last[0]}" if last else "  no checkpoint (callbacks.checkpoint is off)")
    numbers = {k.removeprefix(names.FINAL): v for k, v in result.items() if k.startswith(names.FINAL)}
    if numbers:
        lines.append("  final: " + "  ".join(f"{k}={v:.4g}" for k, v in numbers.items()))
    if any(isinstance(logger, TensorBoardLogger) for logger in loggers):
        lines.append(f"  TensorBoard: tensorboard --logdir {run_dir}")
    return "\n".join(lines)


def _command_line() -> list[str]:
    """This run's command-line overrides (empty outside a Hydra app, e.g. in tests calling run())."""
    return list(HydraConfig.get().overrides.task) if HydraConfig.initialized() else []


def _key(override: str) -> str:
    return override.split("=", 1)[0].lstrip("+~")


def merge_overrides(saved: list[str], given: list[str]) -> list[str]:
    """The run's saved overrides with this command line's on top: a given key replaces the saved
    override of the same key, and a given node (`model=mlp`) also drops the saved overrides below it
    (`model.generator.width=16` belonged to the model it replaces)."""
    merged = {_key(o): o for o in saved}
    for override in given:
        key = _key(override)
        merged = {k: o for k, o in merged.items() if not k.startswith(key + ".")}
        merged.pop(key, None)
        merged[key] = override
    return list(merged.values())


def resumed_config(cfg: DictConfig, checkpoint: dict[str, Any], overrides: list[str]) -> tuple[DictConfig, list[str]]:
    """Resuming rebuilds the run that wrote the checkpoint: its command-line overrides, then this
    command line's `overrides` (e.g. `iterations=20000` to extend the budget) on top, composed again;
    so `train.py ckpt_path=...` alone continues a run started with any overrides. Returns the config
    and the merged overrides. Outside a Hydra app (tests calling run()), `cfg` is used as given."""
    saved = checkpoint["ganlab_run"].get("overrides")
    if saved is None or not HydraConfig.initialized():
        return cfg, overrides
    merged = merge_overrides(list(saved), overrides)
    log.info("resuming %s with the overrides: %s", cfg.ckpt_path, " ".join(merged))
    try:
        composed = compose(config_name=HydraConfig.get().job.config_name,
                           overrides=[*merged, f"ckpt_path={cfg.ckpt_path}"])
    except ConfigCompositionException as error:  # a saved override this command line's config lacks
        key = re.search(r"override '([^']+)'", str(error))
        raise CheckpointError(
            f"ckpt_path={cfg.ckpt_path} does not fit the model this config builds: the run that wrote it "
            f"was trained with {' '.join(saved) or 'no overrides'}, and "
            f"{key.group(1) if key else 'one of them'} does not exist in the config of "
            f"{' '.join(overrides) or 'this command line'}. Resume with the same model, conditioning, loss and "
            "data overrides as that run.") from error
    return composed, merged


def check_unchangeable(checkpoint: dict[str, Any], cfg: DictConfig) -> None:
    """Refuses overrides a resumed run could not honour: the seed (the checkpoint's random-number and
    data-order state continue instead) and the optimiser class (its state would not fit)."""
    saved = checkpoint["ganlab_run"].get("config", {})
    for key, why in (("seed", "a resumed run continues the random-number and data-order state saved in the "
                              "checkpoint, so another seed would not take effect"),
                     ("optim.generator._target_", "the saved optimiser state belongs to the old optimiser"),
                     ("optim.discriminator._target_", "the saved optimiser state belongs to the old optimiser")):
        old, new = OmegaConf.select(OmegaConf.create(saved), key), OmegaConf.select(cfg, key)
        if old is not None and old != new:
            raise CheckpointError(f"{key}={new} cannot change when resuming (the checkpoint's run has {old}): {why}. "
                                  f"Start a new run for it, or resume without that override.")


def plan_resume(cfg: DictConfig, checkpoint: dict[str, Any], overrides: list[str]) -> list[str]:
    """Continues the checkpoint's run in place when it holds the run's newest state, or else trains a
    new branch in the run directory Hydra chose (conf/hydra/default.yaml), recording `branched_from`
    in its config and overrides; logs which. Returns the overrides to save."""
    ckpt = Path(cfg.ckpt_path).resolve()
    output_dir, source = Path(cfg.paths.output_dir).resolve(), run_dir_of(ckpt)
    g_iter = int(checkpoint["ganlab"]["g_iter"])
    if source == output_dir:
        if not is_newest_state(ckpt):
            raise CheckpointError(
                f"ckpt_path={ckpt} is older than the newest checkpoint of its run {source}: continuing there "
                "would overwrite the later checkpoints and TensorBoard steps. Leave hydra.run.dir unset to train a "
                "new branch beside the run, or resume from checkpoints/last.ckpt.")
        log.info("resuming: continuing run %s in place from %s (generator iteration %d)", source, ckpt.name, g_iter)
        return overrides
    if any((output_dir / "checkpoints").glob("*.ckpt")):
        raise CheckpointError(f"the run directory {output_dir} already holds checkpoints of another run; a run "
                              f"branched from {ckpt} needs a new directory (leave hydra.run.dir unset)")
    log.info("resuming: branching a new run %s from %s (generator iteration %d); %s is left untouched",
             output_dir, ckpt, g_iter, source or ckpt)
    with open_dict(cfg):
        cfg.branched_from = str(ckpt)
    return [o for o in overrides if _key(o) != "branched_from"] + [f"+branched_from={ckpt}"]


def record_config(cfg: DictConfig, overrides: list[str]) -> None:
    """A resumed run's config and overrides in its Hydra output folder (`.hydra/` of a branch,
    `.hydra/resumed_<date>_<time>/` of a run continued in place): the composed truth, where Hydra wrote
    what the command line alone composes."""
    if not HydraConfig.initialized() or HydraConfig.get().output_subdir is None:
        return
    folder = Path(HydraConfig.get().runtime.output_dir) / HydraConfig.get().output_subdir
    folder.mkdir(parents=True, exist_ok=True)
    OmegaConf.save(cfg, folder / "config.yaml")
    OmegaConf.save(OmegaConf.create(list(overrides)), folder / "overrides.yaml")


def optimizer_settings(cfg: DictConfig, module: GANModule) -> dict[str, tuple[str, dict[str, Any]]]:
    """For ApplyOptimizerSettings: each optimiser's config key, network and configured hyper-parameters."""
    return {f"optim.{player}": (player, optimizer_hyperparameters(instantiate(cfg.optim[player]),
                                                                  getattr(module, player)))
            for player in ("generator", "discriminator")}
