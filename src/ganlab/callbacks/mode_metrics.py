"""Mode-collapse measures on a 2-D mixture (PacGAN's Table 1) every N generator iterations and at
the end: modes captured, high-quality share and reverse KL (see ganlab/metrics/modes.py)."""
from __future__ import annotations

import logging
from typing import Any

import pytorch_lightning as pl
import torch

from ganlab import checks, names
from ganlab.config_checks import ConfigError
from ganlab.metrics.modes import NAMES, ModeStats, mode_stats
from ganlab.sampling import generate_from_noise, seeded_latent

log = logging.getLogger(__name__)


def mixture_of(trainer: pl.Trainer) -> tuple[torch.Tensor, float]:
    """(means (K, 2), sigma) of the run's mixture DataModule; a clear error for any other data."""
    datamodule = trainer.datamodule
    if not (hasattr(datamodule, "means") and hasattr(datamodule, "sigma")):
        raise ConfigError("vector samples are measured and drawn against a mixture of Gaussians: use data=ring or "
                          f"data=grid (got {type(datamodule).__name__})")
    return datamodule.means, datamodule.sigma


class ModeMetrics(pl.Callback):
    """Draws `num_samples` points from the same fixed noise (`seed`) at every evaluation (the EMA
    generator when the run keeps one; G in eval mode) and measures them against the modes of the
    run's mixture: TensorBoard gets `metrics/modes`, `metrics/high_quality` (a share in [0, 1]) and
    `metrics/reverse_kl` against generator iterations; `summary()` gives run() the last evaluation
    as final/modes, final/high_quality and final/reverse_kl (metrics.json, the sweep summary)."""

    def __init__(
        self,
        every_n: int = 1000,  # generator iterations between evaluations (and one at the end)
        num_samples: int = 2500,  # generated points per evaluation (PacGAN: 2,500)
        seed: int = 0,  # the noise of the generated points: the same every evaluation
        threshold: float = 3.0,  # high quality: within threshold * sigma of the nearest mode
    ):
        self.every_n = checks.positive_int(every_n, "every_n")
        self.num_samples = checks.positive_int(num_samples, "num_samples")
        self.seed = seed
        self.threshold = checks.positive(threshold, "threshold")
        self.results: dict[str, float] = {}  # the latest evaluation
        self.evaluated_at: int | None = None  # its generator iteration

    # --- what train.py reads -------------------------------------------------------------------
    @property
    def summary_names(self) -> list[str]:
        return [names.final(name) for name in NAMES]

    def summary(self) -> dict[str, float]:
        return {names.final(name): value for name, value in self.results.items()}

    # --- Lightning hooks -------------------------------------------------------------------------
    def on_fit_start(self, trainer, pl_module) -> None:
        mixture_of(trainer)  # fail now, not at the first evaluation

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        g_iter = pl_module.g_iter
        if g_iter > 0 and g_iter % self.every_n == 0 and g_iter != self.evaluated_at:
            self.evaluate(trainer, pl_module)

    def on_train_end(self, trainer, pl_module) -> None:
        stopped = pl_module.g_iter < pl_module.iterations  # stopped early (signal, max_time): no evaluation
        if pl_module.g_iter > 0 and pl_module.g_iter != self.evaluated_at and not stopped:
            self.evaluate(trainer, pl_module)

    def state_dict(self) -> dict[str, Any]:
        return {"results": dict(self.results), "evaluated_at": self.evaluated_at}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.results = dict(state_dict.get("results") or {})
        self.evaluated_at = state_dict.get("evaluated_at")

    # --- evaluation ------------------------------------------------------------------------------
    def measure(self, trainer: pl.Trainer, pl_module) -> tuple[torch.Tensor, ModeStats]:
        """(the generated points (n, 2) on the CPU, their ModeStats)."""
        means, sigma = mixture_of(trainer)
        generator = pl_module.evaluation_generator
        z = seeded_latent(pl_module.latent, self.num_samples, self.seed).z  # the run's latent (N(0, I) by default)
        points = generate_from_noise(generator, z, device=pl_module.device)  # (n, 2)
        return points, mode_stats(points, means, sigma, self.threshold)

    def evaluate(self, trainer: pl.Trainer, pl_module) -> dict[str, float]:
        """Measures the generator now (every process computes the same numbers from the same
        weights and noise), logs the results and keeps them for summary()."""
        _, stats = self.measure(trainer, pl_module)
        self.results, self.evaluated_at = stats.scalars(), pl_module.g_iter
        for logger in trainer.loggers:
            logger.log_metrics({f"metrics/{k}": v for k, v in self.results.items()}, step=pl_module.g_iter)
        if trainer.is_global_zero:
            log.info("generator iteration %d: %d/%d modes, %.1f%% high quality, reverse KL %.3f",
                     pl_module.g_iter, stats.modes, stats.counts.numel(), 100 * stats.high_quality, stats.reverse_kl)
        return self.results
