"""bench/quality_table.py: a sweep summary -> the markdown table of `make quality` (mean +- std
over seeds per loss x conditioning, wall time from the job's files, failed jobs listed)."""
import csv
import os

from helpers.scripts import bench_script

quality_table = bench_script("quality_table")


def job(tmp_path, number, overrides, status="completed", seconds=10.0, **metrics):
    directory = tmp_path / str(number)
    (directory / ".hydra").mkdir(parents=True)
    (directory / ".hydra" / "config.yaml").write_text("{}")
    (directory / "metrics.json").write_text("{}")
    os.utime(directory / ".hydra" / "config.yaml", (1000.0, 1000.0))
    os.utime(directory / "metrics.json", (1000.0 + seconds, 1000.0 + seconds))
    return {"job": str(number), "status": status, "overrides": overrides, "directory": str(directory),
            "iterations": "500", **{f"final/{k}": str(v) for k, v in metrics.items()}}


def test_the_table_averages_seeds_per_loss_and_conditioning(tmp_path, capsys):
    common = dict(classifier_accuracy=0.98, fid_floor=0.3, is_real=9.2)
    rows = [
        job(tmp_path, 0, "loss=gan conditioning=none seed=0", fid=10.0, **{"is": 5.0}, class_share_min=0.05,
            seconds=20, **common),
        job(tmp_path, 1, "loss=gan conditioning=none seed=1", fid=14.0, **{"is": 7.0}, class_share_min=0.07,
            seconds=40, **common),
        job(tmp_path, 2, "loss=gan conditioning=acgan seed=0", fid=3.0, **{"is": 9.0}, class_accuracy=0.99,
            class_share_min=0.09, seconds=30, **common),
        {"job": "3", "status": "failed", "overrides": "loss=hinge conditioning=none seed=0",
         "error": "DivergenceError: NaN in loss/d", "directory": str(tmp_path / "3")},
    ]
    summary = tmp_path / "summary.csv"
    with summary.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(dict.fromkeys(k for row in rows for k in row)))
        writer.writeheader()
        writer.writerows(rows)
    assert quality_table.main([str(tmp_path)]) == 0  # the sweep directory works as well as the csv
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "3 completed jobs, 1 failed; generator iterations: 500"
    assert "classifier accuracy on held-out images: 0.9800 ± 0.0000" in lines[1]
    assert "real-data floor (classifier FID of held-out against training images): 0.30 ± 0.00" in lines[1]
    table = [line for line in lines if line.startswith("| gan")]
    # mean ± sample standard deviation over the seeds; one seed: the value; no class accuracy unconditionally
    assert table == ["| gan | acgan | 1 | 3.0 | 9.00 | 0.990 | 0.090 | 30 |",
                     "| gan | none | 2 | 12.0 ± 2.8 | 6.00 ± 1.41 | - | 0.060 ± 0.014 | 30 ± 14 |"]
    assert any("failed: job 3 (loss=hinge conditioning=none seed=0): DivergenceError" in line for line in lines)


def test_several_sweeps_make_one_table(tmp_path, capsys):
    for name, seed, fid in (("a", 0, 10.0), ("b", 1, 20.0)):
        sweep = tmp_path / name
        row = job(sweep, 0, f"loss=gan conditioning=none seed={seed}", fid=fid)
        with (sweep / "summary.csv").open("w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(row))
            writer.writeheader()
            writer.writerow(row)
    assert quality_table.main([str(tmp_path / "a"), str(tmp_path / "b" / "summary.csv")]) == 0
    assert "| gan | none | 2 | 15.0 ± 7.1 |" in capsys.readouterr().out


def test_a_missing_summary_is_one_clear_error(tmp_path, capsys):
    assert quality_table.main([str(tmp_path / "nowhere.csv")]) == 2
    assert "give the summary.csv of a finished `train.py -m` sweep" in capsys.readouterr().err
