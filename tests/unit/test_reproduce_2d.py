"""bench/reproduce_2d.py: the runs of PacGAN's Table 1 and the unrolled ring in trial-major order, and
what one finished run writes to results/ (its final figures beside the paper's, its CPU time, its
trajectory)."""
import argparse
import json
import math
import sys
from pathlib import Path

import pytest

from helpers.scripts import bench_script

reproduce_2d = bench_script("reproduce_2d")


def arguments(**kwargs):
    defaults = dict(table_iterations=4000, unrolled_iterations=10000, trials=2, table_every=500, unrolled_every=2000,
                    seeds=None, data=["ring", "grid"], rows=["gan", "pacgan2", "pacgan4"], exclude=[], continue_from=0,
                    runs=Path("outputs/reproduce_2d"))
    return argparse.Namespace(**{**defaults, **kwargs})


def test_jobs_are_trial_major_with_every_row():
    jobs = reproduce_2d.jobs(arguments())
    assert [(j.seed, j.benchmark, j.data, j.row) for j in jobs[:8]] == [
        (0, "unrolled_ring", "ring", "unrolled"), (0, "unrolled_ring", "ring", "gan"),
        (0, "pacgan_table1", "ring", "gan"), (0, "pacgan_table1", "ring", "pacgan2"),
        (0, "pacgan_table1", "ring", "pacgan4"), (0, "pacgan_table1", "grid", "gan"),
        (0, "pacgan_table1", "grid", "pacgan2"), (0, "pacgan_table1", "grid", "pacgan4")]
    assert len(jobs) == 16 and {j.seed for j in jobs[8:]} == {1}
    unrolled, plain = jobs[0], jobs[1]
    assert unrolled.arguments() == ["experiment=unrolled_ring", "seed=0", "iterations=10000",
                                    "callbacks.metrics.every_n=2000", "callbacks.sample_grid.every_n=2000",
                                    "callbacks.checkpoint.every_n=2000"]
    assert plain.arguments()[:2] == ["experiment=unrolled_ring", "unrolled.steps=0"]  # the same budget, no look-ahead
    assert plain.arguments()[2:] == unrolled.arguments()[1:]
    assert unrolled.setting == "ring (Metz networks) / Unrolled GAN (k=10)"
    assert plain.setting == "ring (Metz networks) / GAN"
    assert jobs[2].setting == "ring / GAN" and jobs[7].setting == "grid / PacGAN4"
    assert [j.row for j in reproduce_2d.jobs(arguments(unrolled_iterations=0, trials=1))] == [
        "gan", "pacgan2", "pacgan4"] * 2
    chosen = reproduce_2d.jobs(arguments(unrolled_iterations=0, seeds=[0, 1], data=["grid"], exclude=["gan_seed0"]))
    assert [j.name for j in chosen] == ["pacgan_table1/grid_pacgan2_seed0_4000", "pacgan_table1/grid_pacgan4_seed0_4000",
                                        "pacgan_table1/grid_gan_seed1_4000", "pacgan_table1/grid_pacgan2_seed1_4000",
                                        "pacgan_table1/grid_pacgan4_seed1_4000"]


def test_the_command_trains_the_job_niced(tmp_path):
    import os

    job = reproduce_2d.Job("pacgan_table1", "grid", "pacgan4", 2, 4000, ("callbacks.metrics.every_n=500",))
    command = reproduce_2d.command(job, tmp_path / "run")
    assert command[:3] == ["nice", "-n", str(max(0, 10 - os.nice(0)))] and command[3] == sys.executable
    assert Path(command[4]) == Path(reproduce_2d.__file__).parents[1] / "train.py" and Path(command[4]).is_file()
    assert command[5:] == ["experiment=pacgan_grid", "+pacgan_row=pacgan4", "seed=2", "iterations=4000",
                           "callbacks.metrics.every_n=500", "trainer.enable_progress_bar=false",
                           f"hydra.run.dir={tmp_path / 'run'}"]


def test_paper_figures_per_row():
    grid_pacgan2 = reproduce_2d.Job("pacgan_table1", "grid", "pacgan2", 0, 10, ())
    assert [grid_pacgan2.paper(m) for m in reproduce_2d.METRICS] == [  # Lin et al.: mean +- s.e. of 10 trials
        {"paper": 23.8, "paper_se": 0.7}, {"paper": pytest.approx(0.913), "paper_se": pytest.approx(0.008)},
        {"paper": 0.13, "paper_se": 0.04}]
    unrolled = reproduce_2d.Job("unrolled_ring", "ring", "unrolled", 0, 10, ())
    assert [unrolled.paper(m) for m in reproduce_2d.METRICS] == [{"paper": None, "paper_se": None}] * 3  # pictures only


def test_a_finished_run_writes_its_figures_and_trajectory(tmp_path):
    job = reproduce_2d.Job("pacgan_table1", "ring", "pacgan2", 1, 4000, ("callbacks.metrics.every_n=2000",))
    final = {"final/modes": 7.0, "final/high_quality": 0.81, "final/reverse_kl": 0.1}
    common = dict(seed=1, hardware="cpu (1 thread)", budget=4000, command="python train.py ...", results_dir=tmp_path,
                  config={"pacgan_row": "pacgan2"})
    reproduce_2d.write(job, final, 88.5, {2000: {"modes": 6.0, "high_quality": 0.5, "reverse_kl": math.nan},
                                          4000: {"modes": 7.0, "high_quality": 0.81, "reverse_kl": 0.1}}, common)
    records = [json.loads(line) for line in (tmp_path / "pacgan_table1.jsonl").read_text().splitlines()]
    assert [(r["metric"], r["value"], r["paper"], r["paper_se"]) for r in records] == [
        ("modes", 7.0, 7.9, 0.1), ("high_quality", 0.81, pytest.approx(0.956), pytest.approx(0.02)),
        ("reverse_kl", 0.1, 0.07, 0.03), ("cpu_seconds", 88.5, None, None)]
    assert {(r["setting"], r["seed"], r["budget"]) for r in records} == {("ring / PacGAN2", 1, 4000)}
    steps = [json.loads(line) for line in (tmp_path / "pacgan_table1_trajectory.jsonl").read_text().splitlines()]
    assert [(r["budget"], r["metric"]) for r in steps][:3] == [(2000, "modes"), (2000, "high_quality"),
                                                              (2000, "reverse_kl")]
    assert len(steps) == 6 and steps[-1]["config"]["evaluated_at"] == 4000


def test_a_continued_trial_resumes_its_own_earlier_run():
    jobs = reproduce_2d.jobs(arguments(table_iterations=60000, unrolled_iterations=40000, continue_from=30000,
                                       seeds=[3], data=["grid"], rows=["pacgan2"], runs=Path("runs")))
    assert [(j.name, j.source, j.continues) for j in jobs] == [
        ("unrolled_ring/ring_unrolled_seed3_40000", "unrolled_ring/ring_unrolled_seed3_30000", 30000),
        ("unrolled_ring/ring_gan_seed3_40000", "unrolled_ring/ring_gan_seed3_30000", 30000),
        ("pacgan_table1/grid_pacgan2_seed3_60000", "pacgan_table1/grid_pacgan2_seed3_30000", 30000)]
    assert jobs[2].arguments()[-1] == f"ckpt_path={Path('runs/pacgan_table1/grid_pacgan2_seed3_30000/checkpoints/last.ckpt')}"
    fresh = reproduce_2d.jobs(arguments(unrolled_iterations=0, seeds=[3], data=["grid"], rows=["pacgan2"]))[0]
    assert fresh.source is None and not any(a.startswith("ckpt_path=") for a in fresh.arguments())


def test_continuing_without_the_earlier_runs_checkpoint_is_refused_before_any_run(tmp_path, capsys):
    (tmp_path / "pacgan_table1" / "ring_gan_seed0_4").mkdir(parents=True)
    with pytest.raises(SystemExit) as stop:
        reproduce_2d.main(["--table-iterations", "6", "--continue-from", "4", "--unrolled-iterations", "0",
                           "--data", "ring", "--rows", "gan", "--seeds", "0", "1", "--runs", str(tmp_path),
                           "--results", str(tmp_path / "results")])
    assert stop.value.code == 2
    error = capsys.readouterr().err
    assert "ring_gan_seed0_4/checkpoints/last.ckpt" in error and "2 runs lack" in error
    assert not (tmp_path / "results").exists() and not list((tmp_path / "pacgan_table1").glob("*_6"))
    with pytest.raises(SystemExit):
        reproduce_2d.main(["--table-iterations", "4", "--continue-from", "4", "--unrolled-iterations", "0"])
    assert "must be below the budget" in capsys.readouterr().err


@pytest.mark.slow  # two tiny train.py runs, ~20 s
def test_a_trial_continued_from_its_checkpoint_records_the_whole_trajectory(tmp_path):
    common = ["--unrolled-iterations", "0", "--table-every", "2", "--data", "ring", "--rows", "gan", "--seeds", "0",
              "--workers", "1", "--runs", str(tmp_path / "runs"), "--results", str(tmp_path / "results")]
    assert reproduce_2d.main(["--table-iterations", "4", *common]) == 0
    assert reproduce_2d.main(["--table-iterations", "6", "--continue-from", "4", *common]) == 0
    assert json.loads((tmp_path / "runs" / "pacgan_table1" / "ring_gan_seed0_6" / "metrics.json").read_text())[
        "iterations"] == 6
    records = [json.loads(line) for line in (tmp_path / "results" / "pacgan_table1.jsonl").read_text().splitlines()]
    continued = [r for r in records if r["budget"] == 6]
    assert [r["metric"] for r in continued] == ["modes", "high_quality", "reverse_kl", "cpu_seconds"]
    assert continued[0]["config"]["continues"] == 4 and "continues" not in records[0]["config"]
    assert "ckpt_path=" in continued[0]["command"] and "ring_gan_seed0_4" in continued[0]["command"]
    steps = [json.loads(line) for line in (tmp_path / "results" / "pacgan_table1_trajectory.jsonl").read_text().splitlines()]
    assert sorted({r["budget"] for r in steps if r["config"]["iterations"] == 6}) == [2, 4, 6]
