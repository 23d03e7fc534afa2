"""Features of the real images, computed once per dataset, resolution, image count and feature
network, and cached on disk.

The cache holds the features themselves (not FID's mean and covariance): KID, precision/recall and
a user's own metrics need them.
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from pathlib import Path

import torch
from torch import Tensor, nn

from ganlab.atomic import write_atomically
from ganlab.metrics.features import Features, as_features
from ganlab.sampling import quantize

log = logging.getLogger(__name__)


@torch.no_grad()
def extract_features(network: nn.Module, batches: Iterable[Tensor]) -> Features:
    """Runs the feature network on batches of images (b, c, h, w) in [-1, 1] (quantised to uint8
    first) and gathers the outputs on the CPU: features (n, d), logits (n, k) or None."""
    features, logits = [], []
    for images in batches:
        out = as_features(network(quantize(images)))
        features.append(out.features.float().cpu())
        if out.logits is not None:
            logits.append(out.logits.float().cpu())
    return Features(torch.cat(features), torch.cat(logits) if logits else None)


def cache_file(cache_dir: str | Path, dataset_key: str, num_images: int, seed: int, network_key: str) -> Path:
    """<cache_dir>/<dataset>__n<N>_seed<S>__<network>.pt"""
    return Path(cache_dir) / f"{dataset_key}__n{num_images}_seed{seed}__{network_key}.pt"


def load_or_compute(path: Path | None, compute: Callable[[], Features]) -> Features:
    """The features cached at `path`, or `compute()`'s, then cached there (written to a temporary
    name and renamed: a crash never leaves a truncated cache, and concurrent runs do not clash).
    `path=None`: no cache."""
    if path is not None and path.is_file():
        try:
            stored = torch.load(path, map_location="cpu", weights_only=True)
            log.info("real-image features read from %s", path)
            return Features(stored["features"], stored["logits"])
        except Exception as error:  # unreadable: recompute and overwrite
            log.warning("ignoring the unreadable feature cache %s (%s)", path, error)
    features = compute()
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(path, lambda tmp: torch.save({"features": features.features, "logits": features.logits}, tmp),
                         durable=False)
        log.info("real-image features cached in %s", path)
    return features

