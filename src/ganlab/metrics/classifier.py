"""A small CNN classifier trained on the run's own labelled data: a feature network for FID, KID and
IS that needs no download (Inception weights cannot be fetched on offline machines).

`ClassifierFeatures` is a feature network like the others (uint8 images in, (features, logits)
out: the penultimate layer for FID/KID, the class logits for IS and class accuracy), except that
its weights come from the data: `ImageMetrics` calls `fit_to_data` at fit start, before the real
images' features are computed. It trains once per dataset, resolution, training-image count,
seed and architecture, and caches the weights in `cache_dir`; later runs read them (and since the
weights are then identical, the cached real features of `ImageMetrics` are reused too).

Held-out images: the dataset's own test split where it has one (MNIST's t10k files, CIFAR-10's
test_batch: `GANDataModule.test_split()`), otherwise the first `held_out` images of a
seeded permutation of the training data (at most a fifth of it), which the classifier never sees.
They give
- `classifier_accuracy`: the classifier's accuracy on them;
- `fid_floor`: the real-data floor, the FID of held-out real images against training images (as
  many of each as the metrics compare, where there are that many): what a perfect generator
  would score. Read a GAN's FID against it;
- `is_real`: the IS of the held-out real images, the ceiling a generator's IS is read against.

Classifier FID is not Inception FID: its numbers compare runs on the same data with the same
classifier settings, never with published (Inception) figures.
"""
from __future__ import annotations

import hashlib
import logging
import time
from pathlib import Path
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.data import DataLoader, Subset

from ganlab import checks
from ganlab.atomic import write_atomically
from ganlab.config_checks import ConfigError
from ganlab.data.transforms import to_unit_range
from ganlab.metrics.features import Features
from ganlab.metrics.fid import FID
from ganlab.metrics.inception_score import InceptionScore
from ganlab.sampling import quantize

log = logging.getLogger(__name__)

REPORT_NAMES = ("classifier_accuracy", "fid_floor", "is_real")


class SmallCNN(nn.Module):
    """Three 3x3 convolutions (the last two strided) with BatchNorm and ReLU, average pooling to
    a 4x4 map, a `feature_dim` ReLU layer (the features) and a linear layer (the logits). Any image
    size and channel count."""

    def __init__(self, channels: int, num_classes: int, width: int = 16, feature_dim: int = 64):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, width, 3, padding=1), nn.BatchNorm2d(width), nn.ReLU(),  # (n, w, h, w)
            nn.Conv2d(width, 2 * width, 3, 2, 1), nn.BatchNorm2d(2 * width), nn.ReLU(),  # (n, 2w, h/2, w/2)
            nn.Conv2d(2 * width, 4 * width, 3, 2, 1), nn.BatchNorm2d(4 * width), nn.ReLU(),  # (n, 4w, h/4, w/4)
            nn.AdaptiveAvgPool2d(4), nn.Flatten(),  # (n, 4w * 16): a 4x4 map keeps where strokes are
            nn.Linear(4 * width * 16, feature_dim), nn.ReLU(),  # (n, feature_dim)
        )
        self.head = nn.Linear(feature_dim, num_classes)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        features = self.body(x)  # x: (n, c, h, w) in [-1, 1]
        return features, self.head(features)  # (n, feature_dim), (n, num_classes)


class Split(NamedTuple):
    train_images: Tensor  # uint8 (n, c, h, w)
    train_labels: Tensor  # int64 (n,)
    test_images: Tensor
    test_labels: Tensor
    test_name: str  # where the held-out images come from, for the log


def labelled_images(dataset, indices: list[int], num_workers: int = 0) -> tuple[Tensor, Tensor]:
    """The training images at `indices` as uint8 (n, c, h, w) and their labels (n,), read through
    the dataset's own loading path (in-memory tensors a batch at a time, files one by one)."""
    batched = callable(getattr(dataset, "__getitems__", None))  # returns a whole batch (x, y)
    loader = DataLoader(Subset(dataset, indices), batch_size=1024, num_workers=0 if batched else num_workers,
                        collate_fn=(lambda batch: batch) if batched else None,
                        generator=torch.Generator().manual_seed(0))
    images, labels = [], []
    for x, y in loader:
        images.append(quantize(x.cpu()))  # [-1, 1] -> the uint8 values the data stores
        labels.append(y.cpu().long())
    return torch.cat(images), torch.cat(labels)


def split_data(datamodule, held_out: int, max_train_images: int | None, seed: int) -> Split:
    """The classifier's training images and its held-out images (see the module docstring)."""
    dataset = datamodule.train_dataset
    size = len(dataset)
    order = torch.randperm(size, generator=torch.Generator().manual_seed(seed)).tolist()
    test = datamodule.test_split()  # the dataset's own test split, where it has one
    if test is not None:
        test_images, test_labels = test
        name = f"the {datamodule.title} test split ({len(test_labels)} images)"
        train_order = order
    else:
        count = min(held_out, size // 5)
        if count < 1:
            raise ConfigError(f"callbacks/metrics=classifier: {datamodule.name} has {size} training images, too few "
                              "to hold some out for the classifier's accuracy and the real-data floor")
        test_images, test_labels = labelled_images(dataset, order[:count], datamodule.num_workers)
        name = f"a held-out part of the training data ({count} of {size} images, not used to train the classifier)"
        train_order = order[count:]
    if max_train_images is not None:
        train_order = train_order[:max_train_images]
    train_images, train_labels = labelled_images(dataset, train_order, datamodule.num_workers)
    return Split(train_images, train_labels, test_images, test_labels, name)


def train_classifier(network: SmallCNN, images: Tensor, labels: Tensor, epochs: int, batch_size: int,
                     lr: float, seed: int, device: torch.device) -> SmallCNN:
    """Adam with a learning rate decaying linearly to 0, cross-entropy; the data order from `seed`.
    Leaves `network` in eval mode."""
    generator = torch.Generator().manual_seed(seed)
    images, labels = images.to(device), labels.to(device)
    network.to(device).train()
    optimizer = torch.optim.Adam(network.parameters(), lr=lr)
    steps = epochs * (len(labels) // batch_size)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0 - step / max(steps, 1))
    for _ in range(epochs):
        order = torch.randperm(len(labels), generator=generator).to(device)
        for index in order[:len(order) // batch_size * batch_size].split(batch_size):
            _, logits = network(to_unit_range(images[index]))
            loss = F.cross_entropy(logits, labels[index])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
    return network.eval()


class ClassifierFeatures(nn.Module):
    """The feature network of `callbacks/metrics=classifier` (see the module docstring):
    uint8 (n, c, h, w) -> features (n, feature_dim), logits (n, num_classes), once fitted."""

    report_names = REPORT_NAMES  # what `fit_to_data` returns, as ImageMetrics reports it

    def __init__(
        self,
        width: int = 16,  # channels of the first convolution (then 2x, 4x)
        feature_dim: int = 64,  # the penultimate layer: the features FID and KID compare
        epochs: int = 1,  # passes over the training images
        batch_size: int = 64,
        lr: float = 2e-3,  # Adam's, decaying linearly to 0
        max_train_images: int | None = 60_000,  # a seeded subset of at most this many (None: all)
        held_out: int = 10_000,  # held-out images when the data has no test split (at most a fifth)
        seed: int = 0,  # initial weights, data order and held-out part
        cache_dir: str | None = None,  # where the trained weights are cached; None: train every run
    ):
        super().__init__()
        for key, value in (("width", width), ("epochs", epochs), ("batch_size", batch_size), ("held_out", held_out)):
            checks.positive_int(value, key)
        checks.integer(feature_dim, "feature_dim", low=2)
        checks.or_null(checks.positive_int, max_train_images, "max_train_images", "all")
        checks.positive(lr, "lr")
        self.settings = dict(width=width, feature_dim=feature_dim, epochs=epochs, batch_size=batch_size, lr=lr,
                             held_out=held_out)
        self.max_train_images = max_train_images
        self.seed = seed
        self.cache_dir = cache_dir
        self.network: SmallCNN | None = None  # built by fit_to_data, for the data's channels and classes

    def forward(self, images: Tensor) -> tuple[Tensor, Tensor]:
        if self.network is None:
            raise RuntimeError("ClassifierFeatures: call fit_to_data(datamodule, ...) first (ImageMetrics does, "
                               "at fit start)")
        return self.network(to_unit_range(images))  # uint8 (n, c, h, w) -> (n, d), (n, k)

    # --- fitting to the run's data ------------------------------------------------------------
    def cache_file(self, datamodule, num_train: int) -> Path | None:
        """<cache_dir>/<dataset>__classifier_n<N>_seed<S>_<settings hash>.pt"""
        if not self.cache_dir:
            return None
        digest = hashlib.sha256(repr(sorted(self.settings.items())).encode()).hexdigest()[:10]
        return Path(self.cache_dir) / f"{datamodule.cache_key}__classifier_n{num_train}_seed{self.seed}_{digest}.pt"

    def fit_to_data(self, datamodule, device: torch.device, num_samples: int, strategy=None) -> dict[str, float]:
        """Trains the classifier on `datamodule`'s training images (or reads it from the cache) and
        returns its report: classifier_accuracy, fid_floor and is_real on the held-out images,
        `num_samples` of each set where there are that many (see the module docstring). Under
        several processes (`strategy`), rank 0 fits and every rank gets its weights and report."""
        num_classes = datamodule.num_classes
        if num_classes < 2:
            raise ConfigError(f"callbacks/metrics=classifier needs labelled data with >= 2 classes; {datamodule.name} "
                              f"has {num_classes} (an image folder needs one subfolder per class). Use "
                              "callbacks/metrics=inception or random_features instead.")
        channels = datamodule.image_shape[0]
        if strategy is None or strategy.world_size == 1 or strategy.is_global_zero:
            report = self._fit(datamodule, channels, num_classes, device, num_samples)
        else:
            report = None
        if strategy is not None and strategy.world_size > 1:
            state = {k: v.cpu() for k, v in self.network.state_dict().items()} if self.network is not None else None
            report, state = strategy.broadcast((report, state), src=0)
            if self.network is None:
                self.network = self._network(channels, num_classes)
                self.network.load_state_dict(state)
        self.network.to(device).eval().requires_grad_(False)
        return report

    def _network(self, channels: int, num_classes: int) -> SmallCNN:
        """A new classifier, its initial weights drawn from `seed` under a fork of the global random
        state: building one (to train, or to load cached weights into) never moves the run's stream."""
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            return SmallCNN(channels, num_classes, self.settings["width"], self.settings["feature_dim"])

    def _fit(self, datamodule, channels: int, num_classes: int, device: torch.device, num_samples: int) -> dict:
        split = split_data(datamodule, self.settings["held_out"], self.max_train_images, self.seed)
        path = self.cache_file(datamodule, len(split.train_labels))
        network = None
        if path is not None and path.is_file():
            try:
                network = self._network(channels, num_classes)  # built without drawing from the run's stream
                network.load_state_dict(torch.load(path, map_location="cpu", weights_only=True)["network"])
                log.info("classifier read from %s", path)
            except Exception as error:  # unreadable or another architecture: train again
                log.warning("ignoring the unreadable classifier cache %s (%s): training again", path, error)
                network = None
        if network is None:
            started = time.perf_counter()
            with torch.random.fork_rng(devices=[device.index or 0] if device.type == "cuda" else []):
                network = self._network(channels, num_classes)
                train_classifier(network, split.train_images, split.train_labels, self.settings["epochs"],
                                 self.settings["batch_size"], self.settings["lr"], self.seed, device)
            log.info("classifier trained on %d %s images in %.1f s", len(split.train_labels), datamodule.name,
                     time.perf_counter() - started)
            if path is not None:
                state = {"network": {k: v.cpu() for k, v in network.state_dict().items()}, "settings": self.settings}
                path.parent.mkdir(parents=True, exist_ok=True)
                write_atomically(path, lambda tmp: torch.save(state, tmp), durable=False)  # a cache: rebuilt if lost
                log.info("classifier cached in %s", path)
        self.network = network.to(device).eval().requires_grad_(False)
        report = self.held_out_report(split, num_samples, device)
        log.info("classifier accuracy %.4f on %s; real-data floor: FID %.4g of %d held-out against %d training "
                 "images, IS of held-out images %.4g", report["classifier_accuracy"], split.test_name,
                 report["fid_floor"], min(num_samples, len(split.test_labels)),
                 min(num_samples, len(split.train_labels)), report["is_real"])
        return report

    @torch.no_grad()
    def held_out_report(self, split: Split, num_samples: int, device: torch.device) -> dict[str, float]:
        """classifier_accuracy on all held-out images; fid_floor and is_real from `num_samples`
        held-out images against `num_samples` training images (fewer where there are fewer)."""
        test_features, test_logits = self._outputs(split.test_images, device)
        accuracy = (test_logits.argmax(1) == split.test_labels).float().mean().item()
        n_test, n_train = min(num_samples, len(split.test_labels)), min(num_samples, len(split.train_labels))
        train_features, _ = self._outputs(split.train_images[:n_train], device)
        real, held_out = Features(train_features, None), Features(test_features[:n_test], test_logits[:n_test])
        with torch.random.fork_rng():
            torch.manual_seed(self.seed)  # IS shuffles with the global generator
            fid = FID().compute(real, held_out, None)["fid"]
            inception_score = InceptionScore(splits=min(10, n_test)).compute(real, held_out, None)["is"]
        return {"classifier_accuracy": accuracy, "fid_floor": fid, "is_real": inception_score}

    def _outputs(self, images: Tensor, device: torch.device, batch_size: int = 1000) -> tuple[Tensor, Tensor]:
        """Features and logits of uint8 images, on the CPU."""
        features, logits = [], []
        for start in range(0, len(images), batch_size):
            f, l = self(images[start:start + batch_size].to(device))
            features.append(f.float().cpu())
            logits.append(l.float().cpu())
        return torch.cat(features), torch.cat(logits)

