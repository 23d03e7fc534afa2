"""Feature networks for FID, KID and IS.

The contract: a feature network is an `nn.Module` whose forward takes uint8 images (n, c, h, w)
in [0, 255] (generated images are quantised first, as if saved to PNG, so that they are treated
exactly like real ones) with the data's channels and size, and returns either the features
(n, d) for FID and KID, or a pair (features (n, d), class logits (n, k)); IS needs the logits.

- `InceptionFeatures`: torch-fidelity's Inception-v3, the network of the reference FID/KID/IS
  implementations; numbers comparable with papers (at equal sample counts).
- `RandomConvFeatures`: a small convolutional network with fixed random weights: no download,
  fast on a CPU; for smoke tests and relative comparisons between runs using the same network.
- `ClassifierFeatures` (metrics/classifier.py): a small CNN trained at fit start on the run's own
  labelled data (ImageMetrics calls its `fit_to_data`), cached; no download, numbers read against
  the real-data floor it reports.
- `TorchScriptFeatures`: any TorchScript file, e.g. a classifier trained on the dataset (the
  usual choice for MNIST).
A user's own module works too: `callbacks.metrics.feature_network._target_=my_package.MyNet`.
"""
from __future__ import annotations

import hashlib
from pathlib import Path
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ganlab.config_checks import ConfigError
from ganlab.data.transforms import to_unit_range

INCEPTION_URL = ("https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/"
                 "weights-inception-2015-12-05-6726825d.pth")
INCEPTION_FILE = INCEPTION_URL.rsplit("/", 1)[1]


class Features(NamedTuple):
    features: Tensor  # (n, d): what FID and KID compare
    logits: Tensor | None  # (n, k) class logits for IS; None when the network has none


def as_features(output: Tensor | tuple[Tensor, Tensor | None]) -> Features:
    """A feature network's output (a tensor, or a (features, logits) pair) as Features."""
    if isinstance(output, Tensor):
        return Features(output.flatten(1), None)
    features, logits = output
    return Features(features.flatten(1), None if logits is None else logits.flatten(1))


def fingerprint(network: nn.Module) -> str:
    """A short hash of the network's class and weights: real-image statistics are cached per
    network, and a network with other weights gets other statistics."""
    digest = hashlib.sha256(type(network).__qualname__.encode())
    for name, tensor in sorted(network.state_dict().items()):
        digest.update(f"{name}:{tuple(tensor.shape)}:{tensor.dtype}".encode())
        digest.update(tensor.detach().cpu().contiguous().view(-1).view(torch.uint8).numpy().tobytes())
    return f"{type(network).__name__}-{digest.hexdigest()[:16]}"


def to_rgb(images: Tensor) -> Tensor:
    """(n, 1, h, w) grayscale -> (n, 3, h, w); RGB passes through."""
    return images.expand(-1, 3, -1, -1) if images.shape[1] == 1 else images


class RandomConvFeatures(nn.Module):
    """Three strided 4x4 convolutions with LeakyReLU and global average pooling (features), plus a
    linear layer (logits), all with fixed random weights drawn from `seed`: deterministic, no
    download, a few milliseconds a batch on a CPU. Grayscale images are repeated to RGB and every
    image is resized to `resolution` first, so one network serves every dataset.

    Random convolutional features separate image distributions reasonably well (FID and KID fall
    as a GAN learns), but the numbers are comparable only between runs that use the same network
    (same arguments), never with published Inception FIDs. The random logits classify nothing:
    their IS stays near 1 and only exercises the plumbing; IS needs a trained classifier."""

    def __init__(self, num_features: int = 64, num_logits: int = 10, width: int = 16,
                 resolution: int = 32, seed: int = 0):
        super().__init__()
        if min(num_features, num_logits, width, resolution) < 1:
            raise ValueError("RandomConvFeatures: num_features, num_logits, width and resolution must be >= 1")
        self.resolution = resolution
        self.body = nn.Sequential(
            nn.Conv2d(3, width, 4, 2, 1), nn.LeakyReLU(0.2),
            nn.Conv2d(width, 2 * width, 4, 2, 1), nn.LeakyReLU(0.2),
            nn.Conv2d(2 * width, num_features, 4, 2, 1), nn.LeakyReLU(0.2),
        )
        self.head = nn.Linear(num_features, num_logits)
        generator = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            for parameter in self.parameters():
                fan_in = parameter[0].numel() if parameter.dim() > 1 else 1
                scale = (2.0 / fan_in) ** 0.5 if parameter.dim() > 1 else 0.1  # He init; small biases
                parameter.copy_(torch.randn(parameter.shape, generator=generator) * scale)
        self.requires_grad_(False).eval()

    def forward(self, images: Tensor) -> tuple[Tensor, Tensor]:
        x = to_rgb(to_unit_range(images))  # (n, 3, h, w) in [-1, 1]
        if x.shape[-1] != self.resolution or x.shape[-2] != self.resolution:
            x = F.interpolate(x, size=(self.resolution, self.resolution), mode="bilinear",
                              align_corners=False, antialias=True)
        features = self.body(x).mean(dim=(2, 3))  # (n, num_features)
        return features, self.head(features)  # (n, num_features), (n, num_logits)


class InceptionFeatures(nn.Module):
    """torch-fidelity's Inception-v3 ("inception-v3-compat", the TensorFlow FID network with its
    TF-compatible resize to 299x299): 2048 pool features for FID/KID and the 1008 unbiased logits
    for IS, as torch-fidelity computes them. Grayscale images are repeated to RGB.

    Needs `pip install torch-fidelity` (ganlab's `metrics` extra) and the weights: downloaded to
    $TORCH_HOME/hub/checkpoints on first use, or read from `weights_path` (offline clusters)."""

    def __init__(self, weights_path: str | None = None):
        super().__init__()
        if weights_path is not None and not Path(weights_path).expanduser().is_file():
            raise ConfigError(f"callbacks.metrics.feature_network.weights_path={weights_path}: no such file. "
                              + _HOW_TO_GET_WEIGHTS)
        try:
            from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3
        except ImportError as error:
            raise ConfigError(
                "the Inception feature network (callbacks/metrics=inception) needs torch-fidelity: "
                "pip install -e '.[metrics]' (or pip install torch-fidelity); callbacks/metrics=random_features "
                "needs nothing. Inception also needs its weights. " + _HOW_TO_GET_WEIGHTS) from error
        try:
            self.network = FeatureExtractorInceptionV3(
                "inception-v3-compat", ["2048", "logits_unbiased"],
                feature_extractor_weights_path=None if weights_path is None else str(Path(weights_path).expanduser()))
        except Exception as error:  # no network, a proxy, a truncated or wrong file ...
            where = (f"from {weights_path}" if weights_path is not None else
                     f"from {INCEPTION_URL} (no local weights given, download failed)")
            raise ConfigError(f"cannot load the Inception weights {where}: {error}. " + _HOW_TO_GET_WEIGHTS) from error

    def forward(self, images: Tensor) -> tuple[Tensor, Tensor]:
        pool, logits = self.network(to_rgb(images))  # uint8 (n, 3, h, w) -> (n, 2048), (n, 1008)
        return pool, logits


_HOW_TO_GET_WEIGHTS = (
    f"To evaluate offline, download {INCEPTION_URL} on a machine with internet and either pass "
    f"callbacks.metrics.feature_network.weights_path=/path/to/{INCEPTION_FILE} or copy it into "
    f"$TORCH_HOME/hub/checkpoints/ (default ~/.cache/torch/hub/checkpoints/). Or train without "
    f"metrics (drop callbacks/metrics=...).")


class TorchScriptFeatures(nn.Module):
    """A TorchScript network from `path` (e.g. a classifier trained on the dataset, saved with
    `torch.jit.save(torch.jit.script(model), path)`). It receives float images scaled to
    [input_low, input_high] (the range it was trained on), resized to `image_size` if given, and
    returns features (n, d) or a (features, logits) pair."""

    def __init__(self, path: str, input_low: float = -1.0, input_high: float = 1.0,
                 image_size: int | None = None):
        super().__init__()
        file = Path(path).expanduser()
        if not file.is_file():
            raise ConfigError(f"callbacks.metrics.feature_network.path={path}: no such file (a TorchScript "
                              "file written with torch.jit.save)")
        try:
            self.network = torch.jit.load(str(file), map_location="cpu").eval()
        except Exception as error:
            raise ConfigError(f"callbacks.metrics.feature_network.path={path}: not a TorchScript file ({error}). "
                              "Save your network with torch.jit.save(torch.jit.script(model), path).") from error
        for parameter in self.network.parameters():
            parameter.requires_grad_(False)
        self.input_low, self.input_high = input_low, input_high
        self.image_size = image_size

    def forward(self, images: Tensor):
        x = self.input_low + (self.input_high - self.input_low) * images.float() / 255.0
        if self.image_size is not None and x.shape[-1] != self.image_size:
            x = F.interpolate(x, size=(self.image_size, self.image_size), mode="bilinear",
                              align_corners=False, antialias=True)
        return self.network(x)
