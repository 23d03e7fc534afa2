"""ganlab.results and ganlab.results_pages: records, their aggregation over seeds, the generated pages
and turning finished runs (a run directory, a sweep's summary.csv) into records."""
import csv
import json
import math
import statistics

import pytest

from ganlab.results import Record, load, record
from ganlab.results_pages import EACH_TRIAL_UP_TO, ResultsError, add, aggregate, commands_of, format_by_seed, format_value, main, mean_sd, render, stale_pages


def test_mean_sd_known_values():
    mean, sd = mean_sd([2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0])
    assert mean == 5.0
    assert sd == pytest.approx(math.sqrt(32 / 7))  # sample sd (n - 1), not the population's 2.0
    assert mean_sd([1.647, 1.545, 1.557, 1.818, 1.938]) == (pytest.approx(1.701), pytest.approx(0.17164, abs=5e-6))
    assert mean_sd([3.5]) == (3.5, None)
    with pytest.raises(ValueError):
        mean_sd([])


def test_format_value():
    assert format_value(1.701, 0.16999) == "1.70 +- 0.17"
    assert format_value(0.9898, 0.0018) == "0.9898 +- 0.0018"
    assert format_value(194.4, 22.6) == "194 +- 23"
    assert format_value(19.87, 2.62) == "19.9 +- 2.6"
    assert format_value(0.507) == "0.507"
    assert format_value(float("nan")) == "n/a"


def test_aggregate_groups_by_setting_metric_budget(tmp_path):
    for seed, value in enumerate([1.0, 2.0, 4.0]):
        record("b", "s", "fid", value, seed=seed, budget=100, command=f"python train.py seed={seed}", paper=3.0,
               hardware="cpu (1 thread)", date=f"2026-01-0{seed + 1}", results_dir=tmp_path)
    record("b", "s", "fid", 9.0, seed=0, budget=200, results_dir=tmp_path, hardware="x", date="2026-02-01")
    record("b", "s", "fid", 5.0, sd=0.5, n=10, budget=300, results_dir=tmp_path)  # a reported mean +- sd of 10
    rows = aggregate(load([tmp_path]))
    assert [(r.budget, r.n) for r in rows] == [(100, 3), (200, 1), (300, 10)]
    first = rows[0]
    assert first.mean == pytest.approx(7 / 3) and first.sd == pytest.approx(statistics.stdev([1.0, 2.0, 4.0]))
    assert first.paper == 3.0 and first.hardware == ("cpu (1 thread)",)
    assert first.dates == ("2026-01-01", "2026-01-02", "2026-01-03")
    assert commands_of(rows[:1]) == ["python train.py seed=S"]
    assert rows[1].sd is None and rows[2].mean == 5.0 and rows[2].sd == 0.5


def test_commands_that_continue_their_own_seeds_checkpoint_are_shown_once(tmp_path):
    for seed in (0, 1):
        record("b", "s", "acc", 0.5, seed=seed, budget=100, results_dir=tmp_path,
               command=f"python train.py ckpt_path=outputs/b/s/seed{seed}/checkpoints/last.ckpt seed={seed}")
    record("b", "s", "acc", 0.5, seed=2, budget=100, results_dir=tmp_path,  # another seed's checkpoint stays as it is
           command="python train.py ckpt_path=outputs/b/s/seed0/checkpoints/last.ckpt seed=2")
    assert commands_of(aggregate(load([tmp_path]))) == [
        "python train.py ckpt_path=outputs/b/s/seedS/checkpoints/last.ckpt seed=S",
        "python train.py ckpt_path=outputs/b/s/seed0/checkpoints/last.ckpt seed=S"]


def test_a_seed_inside_a_run_folders_name_is_shown_once(tmp_path):
    for seed in (1, 11):  # seed 1 must not take seed 11's folder for its own
        record("b", "s", "acc", 0.5, seed=seed, budget=100, results_dir=tmp_path,
               command=f"python train.py ckpt_path=runs/grid_gan_seed{seed}_30000/last.ckpt seed={seed}")
    record("b", "s", "acc", 0.5, seed=1, budget=200, results_dir=tmp_path,
           command="python train.py ckpt_path=runs/grid_gan_seed11_30000/last.ckpt seed=1")
    assert commands_of(aggregate(load([tmp_path]))) == [
        "python train.py ckpt_path=runs/grid_gan_seedS_30000/last.ckpt seed=S",
        "python train.py ckpt_path=runs/grid_gan_seed11_30000/last.ckpt seed=S"]


def test_a_nan_figure_counts_in_no_mean(tmp_path):
    for seed, value in enumerate([0.2, math.nan, 0.4]):
        record("b", "s", "reverse_kl", value, seed=seed, budget=100, results_dir=tmp_path)
    for seed in range(2):
        record("b", "s", "reverse_kl", math.nan, seed=seed, budget=200, results_dir=tmp_path)
    some, none = aggregate(load([tmp_path]))
    assert (some.mean, some.n) == (pytest.approx(0.3), 2) and some.sd == pytest.approx(math.sqrt(0.02))
    assert math.isnan(none.mean) and none.sd is None and none.n == 2 and format_value(none.mean, none.sd) == "n/a"


def test_pages_show_rows_and_papers(tmp_path):
    results = tmp_path / "results"
    record("toy", "ring / GAN", "modes", 6.0, seed=0, budget=10, paper=6.3, command="python train.py seed=0",
           results_dir=results)
    record("toy", "ring / GAN", "modes", 8.0, seed=1, budget=10, paper=6.3, command="python train.py seed=1",
           results_dir=results)
    record("toy", "ring / GAN", "cpu_minutes", 1.5, seed=0, budget=10, results_dir=results)
    (results / "toy.md").write_text("# A toy benchmark\n\nWhat it measures.\n")
    pages = render(results)
    assert "## A toy benchmark" in pages["results.md"] and "What it measures." in pages["results.md"]
    assert "| ring / GAN | modes | 7.0 +- 1.4 | 2 | 10 | 6.3 |" in pages["results.md"]
    assert "python train.py seed=S" in pages["results.md"]
    assert "| ring / GAN | modes | 6.3 | 7.0 +- 1.4 | 1 | 2 | 10 |" in pages["reproductions.md"]  # s.e. 1.414 / sqrt(2)
    assert "| ring / GAN | cpu_minutes | - | 1.5 | - | 1 | 10 |" in pages["reproductions.md"]  # the paper gives none
    docs = tmp_path / "docs"
    assert main(["render", "--results", str(results), "--docs", str(docs)]) == 0
    assert stale_pages(results, docs) == []
    record("toy", "ring / GAN", "modes", 9.0, seed=2, budget=10, results_dir=results)
    assert main(["render", "--check", "--results", str(results), "--docs", str(docs)]) == 1


def test_reproductions_show_standard_errors_and_the_largest_budget_first(tmp_path):
    results = tmp_path / "results"
    record("toy", "ring / GAN", "modes", 5.0, seed=0, budget=200, paper=6.3, paper_se=0.5, hardware="cpu",
           results_dir=results)
    for seed, value in enumerate([6.0, 7.0, 8.0, 7.0]):
        record("toy", "ring / GAN", "modes", value, seed=seed, budget=30000, paper=6.3, paper_se=0.5, hardware="cpu",
               results_dir=results)
    record("toy", "ring / GAN", "reverse_kl", 0.4, seed=0, budget=30000, paper=0.45, hardware="cpu",
           results_dir=results)
    page = render(results)["reproductions.md"]
    table = [line for line in page.splitlines() if line.startswith("| ring / GAN")]
    # sd of 6, 7, 8, 7 is 0.8165; its standard error 0.8165 / sqrt(4) = 0.41; a paper figure without one stays bare
    assert table == ["| ring / GAN | modes | 6.3 +- 0.5 | 7.00 +- 0.82 | 0.41 | 4 | 30,000 | cpu | 0: 6, 1: 7, 2: 8, 3: 7 |",
                     "| ring / GAN | reverse_kl | 0.45 | 0.4 | - | 1 | 30,000 | cpu | - |",
                     "| ring / GAN | modes | 6.3 +- 0.5 | 5 | - | 1 | 200 | cpu | - |"]
    assert "| ring / GAN | modes | 7.00 +- 0.82 | 4 | 30,000 | 6.3 +- 0.5 |" in render(results)["results.md"]


def test_a_benchmark_reproduces_a_paper_with_a_figure_or_a_reproduces_line(tmp_path):
    results = tmp_path / "results"
    for benchmark in ("pictures", "speed"):
        record(benchmark, "ring / GAN", "modes", 8.0, seed=0, budget=10, results_dir=results)
    (results / "pictures.md").write_text("# Pictures only\n\nReproduces: Figure 1 of a paper (no numbers).\n")
    (results / "speed.md").write_text("# Speed\n\nganlab's own throughput.\n")
    page = render(results)["reproductions.md"]
    assert "## Pictures only" in page and "| ring / GAN | modes | - | 8 | - | 1 | 10 |" in page
    assert "## Speed" not in page and "- [Speed](results.md#speed)" in page


def test_reproductions_show_each_trials_figure_in_seed_order(tmp_path):
    results = tmp_path / "results"
    for seed, value in [(4, 0.8123), (0, 0.96), (2, math.nan), (1, 1234.5)]:
        record("toy", "mnist / InfoGAN", "accuracy", value, seed=seed, budget=5000, paper=0.95, hardware="cpu",
               results_dir=results)
    record("toy", "mnist / InfoGAN", "accuracy", 0.9, sd=0.01, n=10, budget=100, paper=0.95, results_dir=results)
    for seed in range(EACH_TRIAL_UP_TO + 1):
        record("toy", "mnist / InfoGAN", "accuracy", 0.5, seed=seed, budget=10, paper=0.95, results_dir=results)
    rows = {row.budget: row for row in aggregate(load([results]))}
    assert format_by_seed(rows[5000]) == "0: 0.96, 1: 1234, 2: n/a, 4: 0.812"
    assert format_by_seed(rows[100]) == "-" and format_by_seed(rows[10]) == "-"  # a summary; too many trials
    assert "| 3 | 5,000 | cpu | 0: 0.96, 1: 1234, 2: n/a, 4: 0.812 |" in render(results)["reproductions.md"]


def test_load_names_a_bad_line(tmp_path):
    (tmp_path / "bad.jsonl").write_text('{"benchmark": "b"}\n')
    with pytest.raises(ValueError, match="bad.jsonl:1"):
        load([tmp_path])


def _fake_run(run_dir, overrides, metrics):
    (run_dir / ".hydra").mkdir(parents=True)
    (run_dir / ".hydra" / "overrides.yaml").write_text("".join(f"- {o}\n" for o in overrides))
    (run_dir / "metrics.json").write_text(json.dumps(metrics))


def test_add_a_run_directory(tmp_path):
    run = tmp_path / "run"
    _fake_run(run, ["experiment=mnist_fast", "seed=2"],
              {"iterations": 8000, "final/loss_d": 1.0, "final/fid": 6.2, "final/is": 6.5})
    added = add(run, "presets", "mnist_fast", paper={"fid": 5.0}, hardware="cpu (1 thread)",
                results_dir=tmp_path / "results")
    assert [(r.metric, r.value, r.seed, r.budget, r.paper) for r in added] == [
        ("fid", 6.2, 2, 8000, 5.0), ("is", 6.5, 2, 8000, None)]  # losses left out unless asked for
    assert added[0].command == "python train.py experiment=mnist_fast seed=2"
    assert load([tmp_path / "results"]) == added
    with pytest.raises(ResultsError, match="kid"):
        add(run, "presets", "x", metrics=["kid"], results_dir=tmp_path / "results")


def test_add_a_sweep_summary(tmp_path):
    summary = tmp_path / "summary.csv"
    with summary.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["job", "status", "varied", "iterations", "final/fid", "overrides",
                                               "error", "directory"])
        writer.writeheader()
        writer.writerow({"job": 0, "status": "completed", "iterations": 50, "final/fid": 3.0,
                         "overrides": "loss=gan seed=0", "directory": str(tmp_path / "0")})
        writer.writerow({"job": 1, "status": "failed", "overrides": "loss=hinge seed=0", "error": "diverged"})
        writer.writerow({"job": 2, "status": "completed", "iterations": 50, "final/fid": 5.0,
                         "overrides": "loss=gan seed=1", "directory": str(tmp_path / "2")})
    added = add(summary, "grid", "{loss}", results_dir=tmp_path / "results", hardware="cpu (1 thread)")
    assert [(r.setting, r.seed, r.value) for r in added] == [("gan", 0, 3.0), ("gan", 1, 5.0)]
    (row,) = aggregate(added)
    assert (row.mean, row.n) == (4.0, 2) and row.sd == pytest.approx(math.sqrt(2))
    with pytest.raises(ResultsError, match="conditioning"):
        add(summary, "grid", "{conditioning}", results_dir=tmp_path / "results")
    assert len(load([tmp_path / "results"])) == 2  # nothing written by the refused call
    assert main(["add", str(tmp_path / "missing"), "--benchmark", "b", "--setting", "s"]) == 2


def test_records_round_trip(tmp_path):
    entry = record("b", "s", "m", 1, seed=0, config={"a": 1}, results_dir=tmp_path)
    assert isinstance(entry, Record) and entry.value == 1.0 and entry.version and entry.date and entry.hardware
    assert load([tmp_path / "b.jsonl"]) == [entry]
