"""bench/paper_runs.py: what one finished run writes to results/ (its final figures, CPU time and the
trajectories of the TensorBoard tags asked for), and the reading of those tags."""
import json

import pytest

from helpers.scripts import bench_script

paper_runs = bench_script("paper_runs")


def lines(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_a_run_writes_its_figures_and_trajectories(tmp_path):
    common = dict(seed=2, budget=3000, command="python train.py experiment=mnist_began seed=2", results_dir=tmp_path,
                  hardware="cpu (1 thread)", config={"overrides": ["experiment=mnist_began"]})
    result = {"final/fid": 40.5, "final/class_share_min": 0.07, "iterations": 3000}
    paper_runs.write("began_mnist", "BEGAN", [("final/fid", None), ("final/class_share_min", "0.1")], result, 150.0,
                     {"metrics/fid": [(1000, 90.0), (3000, 40.5)], "began/m_global_window": [(500, 0.2)]}, common)
    records = lines(tmp_path / "began_mnist.jsonl")
    assert [(r["metric"], r["value"], r["paper"]) for r in records] == [
        ("fid", 40.5, None), ("class_share_min", 0.07, 0.1), ("cpu_minutes", 2.5, None)]
    assert {(r["setting"], r["seed"], r["budget"]) for r in records} == {("BEGAN", 2, 3000)}
    steps = lines(tmp_path / "began_mnist_trajectory.jsonl")
    assert [(r["metric"], r["budget"], r["value"], r["config"]["evaluated_at"]) for r in steps] == [
        ("fid", 1000, 90.0, 1000), ("fid", 3000, 40.5, 3000), ("began/m_global_window", 500, 0.2, 500)]
    assert steps[0]["config"]["overrides"] == ["experiment=mnist_began"] and steps[0]["seed"] == 2


@pytest.mark.parametrize("metrics, trajectories, message", [
    ([("final/kid", None)], {}, "no 'final/kid'"),
    ([("final/fid", None)], {"metrics/fid": []}, "no TensorBoard scalar 'metrics/fid'"),
])
def test_nothing_is_written_for_a_missing_figure(tmp_path, metrics, trajectories, message):
    with pytest.raises(ValueError, match=message):
        paper_runs.write("began_mnist", "BEGAN", metrics, {"final/fid": 40.5}, 60.0, trajectories,
                         dict(seed=0, budget=10, command="python train.py", results_dir=tmp_path))
    assert not list(tmp_path.iterdir())


def test_curves_reads_the_tensorboard_scalars(tmp_path):
    from torch.utils.tensorboard import SummaryWriter

    with SummaryWriter(str(tmp_path / "tensorboard")) as writer:
        for step, value in ((500, 0.25), (1000, 0.125)):
            writer.add_scalar("began/m_global_window", value, step)
    assert paper_runs.curves(tmp_path, ["began/m_global_window", "metrics/fid"]) == {
        "began/m_global_window": [(500, 0.25), (1000, 0.125)], "metrics/fid": []}
