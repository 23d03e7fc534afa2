"""Any directory of images (png, jpg, jpeg, bmp, webp, gif; searched recursively), decoded per
image with PIL: converted to RGB or grayscale (`channels`), the shorter side resized to
`image_size` and centre-cropped to a square.

Labels: with two or more first-level subfolders, each is a class (sorted by name; images directly
in `root` are then ignored, with a warning). Otherwise - images directly in `root`, or a single
subfolder - the images are one unlabeled set (num_classes 0). Hidden files and folders are skipped.
A corrupt or truncated file is replaced by the next readable image and reported in one warning
(`skip_corrupt=false`: an error naming the file instead).
"""
from __future__ import annotations

import hashlib
import os
import warnings
from functools import partial
from pathlib import Path
from typing import Any

from ganlab import checks
from ganlab.config_checks import ConfigError
from ganlab.data.base import GANDataModule
from ganlab.data.datasets import DatasetError, ImageFiles
from ganlab.data.transforms import IMAGE_EXTENSIONS, PIL_MODES, load_image


def is_image(name: str) -> bool:
    return not name.startswith(".") and name.lower().endswith(IMAGE_EXTENSIONS)


def find_images(directory: str) -> list[str]:
    """Image files below `directory` (recursive, following links), sorted by path."""
    found = []
    for parent, dirs, files in os.walk(directory, followlinks=True):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        found.extend(os.path.join(parent, f) for f in files if is_image(f))
    return sorted(found)


class ImageFolderDataModule(GANDataModule):
    """`data=image_folder data.root=<dir>`: (channels, image_size, image_size). `download` is unused."""

    dataset_name = "image_folder"

    def __init__(self, *args: Any, image_size: int = 64, channels: int = 3, skip_corrupt: bool = True,
                 **kwargs: Any):
        super().__init__(*args, **kwargs)
        checks.integer(image_size, "image_size", low=4)
        if channels not in PIL_MODES:
            raise checks.BadValue("channels", "1 (grayscale) or 3 (RGB)", channels)
        self.image_size = image_size
        self.channels = channels
        self.skip_corrupt = bool(skip_corrupt)
        self._index: tuple[list[str], list[str], list[int]] | None = None  # classes, files, labels

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return (self.channels, self.image_size, self.image_size)

    @property
    def num_classes(self) -> int:
        return len(self._scan()[0])

    @property
    def class_names(self) -> list[str]:
        return list(self._scan()[0])

    @property
    def resolved_root(self) -> Path:
        return self.root.resolve()

    @property
    def name(self) -> str:
        c, h, w = self.image_shape
        return f"image_folder_{self.resolved_root.name}_{c}x{h}x{w}"

    @property
    def cache_key(self) -> str:
        """Also the resolved root (hashed: file-name safe) and the number of images, so statistics
        are recomputed for another folder with the same name, or when images were added."""
        c, h, w = self.image_shape
        digest = hashlib.sha1(str(self.resolved_root).encode()).hexdigest()[:10]
        return f"image_folder_{self.resolved_root.name}_{digest}_n{len(self._scan()[1])}_{c}x{h}x{w}"

    def _scan(self) -> tuple[list[str], list[str], list[int]]:
        """(class names, files, labels); one directory walk, on first use."""
        if self._index is not None:
            return self._index
        root = self.resolved_root
        if not root.exists():
            raise FileNotFoundError(f"image folder {root} does not exist. Set data.root=<a directory of images "
                                    "(png, jpg, ...); first-level subfolders are classes>.")
        if not root.is_dir():
            raise NotADirectoryError(f"image folder {root} is not a directory (data.root)")
        entries = sorted(os.scandir(root), key=lambda e: e.name)
        top = [e.path for e in entries if e.is_file() and is_image(e.name)]
        groups = [(e.name, find_images(e.path)) for e in entries if e.is_dir() and not e.name.startswith(".")]
        groups = [(name, files) for name, files in groups if files]
        if len(groups) >= 2:
            if top:
                warnings.warn(f"image folder {root}: {len(top)} images directly in it are ignored; its "
                              f"{len(groups)} subfolders are the classes", UserWarning, stacklevel=2)
            classes = [name for name, _ in groups]
            files = [f for _, group in groups for f in group]
            labels = [label for label, (_, group) in enumerate(groups) for _ in group]
        else:
            classes, files = [], top + [f for _, group in groups for f in group]
            labels = [0] * len(files)
        if not files:
            raise FileNotFoundError(f"image folder {root} contains no images ({', '.join(IMAGE_EXTENSIONS)}; "
                                    "searched recursively). Set data.root=<a directory of images>.")
        self._index = (classes, files, labels)
        return self._index

    def _build_dataset(self) -> ImageFiles:
        _, files, labels = self._scan()
        decode = partial(load_image, channels=self.channels, size=self.image_size)
        dataset = ImageFiles(files, labels, decode, skip_corrupt=self.skip_corrupt,
                             description=f"image folder {self.resolved_root}")
        check_decodable(dataset, self.resolved_root)
        return dataset


def check_decodable(dataset: ImageFiles, root: Path) -> None:
    """Raises DatasetError when not one file of the folder decodes (rather than an error about the
    batch size, or a DataLoader worker's traceback, later). Files are tried in order until one
    decodes: a single decode for a healthy folder."""
    first = None
    for i in range(len(dataset)):
        try:
            dataset.decode(dataset.path(i))
            return
        except Exception as error:  # noqa: BLE001 - PIL raises OSError, SyntaxError, ValueError, ...
            first = first or f"{dataset.path(i)}: {type(error).__name__}: {error}"
    raise DatasetError(f"image folder {root}: none of its {len(dataset)} image files can be decoded (the first, "
                       f"{first}). Check that they are images, or set data.root=<a directory of images>.")
