"""Conditional GANs as a user runs them: a tiny conditional run, class-conditional sampling, and the
clear errors for conditioning without labels and for classes the model does not have."""
import numpy as np
import pytest
import torch
from PIL import Image

from ganlab.sample import sample
from ganlab.train import run

from helpers import compose_config
from helpers.errors import check_message, user_error
from tests.e2e.test_train_cli import TINY, run_script, train


@pytest.fixture(scope="module")
def conditional_run(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("cgan") / "run"
    train(run_dir, "conditioning=concat", "iterations=3", "callbacks.sample_grid.every_n=3",
          "callbacks.sample_grid.num_samples=20")
    return run_dir


def test_conditional_run_writes_a_class_grid(conditional_run):
    checkpoint = torch.load(conditional_run / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)
    assert checkpoint["ganlab_run"]["num_classes"] == 10
    assert any(k.startswith("generator.label.") for k in checkpoint["state_dict"])
    grid = Image.open(conditional_run / "samples" / "iter_0000003.png")
    # one row per class (10), 20 // 10 = 2 -> at least 4 columns of 28 px images with 2 px padding
    assert grid.size == (2 + 4 * 30, 2 + 10 * 30)


@pytest.mark.parametrize("labels, expected", [
    (None, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]),
    ("3", [3] * 12),
    ("[0,1,2]", [0, 1, 2] * 4),
])
def test_sample_asks_for_classes(tmp_path, conditional_run, labels, expected):
    out = tmp_path / "x.npz"
    overrides = [] if labels is None else [f"labels={labels}"]
    run_script("sample.py", f"ckpt_path={conditional_run / 'checkpoints' / 'last.ckpt'}", "num_samples=12",
               f"out={out}", *overrides)
    arrays = np.load(out)
    assert arrays["x"].shape == (12, 28, 28, 1)
    assert arrays["y"].tolist() == expected


def test_fixed_noise_other_class_other_image(tmp_path, conditional_run):
    ckpt = f"ckpt_path={conditional_run / 'checkpoints' / 'last.ckpt'}"
    run_script("sample.py", ckpt, "num_samples=4", "labels=1", f"out={tmp_path / 'a.npz'}")
    run_script("sample.py", ckpt, "num_samples=4", "labels=2", f"out={tmp_path / 'b.npz'}")
    assert not np.array_equal(np.load(tmp_path / "a.npz")["x"], np.load(tmp_path / "b.npz")["x"])


def test_a_class_the_model_lacks_is_one_clear_message(conditional_run, capsys):
    cfg = compose_config(f"ckpt_path={conditional_run / 'checkpoints' / 'last.ckpt'}", "labels=12",
                         config_name="sample")
    check_message(user_error(sample, cfg, capsys), ["labels must be a class index"])


def test_conditioning_without_labels_stops_at_start(tmp_path, capsys):
    images = tmp_path / "flat"
    images.mkdir()
    for i in range(4):  # an image folder without class subfolders: no labels
        Image.fromarray(np.full((28, 28), 40 * i, dtype=np.uint8)).save(images / f"{i}.png")
    overrides = [o for o in TINY if not o.startswith("data")]
    cfg = compose_config(*overrides, "data=image_folder", f"data.root={images}", "data.image_size=28",
                         "data.channels=1", "data.batch_size=2", "data.num_workers=0", "conditioning=projection",
                         "iterations=2", output_dir=tmp_path / "run")
    check_message(user_error(run, cfg, capsys), ["needs class labels", "conditioning=none"])
