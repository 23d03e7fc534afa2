"""What every ganlab DataModule shares: the constructor keywords (`data.*`), the training
DataLoader (resumable shuffle, rank-aware, static batch shapes), real images for metrics and a
cache key for their statistics.

The training DataLoader hands out one item per generator iteration: `(real, labels)`, real
float32 (k, b, c, h, w) in [-1, 1], labels int64 (k, b) class labels (zeros when the data has no
labels), the k = `batches_per_iteration` real batches of the iteration's discriminator steps, in
the order of ganlab.data.sampler's batch stream. `image_shape` and `num_classes` are known right
after construction, before `prepare_data` / `setup`.
"""
from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset, Subset

from ganlab import checks
from ganlab.config_checks import ConfigError
from ganlab.data.datasets import TensorImages, identity_collate
from ganlab.data.sampler import EpochShuffleSampler, ResumableDataLoader
from ganlab.data.transforms import resize_uint8


class GANDataLoader(ResumableDataLoader):
    """A ResumableDataLoader that lets the dataset report problems found while loading (corrupt
    files) from the main process, after each batch and at the end of each pass."""

    def __iter__(self):
        check = getattr(self.dataset, "check", None)
        for batch in super().__iter__():
            if check is not None:
                check()
            yield batch
        if check is not None:
            check(end_of_pass=True)


class GANDataModule(pl.LightningDataModule):
    """Base class. Subclasses set `dataset_name` and implement `image_shape`, `num_classes` and
    `_build_dataset()`; those that can download implement `_download()`."""

    dataset_name = "dataset"  # the start of `name`, e.g. "mnist"
    title = "dataset"  # for messages, e.g. "MNIST"
    can_download = False  # True where `_download()` fetches the data

    def __init__(
        self,
        root: str = "data",  # where the dataset lies (its official layout below this directory)
        download: bool = False,  # fetch it into `root` when missing (needs internet)
        batch_size: int = 64,  # images per batch, per process; the last incomplete batch is dropped
        num_workers: int = 2,  # DataLoader worker processes (0: load in the training process)
        pin_memory: bool = True,  # page-locked batches for faster copies to the GPU (when there is one)
        persistent_workers: bool = True,  # keep workers between epochs (only with num_workers > 0)
        seed: int | None = None,  # data order seed; None: the run's seed (PL_GLOBAL_SEED)
        batches_per_iteration: int = 1,  # k: real batches per item (run() passes loss.d_steps_per_g_step)
    ):
        super().__init__()
        checks.positive_int(batch_size, "batch_size")
        checks.count(num_workers, "num_workers")
        self.root = Path(str(root)).expanduser()
        self.download = bool(download)
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.pin_memory = bool(pin_memory)
        self.persistent_workers = bool(persistent_workers)
        self.seed = seed
        self.batches_per_iteration = batches_per_iteration
        self._train: Dataset | None = None
        self._loader: GANDataLoader | None = None  # the latest training loader
        self._order_state: dict[str, int] | None = None  # data order to resume from

    # --- what the rest of ganlab reads -------------------------------------------------------
    @property
    def image_shape(self) -> tuple[int, int, int]:
        """(channels, height, width) of the images handed out."""
        raise NotImplementedError

    @property
    def num_classes(self) -> int:
        """Number of class labels; 0 when the data has none (labels are then all zero)."""
        raise NotImplementedError

    @property
    def class_names(self) -> list[str]:
        return [str(i) for i in range(self.num_classes)]

    @property
    def name(self) -> str:
        """Dataset and resolution, e.g. `mnist_1x28x28`."""
        c, h, w = self.image_shape
        return f"{self.dataset_name}_{c}x{h}x{w}"

    @property
    def cache_key(self) -> str:
        """A file-name-safe key for statistics of the real images (e.g. FID's mean/covariance)."""
        return self.name

    @property
    def train_dataset(self) -> Dataset:
        self.setup("fit")
        assert self._train is not None
        return self._train

    # --- Lightning hooks ----------------------------------------------------------------------
    def prepare_data(self) -> None:
        if self.download:
            self._download()

    def setup(self, stage: str | None = None) -> None:
        if self._train is None:
            self._train = self._build_dataset()

    def train_dataloader(self) -> GANDataLoader:
        dataset = self.train_dataset
        self._check_trainer_sampler()
        sampler = EpochShuffleSampler(len(dataset), seed=self.seed)
        if len(sampler) < self.batch_size:
            _, world_size = sampler.topology()
            share = f" per process ({world_size} processes)" if world_size > 1 else ""
            raise ConfigError(f"data.batch_size={self.batch_size} is larger than the {len(sampler)} training "
                              f"images{share} of {self.name}: no complete batch. Lower data.batch_size.")
        self._loader = GANDataLoader(dataset, batch_size=self.batch_size, sampler=sampler,
                                     batches_per_iteration=self.batches_per_iteration, **self._loader_options())
        if self._order_state is not None:
            self._check_units(self._order_state, sampler.topology()[1])
            self._loader.load_state_dict(self._order_state)
            self._order_state = None
        return self._loader

    def state_dict(self) -> dict[str, Any]:
        """The data order's position (pass and iterations handed out) and its units (images per
        batch, batches per iteration, processes), saved in checkpoints."""
        if self._loader is None:
            return {"data_order": self._order_state} if self._order_state else {}
        units = {"batch_size": self.batch_size, "batches_per_iteration": self.batches_per_iteration,
                 "world_size": self._loader.order.topology()[1]}
        return {"data_order": {**self._loader.state_dict(), **units}}

    def _check_units(self, state: dict[str, Any], world_size: int) -> None:
        """A saved position counts iterations of k batches of b images on each of n processes: read with
        other units it would repeat or skip images, so that is refused (ganlab.resume refuses another
        data.batch_size or loss.d_steps_per_g_step earlier, from the config)."""
        here = {"batch_size": (self.batch_size, "data.batch_size"),
                "batches_per_iteration": (self.batches_per_iteration, "loss.d_steps_per_g_step"),
                "world_size": (world_size, "the number of processes (trainer.devices x trainer.num_nodes)")}
        for key, (value, name) in here.items():
            if key in state and int(state[key]) != value:
                raise ConfigError(f"{name} is {value}, but the checkpoint's data position was saved with {state[key]}: "
                                  "resuming would repeat or skip images. Resume with the run's own value.")

    def load_state_dict(self, state: dict[str, Any]) -> None:
        # Lightning restores this on every resume, before it asks for the training loader.
        self._order_state = state.get("data_order")

    # --- real images for metrics --------------------------------------------------------------
    def test_split(self) -> tuple[Tensor, Tensor] | None:
        """The dataset's own held-out test images, uint8 (n, *image_shape), and their labels (n,),
        never trained on (the classifier metric's held-out set); None when it has none (the default;
        MNIST and CIFAR-10 return their test files when present)."""
        return None

    def real_images(self, n: int, seed: int = 0) -> Tensor:
        """n training images (n, c, h, w), float32 in [-1, 1], on the CPU: the first n of a
        permutation drawn from `seed` (the same images every call). If n exceeds the training set,
        further permutations follow (images repeat) and a warning says so."""
        if n < 1:
            raise ValueError(f"real_images: n must be >= 1, got {n}")
        dataset = self.train_dataset
        size = len(dataset)
        if n > size:
            warnings.warn(f"real_images: {n} images requested but {self.name} has {size}; images repeat",
                          UserWarning, stacklevel=2)
        generator = torch.Generator().manual_seed(seed)
        indices = torch.cat([torch.randperm(size, generator=generator) for _ in range(-(-n // size))])[:n]
        return self._images_at(indices.tolist())

    def _images_at(self, indices: list[int]) -> Tensor:
        # its own generator: drawing the workers' seed must not move the global RNG (training noise)
        loader = DataLoader(Subset(self.train_dataset, indices), batch_size=256, num_workers=self.num_workers,
                            generator=torch.Generator().manual_seed(0))
        check = getattr(self.train_dataset, "check", None)
        images = []
        for x, _ in loader:
            if check is not None:
                check()
            images.append(x)
        return torch.cat(images)

    # --- for subclasses -----------------------------------------------------------------------
    def _build_dataset(self) -> Dataset:
        raise NotImplementedError

    def _download(self) -> None:
        """Fetches the dataset into `root` if it is missing (datasets that can be downloaded)."""

    def _loader_options(self) -> dict[str, Any]:
        options: dict[str, Any] = {"num_workers": self.num_workers,
                                   "pin_memory": self.pin_memory and torch.cuda.is_available()}
        if self.num_workers > 0:
            options["persistent_workers"] = self.persistent_workers
        return options

    def _check_trainer_sampler(self) -> None:
        # Lightning would wrap our (already rank-aware) sampler in a DistributedSampler: each rank
        # would then see a fraction of its share, and mid-epoch resume would break.
        trainer = self.trainer
        if trainer is None or trainer.world_size <= 1:
            return
        connector = getattr(trainer, "_accelerator_connector", None)
        if getattr(connector, "use_distributed_sampler", False):
            raise ConfigError("ganlab's DataModules shard the data over processes themselves: set "
                              "trainer.use_distributed_sampler=false for multi-process training.")

    def _missing(self, what: str, expected: list[Path], hint: str = "") -> FileNotFoundError:
        """The one error for data that is not where it should be."""
        paths = "\n  ".join(str(p.resolve()) for p in expected)
        fix = f"set data.root=<the directory containing {what}>"
        if self.can_download:
            fix += " or data.download=true to download it (needs internet)"
        return FileNotFoundError(f"{self.title} not found: expected\n  {paths}\n"
                                 f"{hint}Fix: {fix}.")

    def __repr__(self) -> str:
        return f"{type(self).__name__}(root={str(self.root)!r}, batch_size={self.batch_size})"


class InMemoryDataModule(GANDataModule):
    """A dataset decoded once into a uint8 tensor (n, c, h, w); batches are fetched with one
    indexing operation and normalised as a whole. `image_size` (default: the dataset's own) resizes
    the whole set once, bilinear and antialiased. With `on_device`, the tensor is moved to the
    training device once and batches are cut there (no workers, no host-to-device copies).

    Subclasses set `native_shape` and implement `_load()`."""

    native_shape: tuple[int, int, int] = (1, 1, 1)  # (c, h, w) as stored
    default_image_size: int | None = None  # None: the stored size

    def __init__(self, *args: Any, image_size: int | None = None, on_device: bool = False, **kwargs: Any):
        super().__init__(*args, **kwargs)
        image_size = self.default_image_size if image_size is None else image_size
        if image_size is not None and not (checks.is_int(image_size) and image_size >= 4):
            raise checks.BadValue("image_size", "an integer >= 4 (or null: the stored size)", image_size)
        self.image_size = image_size
        self.on_device = bool(on_device)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        c, h, w = self.native_shape
        return (c, h, w) if self.image_size is None else (c, self.image_size, self.image_size)

    def _load(self) -> tuple[Tensor, Tensor]:
        """-> uint8 images (n, *native_shape), int64 labels (n,)."""
        raise NotImplementedError

    def _build_dataset(self) -> TensorImages:
        images, labels = self._load()
        if tuple(images.shape[1:]) != tuple(self.native_shape):
            raise ValueError(f"{self.name}: loaded images of shape {tuple(images.shape[1:])}")
        if tuple(images.shape[1:]) != tuple(self.image_shape):
            images = resize_uint8(images, self.image_shape[1:])
        return TensorImages(images, labels)

    def _device(self) -> torch.device:
        trainer = self.trainer
        return trainer.strategy.root_device if trainer is not None else torch.device("cpu")

    def train_dataloader(self) -> GANDataLoader:
        if self.on_device:
            self.train_dataset.to(self._device())
        if self.num_workers == 0:  # Lightning's advice to add workers does not apply to a tensor in memory
            warnings.filterwarnings("ignore", message="The 'train_dataloader' does not have many workers")
        return super().train_dataloader()

    def _loader_options(self) -> dict[str, Any]:
        options = super()._loader_options()
        options["collate_fn"] = identity_collate
        if self.train_dataset.images.device.type != "cpu":  # on_device: batches are cut on the GPU
            options.update(num_workers=0, pin_memory=False)
            options.pop("persistent_workers", None)
        return options

    def _images_at(self, indices: list[int]) -> Tensor:
        return self.train_dataset.__getitems__(indices)[0].cpu()
