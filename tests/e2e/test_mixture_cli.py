"""A 2-D mixture run through train.py, as a user runs it: PacGAN's networks on data=ring with the
mode measures, packing, the unrolled loss and the minibatch std feature; metrics.json and TensorBoard
get final/modes, final/high_quality and final/reverse_kl, and the sample picture is written; sample.py
writes the points (npz `x` of shape (N, 2)) and their picture. The run's time-lapse GIF holds one
frame per picture and survives a resume: the continued run writes a new GIF with the earlier frames
and leaves the first one as it was."""
import json
import math

import numpy as np
import pytest
from PIL import Image

from .test_train_cli import run_script

SMALL = ["trainer=cpu", "++trainer.enable_progress_bar=false", "data.size=1000", "log_every_n=1",
         "model.generator.hidden=[16,16]", "model.discriminator.hidden=[16,16]", "model.discriminator.pieces=2"]


@pytest.mark.slow  # ~20 s; in the default tier: tests/unit/test_mixtures.py and the presets' tiny runs
def test_ring_with_pacgan_writes_the_mode_measures_and_the_picture(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    run_dir = tmp_path / "run"
    options = ["data=ring", "model=pacgan", "callbacks/metrics=modes", "callbacks.metrics.every_n=2",
               "callbacks.metrics.num_samples=500", "callbacks.sample_grid.every_n=2",
               "callbacks.sample_grid.num_samples=200", "packing=pacgan", "packing.samples=2",
               "data.batch_size=8", "unrolled=default", "unrolled.steps=1", "model.discriminator.minibatch_std=2",
               f"hydra.run.dir={run_dir}", *SMALL]
    run_script("train.py", "iterations=4", *options)
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["iterations"] == 4
    assert 0 <= metrics["final/modes"] <= 8 and 0 <= metrics["final/high_quality"] <= 1
    assert math.isnan(metrics["final/reverse_kl"]) or 0 <= metrics["final/reverse_kl"] <= math.log(8) + 1e-9
    assert sorted(p.name for p in (run_dir / "samples").iterdir()) == [
        "iter_0000002.png", "iter_0000004.png", "timelapse_0000004.gif"]
    first_gif = (run_dir / "samples" / "timelapse_0000004.gif").read_bytes()
    with Image.open(run_dir / "samples" / "timelapse_0000004.gif") as gif:
        assert gif.n_frames == 2 and gif.size == (960, 400)

    events = EventAccumulator(str(run_dir / "tensorboard")).Reload()
    for tag in ("metrics/modes", "metrics/high_quality", "metrics/reverse_kl"):
        assert [e.step for e in events.Scalars(tag)] == [2, 4], tag
    assert [e.step for e in events.Images("samples")] == [2, 4]
    picture = events.Images("samples")[-1]
    assert (picture.width, picture.height) == (960, 400)
    assert events.Scalars("final/modes")[-1].value == metrics["final/modes"]

    run_script("train.py", "iterations=6", f"ckpt_path={run_dir / 'checkpoints' / 'last.ckpt'}", *options)
    assert (run_dir / "samples" / "timelapse_0000004.gif").read_bytes() == first_gif
    with Image.open(run_dir / "samples" / "timelapse_0000006.gif") as gif:
        assert gif.n_frames == 3
    assert [e.step for e in EventAccumulator(str(run_dir / "tensorboard")).Reload().Images("samples")] == [2, 4, 6]

    out = tmp_path / "points.npz"
    run_script("sample.py", f"ckpt_path={run_dir / 'checkpoints' / 'last.ckpt'}", "num_samples=300", f"out={out}")
    x = np.load(out)["x"]
    assert x.shape == (300, 2) and x.dtype == np.float32 and np.isfinite(x).all()
    assert Image.open(tmp_path / "points_grid.png").size == (960, 400)
