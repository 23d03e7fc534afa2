"""Resuming through train.py never overwrites or deletes anything of the run it starts from.

One tiny run (4 iterations, checkpoints at 2 and 4); each test resumes its own copy of it and compares
the checksums of every file of that copy before and after. The resumes start together (one per core).
"""
import hashlib
import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[2]
TINY = ["data=digits", "trainer=cpu", "data.batch_size=16", "data.num_workers=0", "data.image_size=28",
        "model.latent_dim=8", "model.generator.width=8", "model.discriminator.width=8",
        "trainer.enable_progress_bar=false", "log_every_n=1", "callbacks.checkpoint.every_n=2",
        "callbacks.sample_grid.every_n=2"]
ENV = {**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1"}
ENV.pop("GANLAB_TRACEBACK", None)


def train(*overrides: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "train.py", *overrides], cwd=REPO, env=ENV, capture_output=True,
                          text=True, timeout=300)


def explain(result: subprocess.CompletedProcess) -> str:
    return f"exit {result.returncode}\n--- stdout\n{result.stdout[-3000:]}\n--- stderr\n{result.stderr[-5000:]}"


def output(result: subprocess.CompletedProcess) -> str:
    return result.stdout + result.stderr  # the log goes to stdout, errors to stderr


def checksums(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def saved(path: Path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=False)


def tensorboard_steps(run_dir: Path, tag: str = "loss/g") -> list[int]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    return sorted(e.step for e in EventAccumulator(str(run_dir / "tensorboard")).Reload().Scalars(tag))


# name -> (checkpoint of the copy to resume from, overrides)
RESUMES = {
    "older": ("iter_0000002.ckpt", ["iterations=6", "optim.discriminator.lr=1e-5"]),
    "other_model": ("last.ckpt", ["model=mlp"]),
    "newest": ("iter_0000004.ckpt", ["iterations=6"]),
    "missing": ("nope.ckpt", []),
}


@pytest.fixture(scope="module")
def resumed(tmp_path_factory):
    """name -> (copy of the original run, its checksums before, the resume's result, tmp directory)."""
    tmp = tmp_path_factory.mktemp("resume")
    original = tmp / "original"
    result = train(*TINY, f"hydra.run.dir={original}", "iterations=4")
    assert result.returncode == 0, explain(result)
    jobs = {}
    for name, (ckpt, overrides) in RESUMES.items():
        copy = tmp / name / "run"
        shutil.copytree(original, copy)
        # paths.log_dir: where a stray run directory would appear
        jobs[name] = (copy, checksums(copy), [f"ckpt_path={copy / 'checkpoints' / ckpt}",
                                              f"paths.log_dir={tmp / name / 'logs'}", *overrides])
    with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as pool:
        results = {name: pool.submit(train, *args) for name, (_, _, args) in jobs.items()}
        return {name: (copy, before, results[name].result(), tmp / name) for name, (copy, before, _) in jobs.items()}


def test_resuming_an_older_checkpoint_branches_and_leaves_the_run_untouched(resumed):
    run, before, result, tmp = resumed["older"]
    assert result.returncode == 0, explain(result)
    assert checksums(run) == before  # every file of the original, byte for byte; nothing added
    [branch] = [p for p in tmp.iterdir() if p.name.startswith("run_branch_iter_0000002_")]
    assert f"resuming: branching a new run {branch} from {run / 'checkpoints' / 'iter_0000002.ckpt'}" in output(result)
    assert sorted(p.name for p in (branch / "checkpoints").iterdir()) == ["iter_0000004.ckpt", "iter_0000006.ckpt",
                                                                          "last.ckpt"]
    assert tensorboard_steps(branch) == [3, 4, 5, 6]  # its own TensorBoard run, from the branching point
    origin = str(run / "checkpoints" / "iter_0000002.ckpt")
    assert f"branched_from: {origin}" in (branch / ".hydra" / "config.yaml").read_text()
    assert f"+branched_from={origin}" in (branch / ".hydra" / "overrides.yaml").read_text()
    last = saved(branch / "checkpoints" / "last.ckpt")
    assert last["ganlab_run"]["config"]["branched_from"] == origin
    assert f"+branched_from={origin}" in last["ganlab_run"]["overrides"]
    assert not (tmp / "logs").exists()  # no stray outputs/runs/<date>_<time>


def test_an_optimiser_override_on_resume_is_applied_and_logged(resumed):
    run, _, result, tmp = resumed["older"]
    [branch] = [p for p in tmp.iterdir() if p.name.startswith("run_branch_")]
    assert "optim.discriminator.lr = 1e-05 as the config says (the checkpoint had 0.0002)" in output(result)
    g_lr, d_lr = [s["param_groups"][0]["lr"] for s in saved(branch / "checkpoints" / "last.ckpt")["optimizer_states"]]
    assert (g_lr, d_lr) == (2e-4, 1e-5)  # what ran, and what the saved config says
    assert saved(branch / "checkpoints" / "last.ckpt")["ganlab_run"]["config"]["optim"]["discriminator"]["lr"] == 1e-5


def test_resuming_with_another_model_is_refused_as_not_fitting(resumed):
    """The run was trained with model.generator.width=8: model=mlp must not end in Hydra's
    "Could not override 'model.generator.width' ... use +model.generator.width=8"."""
    run, before, result, tmp = resumed["other_model"]
    assert result.returncode == 2, explain(result)
    assert result.stderr.count("error: ") == 1 and "does not fit the model this" in output(result), explain(result)
    assert "Could not override" not in output(result) and "Traceback" not in output(result), explain(result)
    after = checksums(run)
    unchanged = {k: v for k, v in after.items() if k != "train.log" and not k.startswith(".hydra/resumed_")}
    assert unchanged == {k: v for k, v in before.items() if k != "train.log"}
    log = (run / "train.log").read_text()  # the refusal is in the run's own log, after what was there
    assert log.startswith((tmp.parent / "original" / "train.log").read_text()) and "does not fit the model" in log
    assert not (tmp / "logs").exists()  # no stray outputs/runs/<date>_<time>


def test_a_missing_checkpoint_is_one_line_and_creates_no_directory(resumed):
    run, before, result, tmp = resumed["missing"]
    assert result.returncode == 2, explain(result)
    assert result.stderr.startswith(f"error: ckpt_path={run / 'checkpoints' / 'nope.ckpt'}: no such file"), explain(result)
    assert checksums(run) == before and not (tmp / "logs").exists()


def test_resuming_the_newest_state_continues_in_place_keeping_every_file(resumed):
    run, before, result, tmp = resumed["newest"]
    assert result.returncode == 0, explain(result)
    assert f"resuming: continuing run {run} in place from iter_0000004.ckpt (generator iteration 4)" in output(result)
    after = checksums(run)
    continued = {"checkpoints/last.ckpt", "metrics.json", "train.log"}  # brought up to date, by design
    assert {k: after[k] for k in before if k not in continued} == {k: v for k, v in before.items() if k not in continued}
    assert set(before) <= set(after)  # nothing deleted
    new = sorted(set(after) - set(before))
    assert [k for k in new if not k.startswith((".hydra/resumed_", "tensorboard/"))] == [
        "checkpoints/iter_0000006.ckpt", "samples/iter_0000006.png"]
    [record] = [run / k for k in new if k.startswith(".hydra/resumed_") and k.endswith("config.yaml")]
    assert "iterations: 6" in record.read_text()  # the continuation's config, next to the run's first one
    assert tensorboard_steps(run) == [1, 2, 3, 4, 5, 6]  # one TensorBoard run, every step once
    assert saved(run / "checkpoints" / "last.ckpt")["ganlab"]["g_iter"] == 6
    assert not (tmp / "logs").exists()


def test_the_console_ends_with_a_summary_and_without_library_noise(resumed):
    run, _, result, _ = resumed["newest"]
    text = output(result)
    assert "💡 Tip" not in text and "LeafSpec" not in text, text  # Lightning's advertising, PyTorch's deprecation
    summary = text[text.index("finished 6 generator iterations"):].splitlines()
    assert summary[0] == f"finished 6 generator iterations; run directory: {run}"
    assert summary[1] == f"  last checkpoint: {run / 'checkpoints' / 'last.ckpt'}"
    assert summary[2].startswith("  final: loss_d=") and "loss_g=" in summary[2]
    assert summary[3] == f"  TensorBoard: tensorboard --logdir {run}"
