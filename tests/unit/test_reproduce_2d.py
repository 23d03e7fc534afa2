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
                    seeds=None, data=["ring", "grid"], rows=["gan", "pacgan2", "pacgan4"], exclude=[])
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
