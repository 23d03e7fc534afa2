"""Scores of generated against real images (FID, KID, IS, precision/recall/density/coverage, class
scores, a user's own) every N generator iterations and at the end."""
from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

import pytorch_lightning as pl
import torch
from torch import Tensor, nn
from torchmetrics.utilities.distributed import gather_all_tensors

from ganlab import checks, names
from ganlab.callbacks.best_checkpoint import BestCheckpoint
from ganlab.callbacks.iteration_checkpoint import IterationCheckpoint
from ganlab.config_checks import ConfigError
from ganlab.metrics.features import Features, as_features, fingerprint
from ganlab.metrics.metric import FeatureMetric
from ganlab.metrics.real_features import cache_file, extract_features, load_or_compute
from ganlab.sampling import image_batches, quantize, seeded_labels, seeded_latent

log = logging.getLogger(__name__)
KEY = "callbacks.metrics"


class ImageMetrics(pl.Callback):
    """Compares `num_samples` generated images with `num_samples` real ones through a feature
    network, every `every_n` generator iterations and at the end of training: the network runs once
    per image and every metric of `scores` (metrics/metric.py) computes its numbers from the same
    features. TensorBoard gets `metrics/<name>` against generator iterations; `best_checkpoint`
    (optional) keeps `best.ckpt` at the best value of its monitored metric.

    - The generated set is the same every time (noise and labels from `seed`), so evaluations
      differ only by the weights; the run's EMA generator is evaluated when it keeps one.
    - Real-image features are computed once per dataset, resolution, image count and feature
      network and cached in `cache_dir` (None: not cached).
    - Several processes: each one generates and featurises its own share of the images; the shares
      are gathered (in the order of the noise) and every process scores all `num_samples` images.
    - Evaluating does not touch the training's random stream (KID and IS draw their random subsets
      from a forked generator seeded with `seed`: the same images give the same scores).
    """

    def __init__(
        self,
        feature_network: nn.Module,  # uint8 (n, c, h, w) -> features (n, d) or (features, logits (n, k))
        scores: Mapping[str, FeatureMetric | None],  # name -> metric; None entries are left out
        every_n: int = 5000,  # generator iterations between evaluations (and one at the end)
        num_samples: int = 10_000,  # generated images, and real images, per evaluation
        batch_size: int = 200,  # images per forward pass of G and of the feature network
        cache_dir: str | None = None,  # where real-image features are cached; None: no cache
        seed: int = 0,  # picks the real images and the noise of the generated ones
        best_checkpoint: BestCheckpoint | None = None,
    ):
        checks.positive_int(every_n, "every_n")
        checks.integer(num_samples, "num_samples", low=2)
        checks.positive_int(batch_size, "batch_size")
        self.scores = {name: metric for name, metric in scores.items() if metric is not None}
        for name, metric in self.scores.items():
            if not isinstance(metric, FeatureMetric):
                raise ConfigError(f"{KEY}.scores.{name} is a {type(metric).__name__}, not a metric "
                                  "(a ganlab.metrics.FeatureMetric with names and compute)")
        self.names = [name for metric in self.scores.values() for name in metric.names]
        repeated = sorted({name for name in self.names if self.names.count(name) > 1})
        if repeated:
            raise ConfigError(f"{KEY}.scores: two metrics report {', '.join(repeated)}; keep one of them")
        if best_checkpoint is not None and best_checkpoint.monitor not in self.names:
            raise ConfigError(f"{KEY}.best_checkpoint.monitor={best_checkpoint.monitor!r} is not computed; "
                              f"choose one of {self.names}")
        self.feature_network = feature_network.eval().requires_grad_(False)
        self.every_n = every_n
        self.num_samples = num_samples
        self.batch_size = batch_size
        self.cache_dir = cache_dir
        self.seed = seed
        self.best_checkpoint = best_checkpoint
        self.reference: dict[str, float] = {}  # a fitted feature network's report (classifier_accuracy, fid_floor)
        self.real: Features | None = None  # all real features, on the device; set at fit start
        self.results: dict[str, float] = {}  # the latest evaluation
        self.evaluated_at: int | None = None  # its generator iteration

    # --- what train.py reads -------------------------------------------------------------------
    @property
    def summary_names(self) -> list[str]:
        """The keys of `summary()`, known before training (the hparams tab's columns)."""
        best = [names.final(f"best_{self.best_checkpoint.monitor}")] if self.best_checkpoint is not None else []
        reference = [names.final(name) for name in getattr(self.feature_network, "report_names", ())]
        return [names.final(name) for name in self.names] + best + reference

    def summary(self) -> dict[str, float]:
        """The latest evaluation's results as final/<name>, and the best monitored value as
        final/best_<monitor> (the hparams tab's columns and run()'s return value)."""
        summary = {names.final(name): value for name, value in {**self.results, **self.reference}.items()}
        if self.best_checkpoint is not None and self.best_checkpoint.best is not None:
            summary[names.final(f"best_{self.best_checkpoint.monitor}")] = self.best_checkpoint.best
        return summary

    # --- Lightning hooks -------------------------------------------------------------------------
    def on_fit_start(self, trainer, pl_module) -> None:
        if trainer.fast_dev_run:
            return
        # Whatever is cached or not (the classifier, the real features, the data), nothing here may draw
        # from the run's random stream: training must not depend on what a cache holds.
        device = pl_module.device
        with torch.random.fork_rng(devices=[device.index or 0] if device.type == "cuda" else []):
            self._prepare(trainer, pl_module)

    def _prepare(self, trainer, pl_module) -> None:
        """The feature network (fitted to the data if it is the classifier) and the real features."""
        if self.num_samples < trainer.world_size:
            raise ConfigError(f"callbacks.metrics.num_samples={self.num_samples} is smaller than the "
                              f"{trainer.world_size} processes: each needs a share of the images")
        earlier = trainer.callbacks[:trainer.callbacks.index(self)]
        if any(isinstance(c, IterationCheckpoint) for c in earlier):
            log.warning("callbacks.metrics comes after callbacks.checkpoint: a checkpoint written at an evaluation's "
                        "iteration will not hold that evaluation (list the metrics first)")
        # --- a feature network trained on the run's data (metrics/classifier.py), before its features
        fit_to_data = getattr(self.feature_network, "fit_to_data", None)
        if fit_to_data is not None:
            self.reference = fit_to_data(trainer.datamodule, pl_module.device, self.num_samples, trainer.strategy)
            for logger in trainer.loggers:
                logger.log_metrics({names.metric(name): value for name, value in self.reference.items()},
                                   step=pl_module.g_iter)
        # ---
        self.feature_network.to(pl_module.device)
        real = self._real_features(trainer, pl_module.device)
        for name, metric in self.scores.items():
            try:
                metric.check(real, trainer.datamodule.num_classes, self.num_samples)
            except ValueError as error:
                raise ConfigError(f"{KEY}.scores.{name}: {error}") from None
        self.real = Features(real.features.to(pl_module.device),
                             None if real.logits is None else real.logits.to(pl_module.device))

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if pl_module.g_iter % self.every_n == 0:  # one batch = one generator iteration
            self.evaluate(trainer, pl_module)

    def on_train_end(self, trainer, pl_module) -> None:
        stopped = pl_module.g_iter < pl_module.iterations  # stopped early (signal, max_time): no evaluation
        if pl_module.g_iter % self.every_n != 0 and not stopped:  # else evaluated at its batch end
            self.evaluate(trainer, pl_module)

    def state_dict(self) -> dict[str, Any]:
        best = self.best_checkpoint.state_dict() if self.best_checkpoint is not None else None
        return {"results": dict(self.results), "evaluated_at": self.evaluated_at, "best": best}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.results = dict(state_dict.get("results") or {})
        self.evaluated_at = state_dict.get("evaluated_at")
        if self.best_checkpoint is not None and state_dict.get("best"):
            self.best_checkpoint.load_state_dict(state_dict["best"])

    # --- evaluation ------------------------------------------------------------------------------
    @torch.no_grad()
    def evaluate(self, trainer: pl.Trainer, pl_module) -> dict[str, float]:
        """Generates this process's share of the images, scores them against the real features
        (a collective call under several processes), logs the scores and updates best.ckpt."""
        if self.real is None:  # fast_dev_run
            return {}
        started = time.perf_counter()
        device, g_iter = pl_module.device, pl_module.g_iter
        generator = pl_module.evaluation_generator
        rank, world_size = trainer.global_rank, trainer.world_size
        z = seeded_latent(pl_module.latent, self.num_samples, self.seed).z[rank::world_size]  # (n / world, d)
        labels = (seeded_labels(self.num_samples, generator.num_classes, self.seed + 1)
                  if generator.num_classes > 0 else None)  # (n,) all images'
        features, logits = [], []
        share = None if labels is None else labels[rank::world_size]
        for images in image_batches(generator, z, share, device, self.batch_size):
            out = as_features(self.feature_network(quantize(images)))
            features.append(out.features.float())
            if out.logits is not None:
                logits.append(out.logits.float())
        fake = Features(gather_rows(torch.cat(features), world_size),  # (n, d): every process's, in order
                        gather_rows(torch.cat(logits), world_size) if logits else None)
        requested = labels.to(device) if labels is not None and generator.conditional else None
        rng_devices = [device.index or 0] if device.type == "cuda" else []
        results = {}
        with torch.random.fork_rng(devices=rng_devices):
            torch.manual_seed(self.seed)
            for metric in self.scores.values():
                results.update(metric.compute(self.real, fake, requested))
        if trainer.world_size > 1:  # bit-identical on every rank, so every rank takes the same decisions
            results = trainer.strategy.broadcast(results, src=0)
        self.results, self.evaluated_at = results, g_iter

        scalars = {names.metric(name): value for name, value in results.items()}
        if self.best_checkpoint is not None:
            self.best_checkpoint.update(trainer, g_iter, results)
            if self.best_checkpoint.best is not None:
                scalars[names.best(self.best_checkpoint.monitor)] = self.best_checkpoint.best
        for logger in trainer.loggers:
            logger.log_metrics(scalars, step=g_iter)
        if trainer.is_global_zero:
            shown = ", ".join(f"{name} {value:.4g}" for name, value in results.items())
            log.info("generator iteration %d: %s (%d images, %.1f s)", g_iter, shown, self.num_samples,
                     time.perf_counter() - started)
        return results

    def _real_features(self, trainer: pl.Trainer, device: torch.device) -> Features:
        """All real features: read from the cache or computed by rank 0, then sent to every rank."""
        datamodule = trainer.datamodule
        if not hasattr(datamodule, "real_images") or not hasattr(datamodule, "cache_key"):
            raise ConfigError("callbacks.metrics needs a ganlab DataModule (with real_images() and cache_key); "
                              f"got {type(datamodule).__name__}")
        features = None
        if trainer.is_global_zero:
            path = None
            if self.cache_dir:
                path = cache_file(self.cache_dir, datamodule.cache_key, self.num_samples, self.seed,
                                  fingerprint(self.feature_network))

            def compute() -> Features:
                log.info("computing the features of %d real images (once per dataset and feature network)",
                         self.num_samples)
                images = datamodule.real_images(self.num_samples, seed=self.seed)  # (n, c, h, w) in [-1, 1]
                batches = (images[i:i + self.batch_size].to(device) for i in range(0, len(images), self.batch_size))
                return extract_features(self.feature_network, batches)

            features = load_or_compute(path, compute)
        if trainer.world_size > 1:
            features = trainer.strategy.broadcast(features, src=0)
        return features


def gather_rows(rows: Tensor, world_size: int) -> Tensor:
    """Process r holds rows r, r + world_size, ... of a whole (n, ...): the whole, in order, on every
    process (a collective call under several processes; shares may differ in size by one row)."""
    if world_size == 1:
        return rows
    return interleave(gather_all_tensors(rows.contiguous()))


def interleave(parts: list[Tensor]) -> Tensor:
    """parts[r] (rows r, r + len(parts), ... of a whole) -> the whole."""
    whole = parts[0].new_empty((sum(len(part) for part in parts), *parts[0].shape[1:]))
    for rank, part in enumerate(parts):
        whole[rank::len(parts)] = part.to(whole.device)
    return whole
