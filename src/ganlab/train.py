"""run(cfg): wires the objects the config describes (built by ganlab.build) and fits."""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf, open_dict
from pytorch_lightning.callbacks import ProgressBar
from pytorch_lightning.loggers import TensorBoardLogger
from pytorch_lightning.utilities.rank_zero import rank_zero_only

from ganlab import interrupt, names, resume
from ganlab.build import build_module
from ganlab.callbacks.graceful_stop import GracefulStop
from ganlab.callbacks.optimizer_settings import ApplyOptimizerSettings, optimizer_hyperparameters
from ganlab.callbacks.run_config import RunConfig
from ganlab.callbacks.time_limit import TimeLimit
from ganlab.checkpoints import check_resumable
from ganlab.config_checks import ConfigError, check_config, check_labels, check_writable_dir
from ganlab.divergence import DivergenceError
from ganlab.distributed import check_data_parallel
from ganlab.hparams import declare_hparams, hydra_run_hparams
from ganlab.module import GANModule
from ganlab.stop import StopRequest
from ganlab.sweep import METRICS_FILE, in_multirun, write_json

log = logging.getLogger(__name__)


def run(cfg: DictConfig) -> dict[str, Any]:
    """Trains the GAN `cfg` describes; returns the final metrics (losses at the last iteration), or,
    after a stop before the budget (trainer.max_time), how far it got."""
    check_config(cfg)  # the values typed (seed=abc, ckpt_path=...) before anything reads them
    overrides = [o for o in resume.command_line() if not o.startswith("ckpt_path=")]
    cfg, overrides, checkpoint = resume.prepare(cfg, overrides)  # ganlab.resume: the resume policy
    check_writable_dir(cfg.paths.output_dir, "paths.output_dir")
    smoke_test = fast_dev_run_iterations(cfg.trainer.get("fast_dev_run"))
    if smoke_test:  # trainer.fast_dev_run=N: N generator iterations, nothing written
        with open_dict(cfg):
            cfg.iterations = smoke_test
    pl.seed_everything(cfg.seed, workers=True, verbose=False)

    datamodule = instantiate(cfg.data, batches_per_iteration=cfg.loss.d_steps_per_g_step)  # one item per G iteration
    image_shape, num_classes = tuple(datamodule.image_shape), datamodule.num_classes
    check_labels(cfg, num_classes)
    module = build_module(cfg, image_shape, num_classes)
    if cfg.get("divergence"):  # its bounds (conf/train.yaml: divergence.max_abs_loss)
        module.divergence = instantiate(cfg.divergence)

    config = OmegaConf.to_container(cfg, resolve=True)
    stop = StopRequest()  # set by GracefulStop (signals) and TimeLimit (trainer.max_time); read below
    callbacks = build_callbacks(cfg, stop, smoke_test)
    loggers = [] if smoke_test else build_loggers(cfg, checkpoint)
    if checkpoint is not None:
        check_resumable(checkpoint, module, cfg.ckpt_path, config)  # a clear error, not one from Lightning
        del checkpoint  # fit loads it again
        callbacks.append(ApplyOptimizerSettings(optimizer_settings(cfg, module)))
    callbacks.append(RunConfig(config, image_shape, num_classes, overrides=overrides, config_dirs=resume.config_dirs()))
    trainer: pl.Trainer = instantiate(cfg.trainer, callbacks=callbacks, logger=loggers or False,
                                      max_time=None, fast_dev_run=False)  # both counted in generator iterations above
    check_data_parallel(trainer, in_multirun=in_multirun())
    evaluations = [c for c in callbacks if callable(getattr(c, "summary", None))]  # final figures: hparams columns too
    declare_run_hparams(trainer, config, overrides, evaluations, resumed=cfg.ckpt_path is not None)

    log.info("run directory: %s", cfg.paths.output_dir)
    last = next((c.last_path for c in callbacks if getattr(c, "last_path", None) is not None), None)
    fit(trainer, module, datamodule, cfg.ckpt_path, last)
    if smoke_test:
        log.info("trainer.fast_dev_run: %d generator iterations ran; no checkpoint, grid, metrics or TensorBoard "
                 "written", module.g_iter)
        return {"iterations": module.g_iter}
    result = final_result(trainer, module, stop, evaluations)
    report(Path(cfg.paths.output_dir), trainer, module, stop, result, last)
    if stop.signal is not None:
        raise SystemExit(128 + stop.signal)
    return result


def build_callbacks(cfg: DictConfig, stop: StopRequest, smoke_test: int) -> list[pl.Callback]:
    """The configured callbacks, after the two that request a stop (signals, trainer.max_time)."""
    with torch.random.fork_rng():  # what callbacks build (feature networks, ...) draws nothing from the run's stream
        callbacks = [instantiate(c) for c in (cfg.callbacks or {}).values()]
    if not cfg.trainer.get("enable_progress_bar", True):  # Lightning refuses a bar it may not show
        callbacks = [c for c in callbacks if not isinstance(c, ProgressBar)]
    if smoke_test:  # no checkpoints, grids or metrics: only the bar
        callbacks = [c for c in callbacks if isinstance(c, ProgressBar)]
    # first: a stop they request at an iteration's end is seen by the checkpoint callback at the same end
    return [GracefulStop(stop), TimeLimit(cfg.trainer.get("max_time"), stop), *callbacks]


def declare_run_hparams(trainer: pl.Trainer, config: dict[str, Any], overrides: list[str], evaluations: list,
                        resumed: bool) -> None:
    """The run's hyper-parameters and the final figures' names, for TensorBoard's HPARAMS tab."""
    if rank_zero_only.rank == 0:  # the loggers write from rank 0 only (data-parallel runs)
        losses = [names.final(names.progress_name(term)) for term in (names.D_LOSS, names.G_LOSS)]
        declare_hparams(trainer.loggers, hydra_run_hparams(config, overrides, recompose=resumed),
                        metrics=[*losses, *(name for c in evaluations for name in c.summary_names)])


def fit(trainer: pl.Trainer, module: GANModule, datamodule: pl.LightningDataModule, ckpt_path: str | None,
        last: Path | None) -> None:
    """trainer.fit; a divergence's error says how to go on from the last good checkpoint."""
    try:  # until the first step, a signal stops at once (interrupt.py); then GracefulStop has it
        trainer.fit(module, datamodule=datamodule, ckpt_path=ckpt_path)
    except DivergenceError as error:
        raise DivergenceError(f"{error} {after_divergence(module, last)}") from error
    finally:
        interrupt.startup_over()


def final_result(trainer: pl.Trainer, module: GANModule, stop: StopRequest, evaluations: list) -> dict[str, Any]:
    """The final losses and evaluations (final/...), logged; or, after a stop, how far the run got."""
    if stop.requested:
        return {"iterations": module.g_iter, "budget": module.iterations, "stopped": stop.reason}
    result = {"iterations": module.g_iter,
              **{names.final(name): float(value)
                 for name, value in trainer.callback_metrics.items() if names.is_progress_loss(name)}}
    for evaluation in evaluations:
        result.update(evaluation.summary())  # final/fid, ..., final/best_fid
    for logger in trainer.loggers:
        logger.log_metrics({k: v for k, v in result.items() if k.startswith(names.FINAL)}, step=module.g_iter)
    return result


def report(run_dir: Path, trainer: pl.Trainer, module: GANModule, stop: StopRequest, result: dict[str, Any],
           last: Path | None) -> None:
    """Flushes the loggers, writes <run>/metrics.json (read by the sweep summary) and logs the summary."""
    for logger in trainer.loggers:
        logger.finalize("success")  # flush now: Lightning closed its writers at the end of fit
    if not trainer.is_global_zero:
        return
    write_json(run_dir / METRICS_FILE, result)
    summary = run_summary(run_dir, result, last, trainer.loggers)
    if stop.requested:
        log.warning("stopped by %s: %s\n%s", stop.reason, stopped_early(module, last), summary)
    else:
        log.info("%s", summary)


def build_loggers(cfg: DictConfig, checkpoint: dict[str, Any] | None) -> list:
    """The configured loggers; a run resumed in place after its process was killed past the
    checkpoint logs to a TensorBoard run of its own (ganlab.resume.tensorboard_version)."""
    version = resume.tensorboard_version(cfg, checkpoint) if checkpoint is not None else None
    return [instantiate(c, **({"version": version} if version and "version" in c else {}))
            for c in (cfg.logger or {}).values()]


def stopped_early(module: GANModule, last: Path | None) -> str:
    """How far a run stopped before its budget got, and the command that continues it."""
    done = f"{module.g_iter} of {module.iterations} generator iterations done"
    if last is None:
        return f"{done}; no checkpoint to continue from (callbacks.checkpoint is off)."
    if not last.is_file():
        return f"{done}; no checkpoint was written yet, nothing to continue from."
    return f"{done}; continue with: {resume.continue_command(last)}"


def after_divergence(module: GANModule, last: Path | None) -> str:
    """Where a diverged run can go on from: its last good checkpoint, and the command."""
    state = resume.training_state(last) if last is not None and last.is_file() else None
    if state is None:
        return f"No checkpoint was written before it (budget: {module.iterations} generator iterations)."
    return (f"The last good checkpoint holds {state[0]} of {module.iterations} generator iterations; continue from "
            f"it (e.g. with a lower learning rate added) with: {resume.continue_command(last)}")


def fast_dev_run_iterations(value: Any) -> int:
    """trainer.fast_dev_run as a number of generator iterations (false: 0, true: 1)."""
    if isinstance(value, bool) or value is None:
        return int(bool(value))
    if isinstance(value, int) and value >= 0:
        return value
    raise ConfigError(f"trainer.fast_dev_run must be true, false or a number of generator iterations, got {value!r}")


def run_summary(run_dir: Path, result: dict[str, Any], last: Path | None, loggers: list) -> str:
    """What a user wants at the end of a run: where it is, its last checkpoint, its final numbers and
    how to look at it."""
    if "stopped" in result:
        lines = [f"stopped after {result['iterations']} of {result['budget']} generator iterations; "
                 f"run directory: {run_dir}"]
    else:
        lines = [f"finished {result['iterations']} generator iterations; run directory: {run_dir}"]
    has_last = last is not None and last.is_file()
    lines.append(f"  last checkpoint: {last}" if has_last else "  no checkpoint (callbacks.checkpoint is off)")
    numbers = {k.removeprefix(names.FINAL): v for k, v in result.items() if k.startswith(names.FINAL)}
    if numbers:
        lines.append("  final: " + "  ".join(f"{k}={v:.4g}" for k, v in numbers.items()))
    if any(isinstance(logger, TensorBoardLogger) for logger in loggers):
        lines.append(f"  TensorBoard: tensorboard --logdir {run_dir}")
    return "\n".join(lines)


def optimizer_settings(cfg: DictConfig, module: GANModule) -> dict[str, tuple[str, dict[str, Any]]]:
    """For ApplyOptimizerSettings: each optimiser's config key, network and configured hyper-parameters."""
    return {f"optim.{player}": (player, optimizer_hyperparameters(instantiate(cfg.optim[player]),
                                                                  getattr(module, player)))
            for player in ("generator", "discriminator")}
