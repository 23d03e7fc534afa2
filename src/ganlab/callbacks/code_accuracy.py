"""InfoGAN's categorical code read as the data's class (Chen et al. 2016, sec. 7.1), measured every
N generator iterations and at the end of a run with `latent=infogan` on labelled data:

- `infogan/test_accuracy`: Q's most likely value of the code, as a classifier of the dataset's own
  test split (MNIST's t10k files; real images G never produced), its values matched to the classes
  one to one (metrics/code_matching.py): the paper's measure (MNIST: 5% error, 95% accuracy).
- `infogan/generated_agreement`: generated images with each code value set (`per_code` of them,
  the noise and other codes drawn from `seed`), classified by the classifier of
  `callbacks/metrics=classifier`, matched the same way: whether G draws the class its code names.
  Measured only when that metric runs (it trains the classifier).

D (with Q) and G are read in eval mode (BatchNorm's running statistics). TensorBoard gets both
against generator iterations; `summary()` gives run() the last values as final/infogan_test_accuracy
and final/infogan_generated_agreement (metrics.json); the log shows the code-to-class matching and the
classes the code mostly reads as another (MNIST's 4 read as 9 where one code value covers both).
"""
from __future__ import annotations

import logging
from typing import Any

import pytorch_lightning as pl
import torch

from ganlab import checks
from ganlab.callbacks.metrics import ImageMetrics
from ganlab.config_checks import ConfigError
from ganlab.data.transforms import to_unit_range
from ganlab.latents import Codes, InfoGANLatent
from ganlab.metrics.code_matching import best_matching, confusion_matrix, misread_classes
from ganlab.sampling import generate_from_noise, quantize, seeded_latent

log = logging.getLogger(__name__)

TEST_ACCURACY = "infogan/test_accuracy"
GENERATED_AGREEMENT = "infogan/generated_agreement"
SUMMARY_NAMES = {TEST_ACCURACY: "final/infogan_test_accuracy",
                 GENERATED_AGREEMENT: "final/infogan_generated_agreement"}


class CodeClassAccuracy(pl.Callback):
    def __init__(
        self,
        every_n: int = 500,  # generator iterations between measurements (and one at the end)
        code: int = 0,  # which categorical code (latent.categorical[code]) is read as the class
        per_code: int = 500,  # generated images per code value (the generated agreement)
        seed: int = 0,  # the generated images' noise and other codes: the same every measurement
        batch_size: int = 1000,
    ):
        self.every_n = checks.positive_int(every_n, "every_n")
        self.code = checks.count(code, "code")
        self.per_code = checks.positive_int(per_code, "per_code")
        self.seed = seed
        self.batch_size = checks.positive_int(batch_size, "batch_size")
        self.results: dict[str, float] = {}  # the latest measurement
        self.evaluated_at: int | None = None  # its generator iteration

    # --- what train.py reads -------------------------------------------------------------------
    @property
    def summary_names(self) -> list[str]:
        return list(SUMMARY_NAMES.values())

    def summary(self) -> dict[str, float]:
        return {SUMMARY_NAMES[name]: value for name, value in self.results.items()}

    # --- Lightning hooks -------------------------------------------------------------------------
    def on_fit_start(self, trainer, pl_module) -> None:
        latent = pl_module.latent
        if not isinstance(latent, InfoGANLatent) or self.code >= len(latent.categorical):
            raise ConfigError(f"callbacks.code_accuracy reads categorical code {self.code} of latent=infogan; this "
                              f"run's latent has {len(getattr(latent, 'categorical', []))} categorical codes. Use "
                              "latent=infogan with latent.categorical=[10], or remove callbacks.code_accuracy")
        if trainer.datamodule.test_split() is None:
            raise ConfigError(f"callbacks.code_accuracy classifies the dataset's test split, and "
                              f"{trainer.datamodule.name} has none here (MNIST: t10k-images-idx3-ubyte and "
                              "t10k-labels-idx1-ubyte beside the training files); remove callbacks.code_accuracy")

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

    # --- measurement -----------------------------------------------------------------------------
    def test_accuracy(self, pl_module, images: torch.Tensor, labels: torch.Tensor,
                      num_classes: int) -> tuple[dict[int, int], float]:
        """Q's code on uint8 test images (n, c, h, w) against their labels: (matching, accuracy)."""
        return best_matching(self.test_confusion(pl_module, images, labels, num_classes))

    @torch.no_grad()
    def test_confusion(self, pl_module, images: torch.Tensor, labels: torch.Tensor, num_classes: int) -> torch.Tensor:
        """Q's code values (rows) against the test images' labels (columns): counts."""
        discriminator = pl_module.discriminator
        was_training = discriminator.training
        discriminator.eval()
        try:
            predicted = torch.cat([
                discriminator(to_unit_range(x).to(pl_module.device)).codes.categorical_logits[self.code].argmax(1).cpu()
                for x in images.split(self.batch_size)])
        finally:
            discriminator.train(was_training)
        k = pl_module.latent.categorical[self.code]
        return confusion_matrix(predicted, labels, k, num_classes)

    @torch.no_grad()
    def generated_agreement(self, pl_module, classifier, num_classes: int) -> tuple[dict[int, int], float]:
        """Generated images of every code value, classified: (matching, agreement)."""
        latent: InfoGANLatent = pl_module.latent
        k = latent.categorical[self.code]
        sample = seeded_latent(latent, k * self.per_code, self.seed)
        values = torch.arange(k).repeat_interleave(self.per_code)  # (n,)
        categorical = sample.codes.categorical.clone()
        categorical[:, self.code] = values
        z = latent.compose(sample.z[:, :latent.noise.input_dim], Codes(categorical, sample.codes.continuous))
        images = quantize(generate_from_noise(pl_module.evaluation_generator, z, device=pl_module.device))
        classes = torch.cat([classifier(x.to(pl_module.device))[1].argmax(1).cpu()
                             for x in images.split(self.batch_size)])
        return best_matching(confusion_matrix(values, classes, k, num_classes))

    def evaluate(self, trainer: pl.Trainer, pl_module) -> dict[str, float]:
        datamodule = trainer.datamodule
        images, labels = datamodule.test_split()
        confusion = self.test_confusion(pl_module, images, labels, datamodule.num_classes)
        matching, accuracy = best_matching(confusion)
        results = {TEST_ACCURACY: accuracy}
        shown = [f"test accuracy {accuracy:.4f} (code value -> class {matching}{misread(confusion, matching)})"]
        classifier = self._classifier(trainer)
        if classifier is not None:
            matching, agreement = self.generated_agreement(pl_module, classifier, datamodule.num_classes)
            results[GENERATED_AGREEMENT] = agreement
            shown.append(f"generated agreement {agreement:.4f} (code value -> class {matching})")
        self.results, self.evaluated_at = results, pl_module.g_iter
        for logger in trainer.loggers:
            logger.log_metrics(results, step=pl_module.g_iter)
        if trainer.is_global_zero:
            log.info("generator iteration %d, InfoGAN code as class: %s", pl_module.g_iter, "; ".join(shown))
        return results

    @staticmethod
    def _classifier(trainer: pl.Trainer):
        """The trained classifier of callbacks/metrics=classifier, or None when the run has none."""
        for callback in trainer.callbacks:
            network = getattr(callback, "feature_network", None) if isinstance(callback, ImageMetrics) else None
            if getattr(network, "network", None) is not None and hasattr(network, "fit_to_data"):
                return network
        return None


def misread(confusion: torch.Tensor, matching: dict[int, int]) -> str:
    """`; misread: 4 as 9 (41%), 5 as 3 (12%)`: the (at most) three largest shares of a class's test
    images that the code puts in one other class, 10% or more each, for the log; empty when none."""
    pairs = misread_classes(confusion, matching, least=0.10)[:3]
    return "; misread: " + ", ".join(f"{c} as {'no class' if other is None else other} ({share:.0%})"
                                     for c, other, share in pairs) if pairs else ""

