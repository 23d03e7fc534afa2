"""DataModules on tiny fake datasets written in each dataset's official on-disk layout, run through
the real loading code: shapes, ranges, labels, errors, resumable and rank-aware data order."""
import gzip
import pickle
import struct
import warnings
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import pytorch_lightning as pl
import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf
from PIL import Image

from ganlab import CONFIG_DIR
from ganlab.config_checks import ConfigError
from ganlab.data import (
    CelebADataModule,
    CIFAR10DataModule,
    DatasetError,
    DigitsDataModule,
    EpochShuffleSampler,
    GANDataLoader,
    ImageFolderDataModule,
    MNISTDataModule,
)
from ganlab.data.celeba import ATTRIBUTES

REPO = Path(__file__).resolve().parents[2]
REAL_DATA = REPO.parent / "shared" / "data"


def steps(loader) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """One pass of a training loader as the real batches of its D steps: each item holds
    (k, b, ...) real images and (k, b) labels; this returns its k batches (b, ...), (b,) in order."""
    return [(x[i], y[i]) for x, y in loader for i in range(x.shape[0])]


def first_step(loader) -> tuple[torch.Tensor, torch.Tensor]:
    x, y = next(iter(loader))
    return x[0], y[0]


def check_batch(x: torch.Tensor, y: torch.Tensor, batch_size: int, shape: tuple[int, int, int]) -> None:
    assert x.dtype == torch.float32 and tuple(x.shape) == (batch_size, *shape)
    assert y.dtype == torch.int64 and tuple(y.shape) == (batch_size,)
    assert x.min() >= -1 and x.max() <= 1


# --- MNIST ---------------------------------------------------------------------------------------
def write_idx(path: Path, array: np.ndarray, compress: bool = False) -> None:
    data = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    data += array.astype(np.uint8).tobytes()
    if compress:
        path = path.with_name(path.name + ".gz")
        data = gzip.compress(data)
    path.write_bytes(data)


def fake_mnist(root: Path, n: int = 40, compress: bool = False) -> tuple[np.ndarray, np.ndarray]:
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True)
    images = np.random.default_rng(0).integers(0, 256, (n, 28, 28), dtype=np.uint8)
    images[0] = 0  # all black: exactly -1
    images[1] = 255  # all white: exactly +1
    labels = np.arange(n) % 10
    write_idx(raw / "train-images-idx3-ubyte", images, compress)
    write_idx(raw / "train-labels-idx1-ubyte", labels, compress)
    return images, labels


@pytest.mark.parametrize("compress", [False, True])
def test_mnist_batches_match_the_files(tmp_path, compress):
    images, labels = fake_mnist(tmp_path, compress=compress)
    dm = MNISTDataModule(root=str(tmp_path), batch_size=8, num_workers=0)
    assert dm.image_shape == (1, 28, 28) and dm.num_classes == 10  # before setup
    assert dm.name == dm.cache_key == "mnist_1x28x28"
    loader = dm.train_dataloader()
    assert isinstance(loader.order, EpochShuffleSampler)
    batches = steps(loader)
    assert len(batches) == len(loader) == 5
    for x, y in batches:
        check_batch(x, y, 8, (1, 28, 28))
    x = torch.cat([b[0] for b in batches])
    y = torch.cat([b[1] for b in batches])
    # every image exactly once, with its own label, normalised as uint8 / 127.5 - 1
    flat = torch.from_numpy(images.reshape(len(images), -1)).float() / 127.5 - 1
    index = torch.cdist(x.flatten(1), flat).argmin(1)
    assert sorted(index.tolist()) == list(range(40))
    torch.testing.assert_close(x.flatten(1), flat[index], rtol=0, atol=1e-6)
    assert torch.equal(y, torch.from_numpy(labels)[index])
    assert x.min() == -1 and x.max() == 1


def test_mnist_resized_once_in_memory(tmp_path):
    images, _ = fake_mnist(tmp_path)
    dm = MNISTDataModule(root=str(tmp_path), image_size=56, batch_size=8, num_workers=0)
    assert dm.image_shape == (1, 56, 56) and dm.name == "mnist_1x56x56"
    x, y = first_step(dm.train_dataloader())
    check_batch(x, y, 8, (1, 56, 56))
    big = dm.train_dataset.images  # (40, 1, 56, 56) uint8; doubling: 2x2 blocks average back
    assert big.dtype == torch.uint8 and big.shape == (40, 1, 56, 56)
    back = torch.nn.functional.avg_pool2d(big.float(), 2)[:, 0]
    assert (back - torch.from_numpy(images).float()).abs().mean() < 30  # the same images, smoothed
    assert torch.equal(big[0], torch.zeros_like(big[0])) and torch.equal(big[1], torch.full_like(big[1], 255))


def test_mnist_missing_names_the_path_and_the_fix(tmp_path):
    dm = MNISTDataModule(root=str(tmp_path / "nowhere"))  # construction does not need the data
    assert dm.image_shape == (1, 28, 28)
    with pytest.raises(FileNotFoundError) as info:
        dm.setup("fit")
    message = str(info.value)
    assert str(tmp_path / "nowhere" / "MNIST" / "raw" / "train-images-idx3-ubyte") in message
    assert "data.root=" in message and "data.download=true" in message
    assert info.value.__cause__ is None and info.value.__context__ is None  # no chained traceback


def test_mnist_root_one_level_too_deep_gets_a_hint(tmp_path):
    fake_mnist(tmp_path)
    with pytest.raises(FileNotFoundError, match=f"use data.root={tmp_path}"):
        MNISTDataModule(root=str(tmp_path / "MNIST")).setup()


def test_mnist_truncated_file_is_named(tmp_path):
    fake_mnist(tmp_path)
    path = tmp_path / "MNIST" / "raw" / "train-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(DatasetError, match="train-images-idx3-ubyte is truncated"):
        MNISTDataModule(root=str(tmp_path)).setup()


# --- CIFAR-10 ------------------------------------------------------------------------------------
def fake_cifar10(root: Path, per_batch: int = 8) -> np.ndarray:
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(1)
    rows = []
    for i in range(1, 6):
        data = rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8)
        data[:, :1024] = 255  # the red plane first, then green and blue
        data[:, 1024:2048] = 0
        labels = [(i + k) % 10 for k in range(per_batch)]
        with open(folder / f"data_batch_{i}", "wb") as f:
            pickle.dump({b"batch_label": b"training batch", b"labels": labels, b"data": data,
                         b"filenames": [b"x.png"] * per_batch}, f)
        rows.append((data, labels))
    with open(folder / "batches.meta", "wb") as f:
        pickle.dump({b"label_names": [b"airplane"] * 10, b"num_cases_per_batch": per_batch}, f)
    return rows


def test_cifar10_layout_channels_and_labels(tmp_path):
    rows = fake_cifar10(tmp_path)
    dm = CIFAR10DataModule(root=str(tmp_path), batch_size=10, num_workers=0)
    assert dm.image_shape == (3, 32, 32) and dm.num_classes == 10 and dm.name == "cifar10_3x32x32"
    batches = steps(dm.train_dataloader())
    assert len(batches) == 4
    for x, y in batches:
        check_batch(x, y, 10, (3, 32, 32))
        assert (x[:, 0] == 1).all() and (x[:, 1] == -1).all()  # red plane = channel 0
    y = torch.cat([b[1] for b in batches])
    expected = sorted(label for _, labels in rows for label in labels)
    assert sorted(y.tolist()) == expected
    dataset = dm.train_dataset
    first = torch.from_numpy(rows[0][0][0].reshape(3, 32, 32)).float() / 127.5 - 1
    torch.testing.assert_close(dataset[0][0], first)


def test_cifar10_missing_names_the_path(tmp_path):
    with pytest.raises(FileNotFoundError) as info:
        CIFAR10DataModule(root=str(tmp_path)).setup()
    assert str(tmp_path / "cifar-10-batches-py" / "data_batch_1") in str(info.value)
    assert "data.download=true" in str(info.value)


# --- digits --------------------------------------------------------------------------------------
def test_digits_upscaled_in_memory():
    from sklearn.datasets import load_digits

    dm = DigitsDataModule(image_size=28, batch_size=64, num_workers=0)
    assert dm.image_shape == (1, 28, 28) and dm.num_classes == 10 and dm.name == "digits_1x28x28"
    loader = dm.train_dataloader()
    assert len(loader) == 1797 // 64
    x, y = first_step(loader)
    check_batch(x, y, 64, (1, 28, 28))
    assert set(dm.train_dataset.labels.tolist()) == set(range(10))
    # at 8x8 the images are the originals: 0..16 -> -1..1
    small = DigitsDataModule(image_size=8).train_dataset
    expected = torch.from_numpy(load_digits().images).float() / 16 * 255
    torch.testing.assert_close(small.images[:, 0].float(), expected.round(), rtol=0, atol=0)


# --- CelebA --------------------------------------------------------------------------------------
CELEBA_SPLITS = [0] * 8 + [1, 1, 2, 2]  # 8 training images


def celeba_level(k: int) -> int:
    return 20 + 18 * k  # image k is this gray level (all channels), so it is recognisable


def fake_celeba(root: Path) -> Path:
    folder = root / "celeba"
    (folder / "img_align_celeba").mkdir(parents=True)
    attr = [str(len(CELEBA_SPLITS)), " ".join(ATTRIBUTES) + " "]
    partition = []
    for k, split in enumerate(CELEBA_SPLITS):
        name = f"{k + 1:06d}.jpg"
        image = np.full((218, 178, 3), celeba_level(k), dtype=np.uint8)
        image[:20] = image[-20:] = (255, 0, 0)  # outside the centred 178x178 crop
        Image.fromarray(image).save(folder / "img_align_celeba" / name, quality=95)
        values = ["-1"] * 40
        values[ATTRIBUTES.index("Male")] = "1" if k % 2 else "-1"
        values[ATTRIBUTES.index("Smiling")] = "1" if (k // 2) % 2 else "-1"
        attr.append(f"{name} " + " ".join(f"{v:>2}" for v in values))
        partition.append(f"{name} {split}")
    (folder / "list_attr_celeba.txt").write_text("\n".join(attr) + "\n")
    (folder / "list_eval_partition.txt").write_text("\n".join(partition) + "\n")
    return folder


def identify_celeba(x: torch.Tensor) -> list[int]:
    levels = torch.tensor([celeba_level(k) / 127.5 - 1 for k in range(len(CELEBA_SPLITS))])
    return (x.mean(dim=(1, 2, 3))[:, None] - levels).abs().argmin(1).tolist()


def test_celeba_train_split_cropped_unlabeled(tmp_path):
    fake_celeba(tmp_path)
    dm = CelebADataModule(root=str(tmp_path), image_size=16, batch_size=8, num_workers=0)
    assert dm.image_shape == (3, 16, 16) and dm.num_classes == 0
    x, y = first_step(dm.train_dataloader())
    check_batch(x, y, 8, (3, 16, 16))
    assert (y == 0).all()
    assert sorted(identify_celeba(x)) == list(range(8))  # the training split, each image once
    assert (x[:, 0] - x[:, 1]).abs().max() < 0.05  # no red: the bands were cropped away


def test_celeba_condition_on_two_attributes(tmp_path):
    fake_celeba(tmp_path)
    dm = CelebADataModule(root=str(tmp_path), image_size=16, batch_size=8, num_workers=0,
                          condition_on=["Male", "Smiling"])
    assert dm.num_classes == 4
    assert dm.class_names == ["not_Male not_Smiling", "not_Male Smiling", "Male not_Smiling", "Male Smiling"]
    x, y = first_step(dm.train_dataloader())
    for k, label in zip(identify_celeba(x), y.tolist(), strict=True):
        male, smiling = k % 2, (k // 2) % 2
        assert label == 2 * male + smiling, (k, label)
    assert sorted(y.tolist()) == [0, 0, 1, 1, 2, 2, 3, 3]


@pytest.mark.parametrize("with_files", [True, False])
def test_celeba_unknown_attribute_fails_at_construction(tmp_path, with_files):
    if with_files:
        fake_celeba(tmp_path)
    with pytest.raises(ConfigError) as info:
        CelebADataModule(root=str(tmp_path), condition_on=["Male", "Smilling"])
    message = str(info.value)
    assert "data.condition_on" in message and "'Smilling'" in message
    assert "Did you mean Smiling" in message and "Arched_Eyebrows" in message


def test_celeba_missing_names_the_files(tmp_path):
    with pytest.raises(FileNotFoundError) as info:
        CelebADataModule(root=str(tmp_path)).setup()
    assert str(tmp_path / "celeba" / "img_align_celeba") in str(info.value)
    assert str(tmp_path / "celeba" / "list_eval_partition.txt") in str(info.value)


# --- image folder --------------------------------------------------------------------------------
RED, BLUE = (200, 0, 0), (0, 0, 200)


def fake_image_folder(root: Path) -> Path:
    (root / "cats").mkdir(parents=True)
    (root / "dogs" / "sub").mkdir(parents=True)
    (root / "dogs" / ".thumbs").mkdir()
    (root / ".hidden").mkdir()
    Image.new("RGB", (40, 30), RED).save(root / "cats" / "a.png")
    Image.new("RGB", (30, 50), RED).save(root / "cats" / "b.jpg", quality=95)
    Image.new("L", (20, 20), 200).save(root / "cats" / "gray.png")
    Image.new("RGBA", (30, 40), (*BLUE, 128)).save(root / "dogs" / "rgba.png")
    Image.new("RGB", (64, 64), BLUE).save(root / "dogs" / "sub" / "c.png")
    palette = Image.new("P", (24, 24), 1)
    palette.putpalette([0, 0, 0, *BLUE] + [0] * 762)
    palette.save(root / "dogs" / "palette.png", transparency=bytes([0, 128]))  # tRNS as bytes
    good = root / "cats" / "a.png"
    (root / "dogs" / "broken.jpg").write_bytes(good.read_bytes()[:60])  # truncated
    Image.new("RGB", (8, 8), RED).save(root / ".hidden" / "x.png")
    Image.new("RGB", (8, 8), RED).save(root / "dogs" / ".thumbs" / "x.png")
    (root / "dogs" / "notes.txt").write_text("not an image")
    return root


def is_red(x: torch.Tensor) -> torch.Tensor:
    return x[:, 0].mean(dim=(1, 2)) > 0  # (b,): red (or gray 200) images have a bright red channel


def test_image_folder_classes_modes_and_a_corrupt_file(tmp_path):
    root = fake_image_folder(tmp_path / "pets")
    dm = ImageFolderDataModule(root=str(root), image_size=16, batch_size=7, num_workers=0)
    assert dm.image_shape == (3, 16, 16)
    assert dm.num_classes == 2 and dm.class_names == ["cats", "dogs"]  # before setup
    assert dm._train is None
    assert len(dm.train_dataset) == 7  # hidden files and folders, and notes.txt, are not images
    loader = dm.train_dataloader()
    with pytest.warns(UserWarning, match=r"1 corrupt or unreadable image\(s\)") as record:
        batches = [batch for _ in range(2) for batch in steps(loader)]  # two epochs: still one warning
    (x, y), _ = batches
    assert len(record) == 1 and "broken.jpg" in str(record[0].message)  # and no other warning
    check_batch(x, y, 7, (3, 16, 16))
    assert torch.equal(is_red(x), y == 0)  # cats are red (or gray), dogs blue: labels follow folders
    assert sorted(y.tolist()) == [0, 0, 0, 1, 1, 1, 1]  # broken.jpg replaced by another dog


def test_image_folder_grayscale_channels(tmp_path):
    root = fake_image_folder(tmp_path / "pets")
    (root / "dogs" / "broken.jpg").unlink()
    dm = ImageFolderDataModule(root=str(root), image_size=12, channels=1, batch_size=6, num_workers=0)
    (x, y), = steps(dm.train_dataloader())
    check_batch(x, y, 6, (1, 12, 12))


@pytest.mark.parametrize("num_workers", [0, 1])
def test_image_folder_corrupt_file_is_an_error_without_skip(tmp_path, num_workers):
    root = fake_image_folder(tmp_path / "pets")
    dm = ImageFolderDataModule(root=str(root), image_size=8, batch_size=7, num_workers=num_workers,
                               persistent_workers=False, skip_corrupt=False)
    with pytest.raises(DatasetError) as info:
        list(dm.train_dataloader())
    message = str(info.value)
    assert str(root / "dogs" / "broken.jpg") in message and "data.skip_corrupt=true" in message
    assert "Traceback" not in message  # raised in the main process, also with workers


def test_image_folder_corrupt_file_found_by_a_worker_warns_once(tmp_path):
    root = fake_image_folder(tmp_path / "pets")
    (root / "cats" / "garbage.png").write_bytes(b"\x00garbage" * 10)
    dm = ImageFolderDataModule(root=str(root), image_size=8, batch_size=8, num_workers=1,
                               persistent_workers=False)
    with pytest.warns(UserWarning, match=r"2 corrupt or unreadable image\(s\)") as record:
        (x, y), = steps(dm.train_dataloader())
    assert len([w for w in record if "corrupt" in str(w.message)]) == 1
    check_batch(x, y, 8, (3, 8, 8))


def test_corrupt_files_found_one_by_one_warn_once(tmp_path, caplog):
    root = fake_image_folder(tmp_path / "pets")
    (root / "cats" / "garbage.png").write_bytes(b"\x00garbage" * 10)
    dm = ImageFolderDataModule(root=str(root), image_size=8, batch_size=1, num_workers=0)
    with pytest.warns(UserWarning, match="corrupt") as record:
        batches = steps(dm.train_dataloader())
    assert len(batches) == 8 and len(record) == 1
    assert "2 corrupt or unreadable images" in caplog.text  # the total, logged at the end of the pass


def test_image_folder_unlabeled(tmp_path):
    for i in range(3):
        Image.new("RGB", (10, 10), RED).save(tmp_path / f"{i}.png")
    dm = ImageFolderDataModule(root=str(tmp_path), image_size=8, batch_size=3, num_workers=0)
    assert dm.num_classes == 0 and dm.class_names == []
    (_, y), = steps(dm.train_dataloader())
    assert (y == 0).all()
    # a single subfolder is not a labelling either; its images and those beside it all count
    (tmp_path / "only").mkdir()
    Image.new("RGB", (10, 10), BLUE).save(tmp_path / "only" / "x.png")
    dm = ImageFolderDataModule(root=str(tmp_path), image_size=8)
    assert dm.num_classes == 0 and len(dm.train_dataset) == 4


def test_image_folder_empty_or_missing_names_the_path(tmp_path):
    (tmp_path / "empty" / "sub").mkdir(parents=True)
    (tmp_path / "empty" / "readme.txt").write_text("no images")
    with pytest.raises(FileNotFoundError, match=f"{tmp_path / 'empty'} contains no images"):
        _ = ImageFolderDataModule(root=str(tmp_path / "empty")).num_classes
    with pytest.raises(FileNotFoundError, match=f"{tmp_path / 'missing'} does not exist"):
        _ = ImageFolderDataModule(root=str(tmp_path / "missing")).num_classes


def test_image_folder_cache_key_names_the_folder(tmp_path):
    a = fake_image_folder(tmp_path / "a" / "pets")
    b = fake_image_folder(tmp_path / "b" / "pets")
    key_a = ImageFolderDataModule(root=str(a), image_size=16).cache_key
    key_b = ImageFolderDataModule(root=str(b), image_size=16).cache_key
    assert key_a != key_b and key_a.startswith("image_folder_pets_") and key_a.endswith("_3x16x16")
    assert "/" not in key_a
    assert key_a == ImageFolderDataModule(root=str(tmp_path / "a" / ".." / "a" / "pets"), image_size=16).cache_key


# --- data order: resume and ranks ----------------------------------------------------------------
def test_resume_mid_epoch_gives_the_remaining_batches():
    def loader():
        return DigitsDataModule(image_size=8, batch_size=16, num_workers=0, seed=7).train_dataloader()

    per_pass = 1797 // 16
    straight = loader()
    first_pass = list(straight)
    iterator = iter(straight)
    for _ in range(30):
        next(iterator)
    state = straight.state_dict()
    assert state == {"epoch": 1, "batches_seen": 30}
    rest, next_pass = list(iterator), list(straight)

    resumed = loader()
    resumed.load_state_dict(state)
    resumed.order.set_epoch(5)  # Lightning's epoch counter does not decide the order
    again = list(resumed)
    assert len(again) == len(rest) == per_pass - 30
    for (x1, y1), (x2, y2) in zip(rest, again, strict=True):
        assert torch.equal(x1, x2) and torch.equal(y1, y2)
    assert resumed.state_dict() == {"epoch": 1, "batches_seen": per_pass}
    after = list(resumed)  # the next pass is whole again, the same as the straight run's
    assert len(after) == per_pass and all(torch.equal(a[0], b[0]) for a, b in zip(after, next_pass, strict=True))
    assert not torch.equal(first_pass[0][0], next_pass[0][0])  # a new permutation each pass

    finished = loader()  # a state at the end of a pass resumes at the start of the next one
    finished.load_state_dict({"epoch": 1, "batches_seen": per_pass})
    assert torch.equal(next(iter(finished))[0], next_pass[0][0])


def test_starting_a_pass_leaves_the_global_rng_alone():
    # a plain DataLoader draws a seed from torch's global RNG at every iter(): a resumed run, which
    # starts a pass at another step, would then draw different noise
    loader = DigitsDataModule(image_size=8, batch_size=16, num_workers=0).train_dataloader()
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    next(iter(loader))
    assert torch.equal(torch.rand(3), expected)


class StopAt(pl.Callback):
    """Stops after `steps` optimiser steps the way ganlab does (trainer.should_stop, mid-epoch) and
    saves a checkpoint at step `save_at` (from on_train_batch_end, mid-epoch) or at the end."""

    def __init__(self, steps: int, ckpt: Path | None = None, save_at: int | None = None):
        self.steps, self.ckpt, self.save_at = steps, ckpt, save_at

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if self.ckpt is not None and trainer.global_step == self.save_at:
            trainer.save_checkpoint(self.ckpt)
        if trainer.global_step >= self.steps:
            trainer.should_stop = True

    def on_train_end(self, trainer, pl_module):
        if self.ckpt is not None and self.save_at is None:
            trainer.save_checkpoint(self.ckpt)


def fit_digits(tmp_path: Path, stop: StopAt, resume: Path | None = None) -> list:
    module = Recorder()
    trainer = pl.Trainer(accelerator="cpu", max_epochs=-1, logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False, default_root_dir=tmp_path,
                         callbacks=[stop])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        trainer.fit(module, datamodule=DigitsDataModule(image_size=8, batch_size=16, num_workers=0, seed=0),
                    ckpt_path=resume)
    return module.seen


@pytest.mark.parametrize("saved", ["at_the_end", "mid_epoch"])
def test_resume_through_lightning_across_an_epoch_boundary(tmp_path, saved):
    # 112 batches a pass; a checkpoint at step 70, resumed to 140. Saved at the end of a run stopped
    # by should_stop, Lightning records a finished epoch; saved mid-epoch, Lightning restarts it.
    ckpt = tmp_path / "70.ckpt"
    straight = fit_digits(tmp_path, StopAt(140))
    if saved == "at_the_end":
        assert fit_digits(tmp_path, StopAt(70, ckpt)) == straight[:70]
    else:
        fit_digits(tmp_path, StopAt(80, ckpt, save_at=70))
    assert fit_digits(tmp_path, StopAt(140), resume=ckpt) == straight[70:]


def test_sampler_shards_disjoint_equal_parts():
    n, world = 103, 4
    shares = [list(EpochShuffleSampler(n, seed=1, rank=r, world_size=world)) for r in range(world)]
    assert all(len(s) == n // world == len(EpochShuffleSampler(n, rank=r, world_size=world))
               for r, s in enumerate(shares))
    flat = [i for s in shares for i in s]
    assert len(set(flat)) == len(flat) and set(flat) <= set(range(n))
    single = list(EpochShuffleSampler(n, seed=1))
    assert shares[1] == single[1::world][: n // world]  # every rank cuts the same permutation
    other_epoch = EpochShuffleSampler(n, seed=1, rank=0, world_size=world)
    other_epoch.set_epoch(1)
    assert list(other_epoch) != shares[0]


def test_dataloader_follows_the_process_group(monkeypatch):
    import torch.distributed as dist

    monkeypatch.setattr(dist, "is_initialized", lambda: True)
    monkeypatch.setattr(dist, "get_world_size", lambda *a, **k: 2)
    indices = {}
    for rank in (0, 1):
        monkeypatch.setattr(dist, "get_rank", lambda *a, rank=rank, **k: rank)
        loader = DigitsDataModule(image_size=8, batch_size=16, num_workers=0, seed=0).train_dataloader()
        assert len(loader.order) == 1797 // 2 and len(loader) == (1797 // 2) // 16
        indices[rank] = [i for batch in loader.batch_sampler for i in batch]
    assert not set(indices[0]) & set(indices[1])
    assert len(indices[0]) == len(indices[1]) == (1797 // 2) // 16 * 16


def test_refuses_lightnings_distributed_sampler():
    dm = DigitsDataModule(image_size=8, num_workers=0)
    dm.trainer = SimpleNamespace(world_size=2, _accelerator_connector=SimpleNamespace(use_distributed_sampler=True))
    with pytest.raises(ConfigError, match="trainer.use_distributed_sampler=false"):
        dm.train_dataloader()
    dm.trainer._accelerator_connector.use_distributed_sampler = False
    dm.trainer.strategy = SimpleNamespace(root_device=torch.device("cpu"))
    assert isinstance(dm.train_dataloader(), GANDataLoader)


def test_batch_larger_than_dataset_is_a_clear_error(tmp_path):
    fake_mnist(tmp_path, n=10)
    with pytest.raises(ConfigError, match="data.batch_size=16 is larger than the 10 training images"):
        MNISTDataModule(root=str(tmp_path), batch_size=16, num_workers=0).train_dataloader()


# --- real images for metrics, on_device, Lightning --------------------------------------------
def test_real_images_are_deterministic(tmp_path):
    dm = DigitsDataModule(image_size=16, num_workers=0)
    a, b, c = dm.real_images(100, seed=0), dm.real_images(100, seed=0), dm.real_images(100, seed=1)
    assert a.shape == (100, 1, 16, 16) and a.dtype == torch.float32 and a.min() >= -1 and a.max() <= 1
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert torch.equal(dm.real_images(10, seed=0), a[:10])
    with pytest.warns(UserWarning, match="images repeat"):
        assert dm.real_images(2000).shape[0] == 2000
    root = fake_image_folder(tmp_path / "pets")
    (root / "dogs" / "broken.jpg").unlink()
    folder = ImageFolderDataModule(root=str(root), image_size=8, num_workers=0)
    torch.testing.assert_close(folder.real_images(5, seed=3), folder.real_images(5, seed=3))
    assert folder.real_images(6).shape == (6, 3, 8, 8)


def test_on_device_gives_the_same_batches():
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    plain = DigitsDataModule(image_size=8, batch_size=32, num_workers=2, seed=0)
    moved = DigitsDataModule(image_size=8, batch_size=32, num_workers=2, seed=0, on_device=True)
    moved.trainer = SimpleNamespace(world_size=1, strategy=SimpleNamespace(root_device=device))
    loader = moved.train_dataloader()
    if device.type == "cuda":
        assert loader.num_workers == 0 and moved.train_dataset.images.device.type == "cuda"
    plain_loader = plain.train_dataloader()
    plain_loader.num_workers = 0  # same batches, without starting processes
    for (x1, y1), (x2, y2), _ in zip(plain_loader, loader, range(5), strict=False):
        assert x2.device.type == device.type
        torch.testing.assert_close(x1, x2.cpu())
        assert torch.equal(y1, y2.cpu())


class Recorder(pl.LightningModule):
    def __init__(self):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.zeros(1))
        self.batches = []
        self.seen = []  # a fingerprint of every batch

    def training_step(self, batch, batch_idx):
        x, y = batch  # (k, b, c, h, w), (k, b)
        self.batches.append((tuple(x.shape), tuple(y.shape), x.dtype, y.dtype))
        x = x.flatten(0, 1)  # the k batches in order
        self.seen.append(round(float((x.flatten(1).sum(1) * torch.arange(1, len(x) + 1)).sum()), 3))
        return (self.weight * x.mean()).sum()

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


@pytest.mark.parametrize("k", [1, 3])
def test_lightning_uses_our_loader_unchanged(tmp_path, k):
    """One Lightning batch is one generator iteration: the k real batches of its D steps."""
    dm = DigitsDataModule(image_size=8, batch_size=32, num_workers=0, batches_per_iteration=k)
    module = Recorder()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        trainer = pl.Trainer(accelerator="cpu", max_steps=3, logger=False, enable_checkpointing=False,
                             enable_progress_bar=False, enable_model_summary=False, default_root_dir=tmp_path)
        trainer.fit(module, datamodule=dm)
    assert isinstance(trainer.train_dataloader, GANDataLoader)
    assert isinstance(trainer.train_dataloader.order, EpochShuffleSampler)
    assert module.batches == [((k, 32, 1, 8, 8), (k, 32), torch.float32, torch.int64)] * 3
    assert len(trainer.train_dataloader) == 1797 // 32 // k  # iterations per pass


# --- configs -------------------------------------------------------------------------------------
@pytest.mark.parametrize("path", sorted((CONFIG_DIR / "data").glob("*.yaml")), ids=lambda p: p.stem)
def test_data_configs_instantiate(tmp_path, path):
    cfg = OmegaConf.create({"paths": {"data_dir": str(tmp_path)}, "data": OmegaConf.load(path)})
    dm = instantiate(cfg.data)
    assert isinstance(dm, pl.LightningDataModule) and type(dm).__name__ in path.read_text()
    if len(dm.image_shape) == 1:  # point data (2-D mixtures): PacGAN's batches of 100
        assert dm.image_shape == (2,) and dm.batch_size == 100
    else:  # images (c, h, w)
        assert len(dm.image_shape) == 3 and dm.batch_size == 64
    assert 5 <= len(path.read_text().splitlines()) <= 30


# --- the real MNIST, where it is available -----------------------------------------------------
def test_real_mnist():
    if not (REAL_DATA / "MNIST" / "raw").is_dir():
        pytest.skip(f"no real MNIST at {REAL_DATA}")
    dm = MNISTDataModule(root=str(REAL_DATA), batch_size=64, num_workers=0)
    loader = dm.train_dataloader()
    assert len(dm.train_dataset) == 60000 and len(loader) == 937
    x, y = first_step(loader)
    check_batch(x, y, 64, (1, 28, 28))
    images = dm.train_dataset.images
    assert abs(images.float().mean().item() / 255 - 0.1307) < 1e-3  # the well-known MNIST mean
    assert torch.bincount(dm.train_dataset.labels).tolist()[1] == 6742  # ones in the training set
