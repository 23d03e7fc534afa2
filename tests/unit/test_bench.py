"""The throughput benchmark (bench/bench.py) runs end to end on a tiny budget and times what it says."""
import json
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


def cells(row: str) -> list[str]:
    return [c.strip() for c in row.strip("|").split("|")]


def table_rows(output: str, cases=("dcgan", "wgan_gp", "pacgan")) -> list[str]:
    return [line for line in output.splitlines() if any(line.startswith(f"| {case} |") for case in cases)]


@pytest.mark.parametrize("side", ["ganlab", "lightning", "lightning-raw"])
def test_bench_prints_one_row_per_setting(capsys, side):
    bench.main([*TINY, "--b", side, "--cases", "dcgan", "wgan_gp", "--data", "resident", "loader"])
    output = capsys.readouterr().out
    rows = table_rows(output)
    assert len(rows) == 4
    for row in rows:
        row_cells = cells(row)
        assert row_cells[4] == side
        a_rate, b_rate = float(row_cells[5]), float(row_cells[6])
        ratio = float(row_cells[7].split("**")[1])
        assert a_rate > 0 and b_rate > 0
        assert ratio == pytest.approx(b_rate / a_rate, rel=0.02)  # b/a: (a)'s time over (b)'s, same iterations
    assert "over the minimal LightningModule" not in output  # the ratio table needs both sides


def test_both_sides_in_one_run_give_their_ratio_and_records(capsys, tmp_path):
    raw = tmp_path / "rows.jsonl"
    bench.main([*TINY, "--b", "ganlab", "lightning", "--cases", "dcgan", "pacgan", "--data", "resident",
                "--record", "bench_test", "--results-dir", str(tmp_path), "--json", str(raw)])
    output = capsys.readouterr().out
    detail, summary = output.split("over the minimal LightningModule")
    rows = table_rows(detail)
    assert [(cells(r)[0], cells(r)[2], cells(r)[4]) for r in rows] == [
        ("dcgan", "8", "ganlab"), ("dcgan", "8", "lightning"),
        ("pacgan", "100", "ganlab"), ("pacgan", "100", "lightning")]  # PacGAN at its own batch size
    raw_rows = [json.loads(line) for line in raw.read_text().splitlines()]  # the rows' unrounded figures
    assert [(r["case"], r["side"]) for r in raw_rows] == [(cells(r)[0], cells(r)[4]) for r in rows]
    b_over_a = {(r["case"], r["side"]): r["ratio"] for r in raw_rows}
    ratios = table_rows(summary)
    assert len(ratios) == 2
    for row in ratios:
        case = cells(row)[0]
        ratio = float(cells(row)[6].split("**")[1])
        assert ratio == pytest.approx(b_over_a[case, "ganlab"] / b_over_a[case, "lightning"], abs=0.0006)
    records = [json.loads(line) for line in (tmp_path / "bench_test.jsonl").read_text().splitlines()]
    assert {r["metric"] for r in records} == {"b/a ganlab", "b/a minimal LightningModule", "(a) it/s",
                                              "(b) it/s ganlab", "(b) it/s minimal LightningModule",
                                              "ganlab / minimal LightningModule"}
    assert all(r["hardware"] == "cpu (1 thread)" and "--b ganlab lightning" in r["command"] for r in records)
    assert {r["setting"] for r in records} == {"dcgan / 32-true / batch 8 / resident",
                                               "pacgan / 32-true / batch 100 / resident"}
    for r in records:
        if r["metric"] == "ganlab / minimal LightningModule":
            case = r["setting"].split(" / ")[0]
            assert r["value"] == pytest.approx(b_over_a[case, "ganlab"] / b_over_a[case, "lightning"])
        if r["metric"].startswith("b/a"):
            assert r["value"] == b_over_a[r["setting"].split(" / ")[0], r["config"]["side"]]
            assert len(r["config"]["quartiles"]) == 2
