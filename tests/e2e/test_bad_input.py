"""Bad input raised after Hydra has composed the config (a value, a dataset, an output directory, a
checkpoint for sample.py): one `error: ...` message on stderr, exit status 2, no traceback.

These run in-process, through what train.py and sample.py run after composing: `report_errors`
around `run(cfg)` / `sample(cfg)`, on the config composed from the same overrides. What only a
separate process shows (Hydra's own errors, the checks made before Hydra starts, exit statuses
through the real entry point, signals) stays in test_reliability.py, test_train_cli.py and
test_startup.py.
"""
from pathlib import Path

import pytest
import torch

from ganlab.sample import sample
from ganlab.train import run

from helpers import compose_config
from helpers.errors import check_message, user_error
from helpers.files import write_images

# test_reliability.BASE: a tiny DCGAN; TINY on the bundled digits; FOLDER on an image folder.
BASE = ["trainer=cpu", "data.batch_size=16", "data.num_workers=0", "model.latent_dim=8", "model.generator.width=8",
        "model.discriminator.width=8", "trainer.enable_progress_bar=false", "log_every_n=1",
        "iterations=2"]  # (a check that no longer fires trains for two iterations, not for the default budget)
TINY = ["data=digits", "data.image_size=28", *BASE]
FOLDER = ["data=image_folder", "data.image_size=28", "data.channels=1", *BASE]

# name -> (overrides, fragments stderr must hold); {tmp}: the module's directory.
TRAIN = {
    "unbuildable_image_size": ([*BASE, "data=digits", "data.image_size=9"],
                               ["error: model.generator (DCGANGenerator): image size 9", "(data.image_size)"]),
    "conditioning_without_labels": ([*FOLDER, "data.root={tmp}/flat", "conditioning=concat"],
                                    ["error: the chosen conditioning needs class labels"]),
    "celeba_unknown_attribute": ([*BASE, "data=celeba", "data.root={tmp}/none", "data.condition_on=[Smilling]"],
                                 ["error: data.condition_on: CelebA has no attribute 'Smilling'", "Smiling"]),
    "missing_dataset": ([*BASE, "data=mnist", "data.root={tmp}/none"],
                        ["error: MNIST not found: expected", "{tmp}/none/MNIST/raw", "data.download=true"]),
    "empty_image_folder": ([*FOLDER, "data.root={tmp}/empty"], ["error: image folder {tmp}/empty contains no images"]),
    "corrupt_image_refused": ([*FOLDER, "data.root={tmp}/corrupt", "data.skip_corrupt=false"],
                              ["error: corrupt or unreadable image {tmp}/corrupt/img_1"]),
    "unwritable_output_dir": ([*TINY, "paths.output_dir=/proc/ganlab_test/run"],
                              ["error: cannot write the output directory /proc/ganlab_test/run (paths.output_dir)"]),
    "negative_seed": ([*TINY, "seed=-1"], ["error: seed must be an integer in [0, 4294967295], got -1"]),
    "zero_latent_dim": ([*TINY, "model.latent_dim=0"], ["error: model.latent_dim must be a positive integer, got 0"]),
    "undecodable_image_folder": ([*FOLDER, "data.root={tmp}/undecodable"],
                                 ["error: image folder {tmp}/undecodable: none of its 16 image files can be decoded"]),
    "zero_iterations": ([*TINY, "iterations=0"], ["iterations must be a positive integer"]),
    "negative_batch_size": ([*TINY, "data.batch_size=-1"], ["data.batch_size"]),
    # values a callback or a metric checks itself: its config key, once
    "one_metrics_sample": ([*TINY, "callbacks/metrics=random_features", "callbacks.metrics.num_samples=1"],
                           ["error: callbacks.metrics.num_samples must be an integer >= 2, got 1"]),
    "zero_kid_subsets": ([*TINY, "callbacks/metrics=random_features", "callbacks.metrics.scores.kid.subsets=0"],
                         ["error: callbacks.metrics.scores.kid.subsets must be a positive integer, got 0"]),
    "zero_lr_halving_window": ([*TINY, "+callbacks.lr_halving._target_=ganlab.callbacks.HalveLearningRateOnStall",
                                "+callbacks.lr_halving.window=0"],
                               ["error: callbacks.lr_halving.window must be a positive integer, got 0"]),
}
# sample.py, from a checkpoint of a tiny run (the `trained` fixture)
SAMPLE = {
    "sample_non_positive_num_samples": (["ckpt_path={ckpt}", "num_samples=0", "out={tmp}/samples.npz"],
                                        ["error: num_samples must be a positive integer, got 0"]),
    "sample_out_under_a_file": (["ckpt_path={ckpt}", "out={tmp}/a_file/samples.npz"],
                                ["error: out={tmp}/a_file/samples.npz: {tmp}/a_file is a file, not a directory"]),
    "sample_more_than_the_disk_holds": (["ckpt_path={ckpt}", "num_samples=1000000000000", "out={tmp}/huge.npz"],
                                        ["error: num_samples=1000000000000 needs about 784.0 TB", "Ask for fewer"]),
    "sample_no_such_checkpoint": (["ckpt_path=/nonexistent.ckpt"], ["no such file"]),
    "sample_not_a_ganlab_checkpoint": (["ckpt_path={tmp}/other.ckpt"], ["not a ganlab checkpoint"]),
}
# Asking for a GPU on a machine without one (skipped where there is one).
NO_GPU = {
    "train_on_gpu": ("train", [*TINY, "trainer=gpu"],
                     "error: trainer.accelerator=gpu: this machine has no GPU (PyTorch sees no CUDA device); use trainer=cpu"),
    "sample_on_cuda": ("sample", ["ckpt_path={ckpt}", "device=cuda"],
                       "error: device=cuda: this machine has no GPU (PyTorch sees no CUDA device); use device=cpu"),
}


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("bad_input")
    write_images(tmp / "flat", 16)
    write_images(tmp / "corrupt", 16, corrupt=2)
    write_images(tmp / "undecodable", 16, corrupt=16)
    (tmp / "empty").mkdir()
    (tmp / "a_file").write_text("not a directory")
    torch.save({"state_dict": {}}, tmp / "other.ckpt")
    return tmp


@pytest.fixture(scope="module")
def trained(files) -> Path:
    """The last checkpoint of a one-iteration run on the digits."""
    run(compose_config(*TINY, "iterations=1", "logger=none", output_dir=files / "trained"))
    return files / "trained" / "checkpoints" / "last.ckpt"


@pytest.mark.parametrize("name", list(TRAIN))
def test_bad_training_input_is_one_clear_message(files, name, capsys):
    overrides, fragments = TRAIN[name]
    overrides = [o.replace("{tmp}", str(files)) for o in overrides]
    output_dir = None if any(o.startswith("paths.output_dir=") for o in overrides) else files / name
    stderr = user_error(run, compose_config(*overrides, output_dir=output_dir), capsys)
    check_message(stderr, fragments, tmp=files)
    if name == "zero_latent_dim":  # refused before a TensorBoard run exists
        assert not (files / name / "tensorboard").exists()


@pytest.mark.parametrize("name", list(SAMPLE))
def test_bad_sampling_input_is_one_clear_message(files, trained, name, capsys):
    overrides, fragments = SAMPLE[name]
    overrides = [o.replace("{tmp}", str(files)).replace("{ckpt}", str(trained)) for o in overrides]
    stderr = user_error(sample, compose_config(*overrides, config_name="sample"), capsys)
    check_message(stderr, fragments, tmp=files)


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
@pytest.mark.parametrize("name", list(NO_GPU))
def test_a_gpu_on_a_machine_without_one_says_what_to_use(files, trained, name, capsys):
    script, overrides, message = NO_GPU[name]
    overrides = [o.replace("{ckpt}", str(trained)) for o in overrides]
    if script == "train":
        stderr = user_error(run, compose_config(*overrides, output_dir=files / name), capsys)
    else:
        stderr = user_error(sample, compose_config(*overrides, config_name="sample"), capsys)
    check_message(stderr, [message])
