"""`make quality` end to end on a tiny budget: a Hydra multirun scored by the classifier metric on
a tiny fake MNIST (with a test split), then the markdown table of bench/quality_table.py."""
import os
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
TINY = ("model.latent_dim=8 model.generator.width=8 model.discriminator.width=8 data.batch_size=16 "
        "callbacks.metrics.num_samples=40 callbacks.metrics.batch_size=20 callbacks.metrics.scores.kid.subsets=2 "
        "callbacks.metrics.scores.is.splits=2 callbacks.metrics.feature_network.width=4 "
        "callbacks.metrics.feature_network.feature_dim=8 callbacks.sample_grid.num_samples=4")


def write_idx(path: Path, array: np.ndarray) -> None:
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    path.write_bytes(header + array.astype(np.uint8).tobytes())


def fake_mnist(root: Path) -> None:
    """Train (100) and test (40) 'digits': class c is a bright band at row 2c, plus noise."""
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for prefix, n in (("train", 100), ("t10k", 40)):
        labels = np.arange(n) % 10
        images = rng.integers(0, 60, (n, 28, 28))
        for i, c in enumerate(labels):
            images[i, 2 * c:2 * c + 3] = 255
        write_idx(raw / f"{prefix}-images-idx3-ubyte", images)
        write_idx(raw / f"{prefix}-labels-idx1-ubyte", labels)


@pytest.mark.slow  # two training jobs: about 25 s
@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_make_quality_runs_the_sweep_and_prints_the_table(tmp_path):
    fake_mnist(tmp_path / "data")
    venv = tmp_path / "venv"  # an up-to-date stand-in for .venv: make installs nothing
    venv.mkdir()
    (venv / ".installed").touch()
    sweep = tmp_path / "sweep"
    env = {**os.environ, "GANLAB_CACHE_DIR": str(tmp_path / "cache"), "PYTHONUNBUFFERED": "1"}
    result = subprocess.run(
        ["make", "--no-print-directory", "quality", f"VENV={venv}", f"PY={sys.executable}",
         f"DATA_ROOT={tmp_path / 'data'}", "QUALITY_LOSSES=gan", "QUALITY_CONDITIONING=none,acgan",
         "QUALITY_SEEDS=0", "QUALITY_ITERATIONS=2", f"QUALITY_DIR={sweep}", f"QUALITY_ARGS={TINY}"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-5000:]
    table = result.stdout
    assert "2 completed jobs, 0 failed; generator iterations: 2" in table
    assert "classifier accuracy on held-out images:" in table and "real-data floor" in table
    assert "| loss | conditioning | seeds | classifier FID | IS | class accuracy |" in table
    rows = [line for line in table.splitlines() if line.startswith("| gan |")]
    assert len(rows) == 2
    unconditional, acgan = sorted(rows, key=lambda line: "none" in line)[::-1]
    assert "| none | 1 |" in unconditional and "| acgan | 1 |" in acgan
    assert acgan.split("|")[6].strip() != "-" and unconditional.split("|")[6].strip() == "-"  # class accuracy
    # jobs run in the sweep's order (conditioning=none, then acgan); their directories are named by it
    first, second = (sweep / f"conditioning={c}" / "train.log" for c in ("none", "acgan"))
    assert "classifier trained on 100 mnist_1x28x28 images" in first.read_text()
    assert "the MNIST test split (40 images)" in first.read_text()
    assert "classifier read from" in second.read_text()  # the second job reuses the first one's classifier
