"""bench/trajectory_plot.py: the curves of a trajectory benchmark (mean and standard error over the
trials at each evaluated iteration, grouped by the part of a setting before " / "), the config filter,
and the PNG it writes."""
import math

import pytest

from ganlab.results import load, record
from helpers.scripts import bench_script

trajectory_plot = bench_script("trajectory_plot")


def trajectory(tmp_path):
    """Two trials of ring / GAN and one of grid / PacGAN2 at 30,000 iterations, one run at 4,000."""
    for seed, values in enumerate([(5.0, 7.0), (7.0, 8.0)]):
        for step, value in zip((2000, 4000), values):
            record("t_trajectory", "ring / GAN", "modes", value, seed=seed, budget=step,
                   config={"iterations": 30000}, results_dir=tmp_path)
    record("t_trajectory", "ring / GAN", "reverse_kl", math.nan, seed=0, budget=2000, config={"iterations": 30000},
           results_dir=tmp_path)
    record("t_trajectory", "grid / PacGAN2", "modes", 20.0, seed=0, budget=2000, config={"iterations": 30000},
           results_dir=tmp_path)
    record("t_trajectory", "ring / GAN", "modes", 1.0, seed=0, budget=2000, config={"iterations": 4000},
           results_dir=tmp_path)
    return tmp_path / "t_trajectory.jsonl"


def test_curves_are_the_mean_and_standard_error_over_trials(tmp_path):
    records = [r for r in load([trajectory(tmp_path)]) if trajectory_plot.matches(r, {"iterations": "30000"})]
    panels = trajectory_plot.curves(records, ["modes", "reverse_kl"])
    assert list(panels) == [("modes", "grid"), ("modes", "ring")]  # reverse KL: NaN only, no panel
    ring = panels[("modes", "ring")]["GAN"]
    # at 2,000: 5 and 7, mean 6, sd sqrt(2), s.e. sqrt(2) / sqrt(2) = 1; at 4,000: 7 and 8, s.e. 0.5
    assert ring == [(2000, 6.0, pytest.approx(1.0), 2), (4000, 7.5, pytest.approx(0.5), 2)]
    assert panels[("modes", "grid")] == {"PacGAN2": [(2000, 20.0, 0.0, 1)]}
    assert trajectory_plot.split_setting("BEGAN, lr 5e-4") == ("", "BEGAN, lr 5e-4")


def test_main_writes_a_png_and_names_what_matched_nothing(tmp_path, capsys):
    path = trajectory(tmp_path)
    out = tmp_path / "plots" / "modes.png"
    assert trajectory_plot.main([str(path), "--metrics", "modes", "--where", "iterations=30000", "--out", str(out)]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(SystemExit):
        trajectory_plot.main([str(path), "--metrics", "fid", "--out", str(out)])
    error = capsys.readouterr().err
    assert "has no records of ['fid']" in error and "its metrics: ['modes', 'reverse_kl']" in error
    with pytest.raises(SystemExit):
        trajectory_plot.main([str(path), "--metrics", "modes", "--where", "iterations", "--out", str(out)])
    assert "--where iterations: expected KEY=VALUE" in capsys.readouterr().err
