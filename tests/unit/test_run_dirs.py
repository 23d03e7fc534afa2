"""Run directories are claimed atomically (ganlab.run_dirs): a directory holding a run is never
handed to another one, and runs wanting the same default directory get one each."""
import multiprocessing
from pathlib import Path

from ganlab import run_dirs


def test_a_claimed_directory_cannot_be_claimed_again(tmp_path):
    assert run_dirs.claim(tmp_path / "run")
    assert not run_dirs.claim(tmp_path / "run")
    assert run_dirs.holds_run(tmp_path / "run")


def test_a_taken_default_directory_gets_a_suffix(tmp_path):
    wanted = str(tmp_path / "runs" / "2026-01-01_00-00-00")
    assert run_dirs.claim(wanted)  # another run started in the same second
    assert run_dirs.fresh_dir(wanted) == wanted + "_2"
    assert run_dirs.fresh_dir(wanted) == wanted + "_2"  # the same answer however often Hydra resolves it


def _fresh(wanted: str, queue) -> None:
    queue.put(run_dirs.fresh_dir(wanted))


def test_processes_started_together_get_a_directory_each(tmp_path):
    wanted = str(tmp_path / "runs" / "same_second")
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    processes = [context.Process(target=_fresh, args=(wanted, queue)) for _ in range(4)]
    for p in processes:
        p.start()
    for p in processes:
        p.join(timeout=60)
    got = sorted(queue.get(timeout=5) for _ in processes)
    assert got == sorted([wanted, wanted + "_2", wanted + "_3", wanted + "_4"])


def test_a_named_directory_holding_a_run_is_refused(tmp_path):
    (tmp_path / "old" / "checkpoints").mkdir(parents=True)
    (tmp_path / "old" / "checkpoints" / "last.ckpt").write_bytes(b"x")  # a run from before the claim existed
    assert not run_dirs.claim_named(tmp_path / "old")
    assert run_dirs.claim_named(tmp_path / "new") and run_dirs.claim_named(tmp_path / "new")  # this process's own


def test_the_other_processes_of_a_data_parallel_run_share_its_directory(tmp_path, monkeypatch):
    """Lightning's DDP launcher starts ranks 1.. with LOCAL_RANK set and rank 0's hydra.run.dir."""
    (tmp_path / "run" / ".hydra").mkdir(parents=True)  # claimed by rank 0, another process
    assert not run_dirs.claim_named(tmp_path / "run")
    monkeypatch.setenv("LOCAL_RANK", "1")
    assert run_dirs.claim_named(tmp_path / "run")
    assert run_dirs.fresh_dir(str(tmp_path / "other")) == str(tmp_path / "other")


def test_a_sweep_directory_is_claimed_by_its_multirun_yaml(tmp_path):
    wanted = str(tmp_path / "multiruns" / "T")
    assert run_dirs.fresh_sweep_dir(wanted) == wanted
    assert sorted(p.name for p in Path(wanted).iterdir()) == ["multirun.yaml"]  # no other entry among the jobs
    assert run_dirs.holds_run(wanted) and not run_dirs.claim(wanted, run_dirs.SWEEP_MARKER)
