"""Lightning DataModules: `data=<name>` picks one (conf/data/<name>.yaml).

Every DataModule's training loader yields one item per generator iteration, `(x, y)`: x float32
(k, b, c, h, w) in [-1, 1], y int64 (k, b) class labels (zeros when `num_classes == 0`), the
k = `batches_per_iteration` real batches of the iteration's discriminator steps
(ganlab.data.sampler); it knows `image_shape` and `num_classes` before `setup()`.
"""
from ganlab.data.base import GANDataLoader, GANDataModule, InMemoryDataModule
from ganlab.data.celeba import CelebADataModule
from ganlab.data.cifar10 import CIFAR10DataModule
from ganlab.data.datasets import DatasetError, ImageFiles, TensorImages
from ganlab.data.digits import DigitsDataModule
from ganlab.data.image_folder import ImageFolderDataModule
from ganlab.data.mnist import MNISTDataModule
from ganlab.data.sampler import EpochShuffleSampler, IterationSampler, ResumableDataLoader

__all__ = [
    "CIFAR10DataModule", "CelebADataModule", "DatasetError", "DigitsDataModule", "EpochShuffleSampler",
    "GANDataLoader", "GANDataModule", "ImageFiles", "ImageFolderDataModule", "InMemoryDataModule",
    "IterationSampler", "MNISTDataModule", "ResumableDataLoader", "TensorImages",
]
