"""The throughput benchmark (bench/bench.py) runs end to end on a tiny budget and times what it says."""
import sys
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "bench"))

import bench  # noqa: E402
import lockstep  # noqa: E402

TINY = ["--device", "cpu", "--threads", "1", "--width", "2", "--image-size", "8", "--channels", "1",
        "--batch-sizes", "8", "--num-images", "64", "--segments", "2", "--segment-steps", "4", "--warmup", "1",
        "--precisions", "32-true"]


class Counter:
    """Stands in for (a): records the iterations it is asked to run."""

    def __init__(self):
        self.calls = []

    def run(self, iterations: int) -> None:
        self.calls.append(iterations)


class Module:
    g_iter = 0


def test_lockstep_alternates_equal_segments_after_the_warmup():
    plain, module = Counter(), Module()
    timer = lockstep.Lockstep(plain.run, warmup=2, every_n=3, segments=4, device=torch.device("cpu"))
    assert timer.iterations == 2 + 4 * 3
    for g_iter in range(1, timer.iterations + 1):
        module.g_iter = g_iter
        timer.on_train_batch_end(None, module, None, None, g_iter - 1)
    assert plain.calls == [2, 3, 3, 3, 3]  # (a)'s warm-up, then a segment before each of (b)'s
    assert len(timer.plain_seconds) == len(timer.ganlab_seconds) == 4
    assert all(t >= 0 for t in timer.plain_seconds + timer.ganlab_seconds)


@pytest.mark.parametrize("side", ["ganlab", "lightning", "lightning-raw"])
def test_bench_prints_one_row_per_setting(capsys, side):
    bench.main([*TINY, "--b", side, "--cases", "dcgan", "wgan_gp", "--data", "resident", "loader"])
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| dcgan") or
            line.startswith("| wgan_gp")]
    assert len(rows) == 4
    for row in rows:
        cells = [c.strip() for c in row.strip("|").split("|")]
        a_rate, b_rate = float(cells[4]), float(cells[5])
        ratio = float(cells[6].split("**")[1])
        assert a_rate > 0 and b_rate > 0
        assert ratio == pytest.approx(b_rate / a_rate, rel=0.02)  # b/a: (a)'s time over (b)'s, same iterations
