"""The "Extending ganlab" guide (docs/extending.md) as a user follows it: a package of their own
(examples/my_extension/my_ext: a loss, a network family, a DataModule, a metric) and a config directory
(examples/my_extension/conf), used by ganlab's train.py without changing ganlab.

One run of train.py as the guide shows it (`--config-dir`, the package on PYTHONPATH) trains all four
together; each extension alone composes with ganlab's own options (`hydra.searchpath`) and trains
in-process; the example metric and loss give known values."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from ganlab.train import run

from helpers import compose_config

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "my_extension"
SMALL = ["trainer.enable_progress_bar=false", "data.num_workers=0", "data.batch_size=16",
         "callbacks.sample_grid.every_n=2", "callbacks.sample_grid.num_samples=4"]


@pytest.fixture
def my_ext(monkeypatch):
    """The user's package importable, as PYTHONPATH=examples/my_extension makes it."""
    monkeypatch.syspath_prepend(str(EXAMPLE))


def test_the_guide_s_command_trains_all_four_extensions(tmp_path):
    run_dir = tmp_path / "run"
    env = {**os.environ, "OMP_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(EXAMPLE), os.environ.get("PYTHONPATH")]))}
    result = subprocess.run(
        [sys.executable, "train.py", "--config-dir", str(EXAMPLE / "conf"), "experiment=my_extension",
         "iterations=4", "callbacks.metrics.every_n=2", "callbacks.metrics.num_samples=64",
         "callbacks.metrics.scores.kid.subsets=5", f"callbacks.metrics.cache_dir={tmp_path / 'cache'}",
         f"hydra.run.dir={run_dir}", *SMALL],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-5000:]
    config = torch.load(run_dir / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)[
        "ganlab_run"]["config"]
    assert config["loss"]["objective"]["_target_"] == "my_ext.losses.PearsonChiSquaredLoss"
    assert config["model"]["generator"]["_target_"] == "my_ext.networks.ResizeConvGenerator"
    assert config["data"]["_target_"] == "my_ext.data.ShapesDataModule"
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["iterations"] == 4
    assert {"final/fid", "final/one_nn_accuracy", "final/one_nn_real", "final/one_nn_fake"} <= set(metrics)
    assert 0.0 <= metrics["final/one_nn_accuracy"] <= 1.0
    assert (run_dir / "samples" / "iter_0000004.png").is_file()
    assert list((tmp_path / "cache").glob("shapes_1x16x16_2048_drawn_from_seed0__n64_seed0__RandomConvFeatures-*.pt"))

    # the checkpoint names the config directory; a resume that leaves it out is refused with the command
    last = run_dir / "checkpoints" / "last.ckpt"
    refused = subprocess.run([sys.executable, "train.py", f"ckpt_path={last}", "iterations=6"], cwd=REPO, env=env,
                             capture_output=True, text=True, timeout=300)
    assert refused.returncode == 2, refused.stderr[-3000:]  # a config error
    assert (f"error: ckpt_path={last} was written by a run started with the config directory --config-dir "
            f"{EXAMPLE / 'conf'}, which this command line does not add; resume with: python train.py --config-dir "
            f"{EXAMPLE / 'conf'} iterations=6 ckpt_path={last}") in refused.stderr
    assert json.loads((run_dir / "metrics.json").read_text())["iterations"] == 4  # untouched


@pytest.mark.slow
def test_a_run_with_a_config_directory_resumes_with_it_and_says_so_when_stopped(tmp_path):
    run_dir = tmp_path / "run"
    env = {**os.environ, "OMP_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(EXAMPLE), os.environ.get("PYTHONPATH")]))}
    start = [sys.executable, "train.py", "--config-dir", str(EXAMPLE / "conf"), "model=resize_conv", "loss=pearson",
             "data=digits", "data.image_size=12", "model.generator.width=4", "model.discriminator.width=4",
             f"hydra.run.dir={run_dir}", *SMALL]
    first = subprocess.run([*start, "iterations=2"], cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stderr[-5000:]
    last = run_dir / "checkpoints" / "last.ckpt"
    resumed = subprocess.run([sys.executable, "train.py", "--config-dir", str(EXAMPLE / "conf"), f"ckpt_path={last}",
                              "iterations=10", "trainer.max_time=0"],
                             cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-5000:]
    # stopped by its time limit at once: the command it prints to continue adds the config directory again
    assert f"continue with: python train.py --config-dir {EXAMPLE / 'conf'} ckpt_path={last}" in resumed.stdout + resumed.stderr


@pytest.mark.parametrize("overrides", [
    ["loss=pearson", "data=digits", "data.image_size=16", "model=mlp", "model.generator.hidden=[16]",
     "model.discriminator.hidden=[16]"],
    ["model=resize_conv", "data=digits", "data.image_size=12", "loss=hinge", "model.generator.width=4",
     "model.discriminator.width=4"],
    ["data=shapes", "model=dcgan", "model.generator.width=4", "model.discriminator.width=4", "conditioning=acgan"],
    ["callbacks/metrics=random_features_1nn", "data=shapes", "model=mlp", "model.generator.hidden=[16]",
     "model.discriminator.hidden=[16]", "callbacks.metrics.num_samples=32", "callbacks.metrics.every_n=2",
     "callbacks.metrics.scores.kid.subsets=2", "callbacks.metrics.cache_dir=null"],
], ids=["loss", "model", "data", "metric"])
def test_each_extension_alone_composes_with_ganlab_s_options_and_trains(my_ext, tmp_path, overrides):
    cfg = compose_config(f"hydra.searchpath=[file://{EXAMPLE / 'conf'}]", "trainer=cpu", "logger=none",
                         "iterations=2", "model.latent_dim=8", *SMALL, *overrides, output_dir=tmp_path)
    result = run(cfg)
    assert result["iterations"] == 2
    if "callbacks/metrics=random_features_1nn" in overrides:
        assert {"final/fid", "final/one_nn_accuracy"} <= set(result)


def test_the_example_metric_and_loss_give_known_values(my_ext):
    from my_ext.data import ShapesDataModule
    from my_ext.losses import PearsonChiSquaredLoss
    from my_ext.metrics import OneNearestNeighbourAccuracy

    from ganlab.metrics import Features
    from ganlab.networks import DOut

    g = torch.Generator().manual_seed(0)
    real = Features(torch.randn(200, 4, generator=g), None)
    metric = OneNearestNeighbourAccuracy()
    apart = metric.compute(real, Features(torch.randn(200, 4, generator=g) + 100.0, None), None)
    assert apart == {"one_nn_accuracy": 1.0, "one_nn_real": 1.0, "one_nn_fake": 1.0}  # separable: always right
    alike = metric.compute(real, Features(torch.randn(200, 4, generator=g), None), None)
    assert abs(alike["one_nn_accuracy"] - 0.5) < 0.1  # one distribution: a coin toss

    loss = PearsonChiSquaredLoss()
    score = lambda *values: DOut(score=torch.tensor(values))  # noqa: E731
    # D's optimum T = 2 (p/q - 1): with p = q (T = 0 on both) the bound, and the loss, is 0
    assert float(loss.discriminator_loss(score(0.0, 0.0), score(0.0, 0.0))) == 0.0
    assert float(loss.discriminator_loss(score(1.0), score(2.0))) == pytest.approx(-(1.0 - (4 / 4 + 2)))
    assert float(loss.generator_loss(score(1.0, 3.0))) == pytest.approx(-2.0)

    images, labels = ShapesDataModule()._load()
    assert images.shape == (2048, 1, 16, 16) and images.dtype == torch.uint8
    assert labels.bincount().tolist() == [1024, 1024]
    assert set(images.unique().tolist()) == {0, 255}


def test_the_guide_quotes_the_example_files_as_they_are():
    """Every code block of docs/extending.md that starts with `# examples/...` is a verbatim part of
    that file, so the guide shows the code the tests above run."""
    import re

    guide = (REPO / "docs" / "extending.md").read_text()
    quoted = re.findall(r"```(?:python|yaml)\n# (examples/\S+)\n(.*?)```", guide, flags=re.S)
    assert {path for path, _ in quoted} >= {
        "examples/my_extension/my_ext/losses.py", "examples/my_extension/my_ext/networks.py",
        "examples/my_extension/my_ext/data.py", "examples/my_extension/my_ext/metrics.py",
        "examples/my_extension/conf/loss/pearson.yaml", "examples/my_extension/conf/model/resize_conv.yaml",
        "examples/my_extension/conf/data/shapes.yaml",
        "examples/my_extension/conf/callbacks/metrics/random_features_1nn.yaml"}
    for path, code in quoted:
        assert code.strip() in (REPO / path).read_text(), f"docs/extending.md quotes {path} as it no longer is"
