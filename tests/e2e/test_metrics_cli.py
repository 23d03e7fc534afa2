"""Metrics, EMA and interpolation through train.py and sample.py, as a user runs them."""
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from .test_train_cli import run_script

# A tiny DCGAN on the bundled digits (as test_train_cli.TINY; `++` sets the progress-bar key whether
# or not the trainer config declares it).
TINY = [
    "data=digits", "trainer=cpu", "data.batch_size=16", "data.num_workers=0", "data.image_size=28",
    "model.latent_dim=8", "model.generator.width=8", "model.discriminator.width=8",
    "++trainer.enable_progress_bar=false", "log_every_n=1",
]
# FID/KID/IS through the small random feature network (no download), every 2 iterations.
METRICS = [
    "callbacks/metrics=random_features", "callbacks.metrics.every_n=2", "callbacks.metrics.num_samples=64",
    "callbacks.metrics.batch_size=32", "callbacks.metrics.scores.kid.subsets=5", "callbacks.metrics.scores.is.splits=2",
]


def train(run_dir: Path, *overrides: str):
    return run_script("train.py", *TINY, f"hydra.run.dir={run_dir}", *overrides)


def scalars(run_dir: Path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    return EventAccumulator(str(run_dir / "tensorboard")).Reload()


def hparams_columns(events) -> list[str]:
    from tensorboard.plugins.hparams import plugin_data_pb2

    for content in events.PluginTagToContent("hparams").values():
        data = plugin_data_pb2.HParamsPluginData.FromString(content)
        if data.HasField("experiment"):
            return [info.name.tag for info in data.experiment.metric_infos]
    return []


def test_metrics_run_logs_scores_and_keeps_best(tmp_path):
    run_dir = tmp_path / "run"
    train(run_dir, "iterations=4", "ema=default", "callbacks.sample_grid.every_n=2",
          f"callbacks.metrics.cache_dir={tmp_path / 'cache'}", *METRICS)
    events = scalars(run_dir)
    for tag in ("metrics/fid", "metrics/kid", "metrics/kid_std", "metrics/is", "metrics/is_std", "best/fid"):
        assert [e.step for e in events.Scalars(tag)] == [2, 4], tag
    fids = [e.value for e in events.Scalars("metrics/fid")]
    assert all(np.isfinite(fids)) and events.Scalars("best/fid")[-1].value == min(fids)
    assert [e.step for e in events.Images("interpolation")] == [2, 4]
    assert {"final/fid", "final/kid", "final/is", "final/best_fid"} <= set(hparams_columns(events))
    assert events.Scalars("final/fid")[-1].value == pytest.approx(fids[-1])
    assert events.Scalars("final/best_fid")[-1].value == pytest.approx(min(fids))

    checkpoints = run_dir / "checkpoints"
    assert (checkpoints / "best.ckpt").is_file() and (checkpoints / "last.ckpt").is_file()
    best = torch.load(checkpoints / "best.ckpt", map_location="cpu", weights_only=False)
    assert best["ganlab"]["g_iter"] == [2, 4][int(np.argmin(fids))]
    last = torch.load(checkpoints / "last.ckpt", map_location="cpu", weights_only=False)
    assert any(name.startswith("generator_ema.average.") for name in last["state_dict"])  # the EMA, in the model
    assert list((tmp_path / "cache").glob("digits_1x28x28__n64_seed0__RandomConvFeatures-*.pt"))


@pytest.mark.slow
def test_cache_reuse_ema_choice_interpolation_and_missing_inception_weights(tmp_path):
    cache = f"callbacks.metrics.cache_dir={tmp_path / 'cache'}"
    first = train(tmp_path / "first", "iterations=2", "ema=default", cache, *METRICS)
    assert "computing the features of 64 real images" in first.stdout + first.stderr
    second = train(tmp_path / "second", "iterations=2", cache, *METRICS)
    assert "real-image features read from" in second.stdout + second.stderr

    # sample.py: the EMA by default when the checkpoint has one, the trained weights with weights=trained
    ckpt = tmp_path / "first" / "checkpoints" / "last.ckpt"
    for name, ema in (("default", []), ("ema", ["weights=ema"]), ("raw", ["weights=trained"])):
        run_script("sample.py", f"ckpt_path={ckpt}", "num_samples=8", f"out={tmp_path / name}.npz", *ema)
    x = {name: np.load(tmp_path / f"{name}.npz")["x"] for name in ("default", "ema", "raw")}
    np.testing.assert_array_equal(x["default"], x["ema"])
    assert not np.array_equal(x["ema"], x["raw"])
    strip = tmp_path / "strip.png"
    run_script("sample.py", f"ckpt_path={ckpt}", "mode=interpolate", "interpolation.seeds=[0,1,2,3]",
               "interpolation.steps=10", f"interpolation.out={strip}")
    assert Image.open(strip).size == (10 * 30 + 2, 3 * 30 + 2)  # 3 rows of 10 28x28 images, 2 px padding
    no_ema = tmp_path / "second" / "checkpoints" / "last.ckpt"
    result = run_script("sample.py", f"ckpt_path={no_ema}", "weights=ema", f"out={tmp_path / 'y.npz'}", check=False)
    assert result.returncode == 2 and "holds no EMA" in result.stderr

    # Inception without torch-fidelity or weights (and no network here): fails at start, says how to fix
    result = run_script("train.py", "data=digits", "trainer=cpu", f"hydra.run.dir={tmp_path / 'inception'}",
                        "callbacks/metrics=inception", "callbacks.metrics.feature_network.weights_path=/nowhere.pth",
                        check=False)
    assert result.returncode == 2
    assert "weights_path=/nowhere.pth: no such file" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "inception" / "checkpoints").exists()
