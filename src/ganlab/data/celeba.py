"""CelebA (aligned and cropped faces), training split, decoded per image with PIL.

Layout (torchvision's): <root>/celeba/img_align_celeba/*.jpg (178x218), list_eval_partition.txt
(`filename split`, 0 = train) and, for `condition_on`, list_attr_celeba.txt (line 1: the count,
line 2: the 40 attribute names, then `filename v1 ... v40` with values 1 / -1).

Each image is centre-cropped to `crop` x `crop` (178: the whole width, the face centred) and
resized to `image_size`. With `condition_on=[A, B, ...]` (k attributes) there are 2**k classes and
an image's label has one bit per attribute, the first attribute the most significant:
label = sum over i of [attribute i is 1] * 2**(k - 1 - i), e.g. [Male, Smiling]: 0 = neither,
1 = Smiling only, 2 = Male only, 3 = both.
"""
from __future__ import annotations

import difflib
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import Any

from ganlab import checks
from ganlab.config_checks import ConfigError
from ganlab.data.base import GANDataModule
from ganlab.data.datasets import DatasetError, ImageFiles
from ganlab.data.transforms import load_image

ATTRIBUTES = (  # the 40 attributes of list_attr_celeba.txt, in its order
    "5_o_Clock_Shadow", "Arched_Eyebrows", "Attractive", "Bags_Under_Eyes", "Bald", "Bangs",
    "Big_Lips", "Big_Nose", "Black_Hair", "Blond_Hair", "Blurry", "Brown_Hair", "Bushy_Eyebrows",
    "Chubby", "Double_Chin", "Eyeglasses", "Goatee", "Gray_Hair", "Heavy_Makeup",
    "High_Cheekbones", "Male", "Mouth_Slightly_Open", "Mustache", "Narrow_Eyes", "No_Beard",
    "Oval_Face", "Pale_Skin", "Pointy_Nose", "Receding_Hairline", "Rosy_Cheeks", "Sideburns",
    "Smiling", "Straight_Hair", "Wavy_Hair", "Wearing_Earrings", "Wearing_Hat", "Wearing_Lipstick",
    "Wearing_Necklace", "Wearing_Necktie", "Young",
)
MAX_ATTRIBUTES = 10  # 2**10 classes


def check_attributes(condition_on: Sequence[str], valid: Sequence[str], source: str) -> None:
    """Raises a ConfigError naming the bad entry of data.condition_on and some valid names."""
    for name in condition_on:
        if name not in valid:
            close = difflib.get_close_matches(name, valid, n=3, cutoff=0.5)
            suggestion = f" Did you mean {' or '.join(close)}?" if close else ""
            raise ConfigError(f"data.condition_on: CelebA has no attribute {name!r}.{suggestion} Valid names "
                              f"({len(valid)}, from {source}) include {', '.join(valid[:8])}, ...")
    if len(set(condition_on)) != len(condition_on):
        raise ConfigError(f"data.condition_on lists an attribute twice: {condition_on}")
    if len(condition_on) > MAX_ATTRIBUTES:
        raise ConfigError(f"data.condition_on: at most {MAX_ATTRIBUTES} attributes (2**k classes), "
                          f"got {len(condition_on)}")


class CelebADataModule(GANDataModule):
    """`data=celeba`: (3, image_size, image_size); 2**len(condition_on) classes (0 if empty)."""

    dataset_name = "celeba"
    title = "CelebA"
    can_download = True

    def __init__(self, *args: Any, image_size: int = 64, crop: int = 178, condition_on: Sequence[str] = (),
                 skip_corrupt: bool = True, **kwargs: Any):
        super().__init__(*args, **kwargs)
        checks.integer(image_size, "image_size", low=4)
        checks.positive_int(crop, "crop")
        if isinstance(condition_on, str):
            condition_on = [condition_on]
        self.image_size = image_size
        self.crop = crop
        self.condition_on = [str(a) for a in (condition_on or [])]
        self.skip_corrupt = bool(skip_corrupt)
        # A bad attribute name fails here, before any work: against the file's header if the
        # dataset is there, else against the 40 attributes of the official release.
        header = self._attribute_names() if self.attr_file.is_file() else None
        check_attributes(self.condition_on, header or ATTRIBUTES, str(self.attr_file) if header else "CelebA")

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return (3, self.image_size, self.image_size)

    @property
    def num_classes(self) -> int:
        return 2 ** len(self.condition_on) if self.condition_on else 0

    @property
    def class_names(self) -> list[str]:
        k = len(self.condition_on)
        return [" ".join(("" if label >> (k - 1 - i) & 1 else "not_") + name
                         for i, name in enumerate(self.condition_on)) for label in range(self.num_classes)]

    @property
    def name(self) -> str:
        c, h, w = self.image_shape
        return f"celeba_crop{self.crop}_{c}x{h}x{w}"

    @property
    def folder(self) -> Path:
        return self.root / "celeba"

    @property
    def attr_file(self) -> Path:
        return self.folder / "list_attr_celeba.txt"

    @property
    def partition_file(self) -> Path:
        return self.folder / "list_eval_partition.txt"

    @property
    def image_dir(self) -> Path:
        return self.folder / "img_align_celeba"

    def _attribute_names(self) -> list[str]:
        with open(self.attr_file) as f:
            f.readline()
            return f.readline().split()

    def _required(self) -> list[Path]:
        return [self.image_dir, self.partition_file] + ([self.attr_file] if self.condition_on else [])

    def _download(self) -> None:
        if all(p.exists() for p in self._required()):
            return
        from torchvision.datasets import CelebA

        try:
            CelebA(str(self.root), split="train", target_type="attr", download=True)
        except Exception as error:
            raise DatasetError(f"downloading CelebA into {self.folder.resolve()} failed ({error}). "
                               "Download img_align_celeba.zip, list_attr_celeba.txt and "
                               "list_eval_partition.txt by hand and unpack them there.") from error

    def _build_dataset(self) -> ImageFiles:
        if self.download:
            self._download()
        missing = [p for p in self._required() if not p.exists()]
        if missing:
            raise self._missing("celeba/", missing)
        with open(self.partition_file) as f:
            train = [parts[0] for parts in map(str.split, f) if len(parts) == 2 and parts[1] == "0"]
        if not train:
            raise DatasetError(f"{self.partition_file} lists no training images (split 0)")
        labels = [0] * len(train)
        if self.condition_on:
            labels = self._labels(train)
        decode = partial(load_image, channels=3, size=self.image_size, crop=self.crop)
        return ImageFiles([str(self.image_dir / name) for name in train], labels, decode,
                          skip_corrupt=self.skip_corrupt, description=f"CelebA {self.image_dir.resolve()}")

    def _labels(self, files: list[str]) -> list[int]:
        names = self._attribute_names()
        check_attributes(self.condition_on, names, str(self.attr_file))
        columns = [names.index(a) + 1 for a in self.condition_on]  # +1: the file name comes first
        wanted, labels = set(files), {}
        with open(self.attr_file) as f:
            f.readline(), f.readline()
            for line in f:
                parts = line.split()
                if parts and parts[0] in wanted:
                    if len(parts) != len(names) + 1:
                        raise DatasetError(f"{self.attr_file}: the line of {parts[0]} has {len(parts) - 1} "
                                           f"values, expected {len(names)}")
                    label = 0
                    for column in columns:
                        label = 2 * label + (parts[column] == "1")
                    labels[parts[0]] = label
        absent = [name for name in files if name not in labels]
        if absent:
            raise DatasetError(f"{self.attr_file} has no attributes for {len(absent)} training images "
                               f"(e.g. {absent[0]})")
        return [labels[name] for name in files]
